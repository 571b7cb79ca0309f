"""A campaign's news in the outbox of domain events, and where its Slack messages live.

``CampaignNews.record`` writes a campaign event (``workflow.model.campaign_events``) in the caller's unit of
work, the one of the move or action it tells of: both are committed or neither, as a plan's events are
(``WorkflowContext.record``). Only when the notifier reads the outbox (Slack); otherwise nobody would draw
them. ``wake`` then tells the sender to look now instead of at its next poll.

``CampaignMessages`` is where the Slack sender (``handlers``, which opens no database session) reads and
records where a campaign's card was posted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from workflow.event_codec import encode
from workflow.events import Notifier, reads_outbox
from workflow.model.campaign_events import CampaignEvent
from workflow.model.clock import Clock
from workflow.store import campaigns, database, event_outbox
from workflow.store.message_refs import get_campaign_ref, save_campaign_ref

log = logging.getLogger(__name__)


class CampaignNews:
    """Writes a campaign's events with their change; wakes whoever sends them."""

    def __init__(self, *, notifier: Notifier, clock: Clock, wake: Callable[[], None] | None = None) -> None:
        self._notifier = notifier
        self._clock = clock
        self._wake = wake

    def record(self, session: Session, kind: type[CampaignEvent], campaign_id: int, **fields: Any) -> None:
        """In the caller's unit of work: the event, drawn on the campaign as it is now (after the change)."""
        if not reads_outbox(self._notifier):
            return
        event = kind(campaign_id=campaign_id, view=campaigns.load_view(session, campaign_id=campaign_id),
                     **fields)
        try:
            name, body = encode(event)
        except Exception:  # a bug of ours: the campaign's move must not be lost to it
            log.exception("encoding %s for campaign #%s failed", kind.__name__, campaign_id)
            return
        event_outbox.append(session, plan_id=None, kind=name, body=body, now=self._clock())

    def wake(self) -> None:
        """Something was recorded and committed: the sender looks now (never raises)."""
        if self._wake is None:
            return
        try:
            self._wake()
        except Exception:  # the chat must not break the campaign: the poll finds the rows anyway
            log.exception("waking the Slack sender failed")


class CampaignMessages:
    """Where a campaign's messages live, for the Slack sender; every call is a unit of work off the loop."""

    def __init__(self, db: Engine) -> None:
        self._db = db

    async def get(self, *, campaign_id: int, role: str) -> tuple[str, str] | None:
        """(channel, ts) of the campaign's message in ``role``, or None."""
        def read(session: Session) -> tuple[str, str] | None:
            row = get_campaign_ref(session, campaign_id=campaign_id, role=role)
            return None if row is None else (row.channel, row.ts)

        with database.patience():
            return await database.run_unit(self._db, read)

    async def save(self, *, campaign_id: int, role: str, channel: str, ts: str) -> None:
        with database.patience():
            await database.run_unit(self._db, lambda session: save_campaign_ref(
                session, campaign_id=campaign_id, role=role, channel=channel, ts=ts))
