"""What the campaign engine tells of a campaign, as typed events: the campaign's counterpart of
``workflow.events`` (whose events are a plan's, each with the plan's snapshot).

Every event carries the campaign as it was right after its change (``CampaignView``), written to the outbox
of domain events in the transaction of that change (``workflow.campaign_outbox``), so the card drawn from it
(``handlers.delivery.campaign_drawing``) says what was true then, in any process, after any restart.

    CampaignEvent
    ├── CampaignCreated, CampaignApproved
    ├── WaveStarted, WaveDone, SoakChecked
    ├── CampaignHalted, CampaignResumed, DmsSkipped, CampaignAborted, CampaignDone
    └── CampaignChanged            (a DMS's plan made, approved, ended: the card only)

Their messages live by campaign, not by plan: the Slack outbox's rows name the campaign in their role
(``campaign_role``), as a plan's rows name their plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# At run time: the event codec reads the annotations.
from workflow.model.campaign import CampaignPlan
from workflow.model.campaign_view import CampaignView

CARD = "card"  # the campaign card's role among the campaign's messages
_PREFIX = "campaign:"


def campaign_role(campaign_id: int) -> str:
    """The role of a Slack outbox row about a campaign (a row has a plan id or none, no campaign id)."""
    return f"{_PREFIX}{campaign_id}"


def campaign_of(role: str | None) -> int | None:
    """The campaign a Slack outbox row's role names, or None for a plan's role."""
    if role is None or not role.startswith(_PREFIX) or not role[len(_PREFIX):].isdigit():
        return None
    return int(role[len(_PREFIX):])


@dataclass(frozen=True, kw_only=True)
class CampaignEvent:
    campaign_id: int
    view: CampaignView


@dataclass(frozen=True, kw_only=True)
class CampaignCreated(CampaignEvent):
    actor: str
    plan: CampaignPlan | None = None  # what planning found: each DMS's path and estimate, the known issues


@dataclass(frozen=True, kw_only=True)
class CampaignApproved(CampaignEvent):
    actor: str


@dataclass(frozen=True, kw_only=True)
class WaveStarted(CampaignEvent):
    wave: int
    reason: str


@dataclass(frozen=True, kw_only=True)
class WaveDone(CampaignEvent):
    """Every DMS of the wave is upgraded and verified (its plan done) or skipped: the soak starts."""

    wave: int


@dataclass(frozen=True, kw_only=True)
class SoakChecked(CampaignEvent):
    """A soak check that found nothing wrong (a regression is ``CampaignHalted``)."""

    wave: int
    checked: tuple[str, ...]  # the DMSs the bot checked
    last: bool = False  # the soak time has passed: the next wave starts, or the campaign is done


@dataclass(frozen=True, kw_only=True)
class CampaignHalted(CampaignEvent):
    actor: str  # "bot" when the bot halted it on what it found
    reason: str


@dataclass(frozen=True, kw_only=True)
class CampaignResumed(CampaignEvent):
    actor: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class DmsSkipped(CampaignEvent):
    actor: str
    dms: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class WindowMoved(CampaignEvent):
    """A person moved a waiting DMS's window (its plan is made for the new one when its wave starts)."""

    actor: str
    dms: str
    start: datetime
    end: datetime
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class CampaignAborted(CampaignEvent):
    actor: str
    reason: str
    still_upgrading: tuple[str, ...] = ()  # DMSs whose upgrade was running and goes on to its end


@dataclass(frozen=True, kw_only=True)
class CampaignDone(CampaignEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class CampaignChanged(CampaignEvent):
    """Something on the card changed that tells no news of its own (a DMS's plan made, approved, done)."""
