"""Who may do what to a plan: one table, checked by the engine for every caller (Slack and the console).

A person holds roles *for one plan*: the **requester** (who typed ``/dm-upgrade plan``), an **approver**
(``UPGRADE_APPROVERS`` / ``UPGRADE_APPROVER_GROUP``) and an **operator** (``UPGRADE_OPERATORS`` /
``UPGRADE_OPERATOR_GROUP``: the people who carry out upgrades without approving them). ``WHO_MAY`` says which
roles may take each action; everyone else is refused with ``NotAuthorized`` and the attempt is audited
(``<action>.refused``), in a transaction of its own so the refusal itself changes nothing.

The approval rules beyond the role (not your own upgrade, inside the window, check passed) stay in
``workflow.approvals``; automatic checklist items are the bot's alone (``workflow.store.checklist``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from sqlmodel import Session

from workflow.approvals import ApproverDirectory
from workflow.model.errors import NotAuthorized
from workflow.store import audit, database
from workflow.store.checklist import Phase
from workflow.store.states import get_plan

log = logging.getLogger(__name__)


class Role(StrEnum):
    REQUESTER = "requester"
    APPROVER = "approver"
    OPERATOR = "operator"


class Action(StrEnum):
    """What a person can do to an existing plan (creating one is open to anyone in the channel)."""

    SET_WINDOW = "window"  # the "Set window" button and the modal's submission
    RUN_CHECK = "check"  # "Run check now" and ``/dm-upgrade check``
    TICK_PREPARATION = "checklist.preparation"  # manual items before the upgrade ("Backup taken", ...)
    CUBE_STEP = "cube"  # watch driver: "Done in Cube" for the step the bot asked for
    TICK_AFTER = "checklist.after"  # manual items after the upgrade ("Key functionalities checked")
    CANCEL = "cancel"
    APPROVE = "approval"
    REJECT = "rejection"

    @property
    def label(self) -> str:
        return _LABELS[self]


_ALL = frozenset(Role)
# The table. README.md ("Who may do what") shows the same; tests/workflow/test_roles.py holds them equal.
WHO_MAY: dict[Action, frozenset[Role]] = {
    Action.SET_WINDOW: _ALL,
    Action.RUN_CHECK: _ALL,
    Action.TICK_PREPARATION: _ALL,
    Action.CUBE_STEP: _ALL,
    Action.TICK_AFTER: _ALL,
    Action.CANCEL: _ALL,  # stopping is always allowed to those who run the upgrade
    # Four eyes: the requester approves only with ALLOW_SELF_APPROVAL (``workflow.approvals``).
    Action.APPROVE: frozenset({Role.APPROVER}),
    Action.REJECT: frozenset({Role.APPROVER}),
}

_LABELS: dict[Action, str] = {
    Action.SET_WINDOW: "set the window of",
    Action.RUN_CHECK: "run the pre-upgrade check of",
    Action.TICK_PREPARATION: "tick the preparation items of",
    Action.CUBE_STEP: "confirm a step in Cube of",
    Action.TICK_AFTER: "tick the after-upgrade checks of",
    Action.CANCEL: "cancel",
    Action.APPROVE: "approve",
    Action.REJECT: "reject",
}


class MemberDirectory(Protocol):
    """A list of people (user ids and/or a user group), e.g. the operators."""

    async def is_member(self, user_id: str) -> bool: ...


class NoOne:
    """The operators when none are configured."""

    async def is_member(self, user_id: str) -> bool:
        return False


def tick_action(*, key: str, phase: str) -> Action:
    """The kind of checklist item, as the table knows it."""
    return Action.TICK_AFTER if phase == Phase.VERIFY.value else Action.TICK_PREPARATION


def may(action: Action, roles: frozenset[Role]) -> bool:
    return bool(WHO_MAY[action] & roles)


def who_may_text(action: Action) -> str:
    """E.g. "the requester or an upgrade approver (or operator)"."""
    allowed = WHO_MAY[action]
    names = ((Role.REQUESTER, "the requester"), (Role.APPROVER, "an upgrade approver"))
    parts = [name for role, name in names if role in allowed]
    if Role.OPERATOR in allowed:
        if not parts:
            return "an upgrade operator"
        parts[-1] += " (or operator)"
    return " or ".join(parts)


class Permissions:
    """The table applied: ``require`` answers the actor's roles or raises ``NotAuthorized`` (audited)."""

    def __init__(
        self,
        *,
        session: Callable[[], AbstractContextManager[Session]],
        clock: Callable[[], datetime],
        approvers: ApproverDirectory,
        operators: MemberDirectory | None = None,
    ) -> None:
        self._session = session
        self._clock = clock
        self.approvers = approvers
        self.operators: MemberDirectory = operators or NoOne()

    async def roles_of(self, actor: str, *, requester: str) -> frozenset[Role]:
        held: set[Role] = set()
        if actor == requester:
            held.add(Role.REQUESTER)
        if await self.approvers.is_approver(actor):
            held.add(Role.APPROVER)
        if await self.operators.is_member(actor):
            held.add(Role.OPERATOR)
        return frozenset(held)

    async def require(self, *, plan_id: int, action: Action, actor: str) -> frozenset[Role]:
        """The actor's roles on this plan, when the table lets them take ``action``; NotFound first."""
        requester = await database.off_loop(self._requester, plan_id)
        held = await self.roles_of(actor, requester=requester)
        if may(action, held):
            return held
        error = NotAuthorized(f"Only {who_may_text(action)} may {action.label} plan #{plan_id}")
        await database.off_loop(lambda: self.audit_refusal(plan_id=plan_id, action=action, actor=actor,
                                                           error=error, held=held))
        raise error

    def _requester(self, plan_id: int) -> str:
        with self._session() as session:
            return get_plan(session, plan_id=plan_id).requester

    def audit_refusal(self, *, plan_id: int, action: Action, actor: str, error: NotAuthorized,
                      held: frozenset[Role]) -> None:
        try:
            with self._session() as session:
                audit.record(session, actor=actor, action=f"{action.value}.refused", plan_id=plan_id,
                             reason=str(error), now=self._clock(),
                             detail={"error": "NotAuthorized", "roles": sorted(held)})
        except Exception:
            # The caller must still get the refusal itself, not an error about auditing it.
            log.exception("auditing the refused %s of plan #%s failed", action.value, plan_id)
