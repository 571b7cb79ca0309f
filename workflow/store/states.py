"""The upgrade plan's state machine (docs/architecture.md): the allowed moves, and the one function that
makes them.

    PLANNED --schedule window--> SCHEDULED --precheck--> PRECHECKED --window opens--> AWAITING_APPROVAL
    --approve--> EXECUTING --> VERIFYING --> DONE
    EXECUTING/VERIFYING --cancel--> CANCELLING --agents settled--> CANCELLED
    any active state --cancel--> CANCELLED; check fails --> BLOCKED (fix, re-run check);
    agent fails --> FAILED; window ends unapproved --> EXPIRED

Every move is one write in the caller's transaction together with its audit row, so either both are
committed or neither is. Terminal states release the DMS's one-active-upgrade lock.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from enum import StrEnum

from sqlalchemy import delete
from sqlmodel import Session, select

from workflow.store import audit
from workflow.store.clock import utc_now
from workflow.store.errors import IllegalTransition, NotFound
from workflow.store.tables import ActiveUpgrade, UpgradePlan


class PlanState(StrEnum):
    PLANNED = "planned"
    SCHEDULED = "scheduled"
    PRECHECKED = "prechecked"
    AWAITING_APPROVAL = "awaiting_approval"
    EXECUTING = "executing"
    # Cancelled while a hop ran: the bot no longer drives anything but watches the agents until they settle
    # (the running hop on the DMS cannot be stopped), then moves on to CANCELLED with where they ended.
    CANCELLING = "cancelling"
    VERIFYING = "verifying"
    DONE = "done"
    CANCELLED = "cancelled"
    BLOCKED = "blocked"
    FAILED = "failed"
    EXPIRED = "expired"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


TERMINAL: frozenset[PlanState] = frozenset(
    {PlanState.DONE, PlanState.CANCELLED, PlanState.FAILED, PlanState.EXPIRED}
)
ACTIVE: frozenset[PlanState] = frozenset(PlanState) - TERMINAL

S = PlanState
ALLOWED: dict[PlanState, frozenset[PlanState]] = {
    S.PLANNED: frozenset({S.SCHEDULED, S.CANCELLED}),
    # A window that closes before the pre-check ever ran still expires the plan.
    S.SCHEDULED: frozenset({S.PRECHECKED, S.BLOCKED, S.CANCELLED, S.EXPIRED}),
    # Back to SCHEDULED when the window moves: the pre-check belongs to the old window.
    S.PRECHECKED: frozenset({S.AWAITING_APPROVAL, S.BLOCKED, S.SCHEDULED, S.CANCELLED, S.EXPIRED}),
    # The window may open while blocked: the approval request is still posted, and only an approver's
    # override (with a reason) lets it execute.
    S.BLOCKED: frozenset({S.PRECHECKED, S.SCHEDULED, S.AWAITING_APPROVAL, S.CANCELLED, S.EXPIRED}),
    S.AWAITING_APPROVAL: frozenset({S.EXECUTING, S.CANCELLED, S.EXPIRED}),
    S.EXECUTING: frozenset({S.VERIFYING, S.FAILED, S.CANCELLING, S.CANCELLED}),
    S.VERIFYING: frozenset({S.DONE, S.FAILED, S.CANCELLING, S.CANCELLED}),
    S.CANCELLING: frozenset({S.CANCELLED}),
    S.DONE: frozenset(),
    S.CANCELLED: frozenset(),
    S.FAILED: frozenset(),
    S.EXPIRED: frozenset(),
}
del S


def allowed(from_state: PlanState, to_state: PlanState) -> bool:
    return to_state in ALLOWED[from_state]


# The largest id a 64-bit INTEGER column holds: a larger one (a button value, a typed number) would make the
# database driver raise OverflowError instead of the plan simply not existing.
MAX_PLAN_ID = 2**63 - 1


def get_plan(session: Session, *, plan_id: int, for_update: bool = False) -> UpgradePlan:
    """The plan, or NotFound. ``for_update`` locks the row on PostgreSQL (SQLite serializes writers)."""
    if not 1 <= plan_id <= MAX_PLAN_ID:
        raise NotFound(f"There is no upgrade plan #{plan_id}")
    statement = select(UpgradePlan).where(UpgradePlan.id == plan_id)
    if for_update:
        statement = statement.with_for_update()
    plan = session.exec(statement).first()
    if plan is None:
        raise NotFound(f"There is no upgrade plan #{plan_id}")
    return plan


def transition(
    session: Session,
    *,
    plan_id: int,
    to: PlanState,
    actor: str,
    reason: str,
    expected_from: Collection[PlanState] | None = None,
    now: datetime | None = None,
) -> UpgradePlan:
    """Move the plan to ``to`` and append the audit row, in the caller's transaction.

    ``expected_from`` narrows the allowed sources (e.g. the expiry job only expires a plan that is still
    waiting for approval); anything outside it, or outside the table, raises IllegalTransition and
    changes nothing.
    """
    plan = get_plan(session, plan_id=plan_id, for_update=True)
    current = PlanState(plan.state)
    target = PlanState(to)
    if expected_from is not None and current not in expected_from:
        expected = ", ".join(sorted(state.value for state in expected_from))
        raise IllegalTransition(
            plan_id=plan_id, from_state=current, to_state=target, detail=f"expected it to be {expected}"
        )
    if not allowed(current, target):
        detail = "it is finished" if current.terminal else ""
        raise IllegalTransition(plan_id=plan_id, from_state=current, to_state=target, detail=detail)
    plan.state = target.value
    plan.updated_at = now or utc_now()
    session.add(plan)
    if target.terminal:
        session.execute(
            delete(ActiveUpgrade).where(
                ActiveUpgrade.dms_name == plan.dms_name,  # type: ignore[arg-type]
                ActiveUpgrade.plan_id == plan_id,  # type: ignore[arg-type]
            )
        )
    audit.record(
        session,
        actor=actor,
        action="transition",
        plan_id=plan_id,
        from_state=current.value,
        to_state=target.value,
        reason=reason,
        now=now,
    )
    session.flush()
    return plan
