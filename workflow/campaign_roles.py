"""Who may do what to a campaign: one table, as ``workflow.roles`` has for a plan, checked by the campaign
engine for every caller (Slack, the console, tests).

The roles are a plan's (``workflow.roles.Role``), held for the campaign: its **requester**, an **approver**
and an **operator**. Approving a campaign is a plan's approval: approvers only, and never one's own campaign
unless ALLOW_SELF_APPROVAL (each DMS's plan is then approved in the approver's name, so the four eyes hold
for every DMS). Stopping (halt, abort) is open to everyone who runs upgrades, as a plan's cancel is.
Resuming past a halt and skipping a DMS change what the approval covered, so they are an approver's.
Every refusal is audited (``campaign.<action>.refused``) in a transaction of its own.
"""

from __future__ import annotations

import logging
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Engine

from workflow.model.clock import Clock
from workflow.model.errors import NotAuthorized
from workflow.roles import Permissions, Role
from workflow.store import campaigns, database

log = logging.getLogger(__name__)


class CampaignAction(StrEnum):
    APPROVE = "approve"
    HALT = "halt"
    RESUME = "resume"
    SKIP = "skip"
    ABORT = "abort"
    MOVE_WINDOW = "move_window"


_ALL = frozenset(Role)
WHO_MAY: dict[CampaignAction, frozenset[Role]] = {
    CampaignAction.APPROVE: frozenset({Role.APPROVER}),
    CampaignAction.HALT: _ALL,
    CampaignAction.RESUME: frozenset({Role.APPROVER}),
    CampaignAction.SKIP: frozenset({Role.APPROVER}),
    CampaignAction.ABORT: _ALL,
    CampaignAction.MOVE_WINDOW: _ALL,  # as a plan's window: the requester, an approver or an operator
}

_VERBS = {CampaignAction.MOVE_WINDOW: "move a window of"}
_WHO: dict[frozenset[Role], str] = {
    frozenset({Role.APPROVER}): "an upgrade approver",
    _ALL: "the requester or an upgrade approver (or operator)",
}


class CampaignPermissions:
    """The table applied, with the roles as ``workflow.roles.Permissions`` finds them."""

    def __init__(self, *, db: Engine, permissions: Permissions, clock: Clock) -> None:
        self._db = db
        self._permissions = permissions
        self._clock = clock

    async def require(self, *, campaign_id: int, action: CampaignAction, actor: str,
                      allow_self_approval: bool = False) -> frozenset[Role]:
        """The actor's roles on the campaign when the table lets them take ``action``; NotFound first."""
        requester = await database.run_unit(
            self._db, lambda session: campaigns.get(session, campaign_id=campaign_id).requester)
        held = await self._permissions.roles_of(actor, requester=requester)
        error: NotAuthorized | None = None
        if not WHO_MAY[action] & held:
            verb = _VERBS.get(action, action.value)
            error = NotAuthorized(f"Only {_WHO[WHO_MAY[action]]} may {verb} campaign #{campaign_id}")
        elif action is CampaignAction.APPROVE and actor == requester and not allow_self_approval:
            error = NotAuthorized(f"You requested campaign #{campaign_id}; another approver must approve it")
        if error is None:
            return held
        await database.off_loop(self._audit_refusal, campaign_id, action, actor, error, held)
        raise error

    def _audit_refusal(self, campaign_id: int, action: CampaignAction, actor: str, error: NotAuthorized,
                       held: frozenset[Role]) -> None:
        now: datetime = self._clock()
        try:
            with database.session(self._db) as session:
                campaigns.record(session, campaign_id=campaign_id, actor=actor,
                                 action=f"{action.value}.refused", reason=str(error), now=now,
                                 detail={"error": "NotAuthorized", "roles": sorted(held)})
        except Exception:
            # The caller must still get the refusal itself, not an error about auditing it.
            log.exception("auditing the refused %s of campaign #%s failed", action.value, campaign_id)
