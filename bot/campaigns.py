"""The campaigns' wiring in the running bot: the campaign engine beside the upgrade engine, its cards and
threads sent through the same Slack outbox as the plans' messages, and the App Home tabs refreshed when a
campaign changes (each tab lists what every campaign waits on)."""

from __future__ import annotations

from bot.settings import Settings
from handlers.delivery.notifier import SlackNotifier
from handlers.listeners.home import HomePublisher
from workflow.campaign_engine import CampaignEngine
from workflow.engine import UpgradeEngine


def campaign_engine(engine: UpgradeEngine, *, settings: Settings, slack: SlackNotifier,
                    home: HomePublisher) -> CampaignEngine:
    """The campaign engine (not started: the runtime starts it after the upgrade engine)."""
    def changed() -> None:
        slack.sender.wake()  # the campaign's events are in the outbox: draw and send them now
        home.refresh_all()

    return CampaignEngine(engine, poll_seconds=settings.campaign_poll_seconds, wake=changed,
                          soak_check_minutes=settings.campaign_soak_check_minutes)
