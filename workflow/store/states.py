"""The one function that moves a plan between states (the states and the rules are ``workflow.model.states``).

Every move is one write in the caller's transaction together with its audit row, so either both are
committed or neither is. Terminal states release the DMS's one-active-upgrade lock.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import delete
from sqlmodel import Session, col, select

from workflow.model.clock import utc_now
from workflow.model.errors import IllegalTransition, NotFound

# Re-exported for the store's own modules; the floors above import them from workflow.model.states.
from workflow.model.states import ACTIVE, ALLOWED, MAX_PLAN_ID, TERMINAL, PlanState, allowed  # noqa: F401
from workflow.store import audit
from workflow.store.tables import ActiveUpgrade, AuditEvent, UpgradePlan

# ``Session.info`` key of the plans this unit of work read (plan id -> row).
_HELD = "dmu.plans"


def get_plan(session: Session, *, plan_id: int, for_update: bool = False) -> UpgradePlan:
    """The plan, or NotFound. ``for_update`` locks the row on PostgreSQL (SQLite serializes writers)."""
    if not 1 <= plan_id <= MAX_PLAN_ID:
        raise NotFound(f"There is no upgrade plan #{plan_id}")
    # SQLite has no row lock to take: every unit holds the write lock from its BEGIN IMMEDIATE.
    if for_update and session.get_bind().dialect.name != "sqlite":
        # populate_existing: the row as locked, not the object this unit read before the lock (it is held,
        # below), which another replica may have moved since: the move must judge the locked state.
        statement = select(UpgradePlan).where(UpgradePlan.id == plan_id).with_for_update()
        plan = session.exec(statement.execution_options(populate_existing=True)).first()
    else:
        # The identity map first: a unit reads its plan five or six times (state, path, snapshot, move),
        # and a SELECT of a row already loaded in this session returns the same object unrefreshed anyway.
        plan = session.get(UpgradePlan, plan_id)
    if plan is None:
        raise NotFound(f"There is no upgrade plan #{plan_id}")
    # Held for the rest of the unit: the identity map keeps only what somebody references, so a plan read,
    # looked at and let go was read again by the next get_plan (three SELECTs of it in a pre-check's outcome).
    session.info.setdefault(_HELD, {})[plan_id] = plan
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


def ending_reason(session: Session, *, plan_id: int) -> str:
    """Why the plan reached the state it is in: the reason its latest transition was audited with ("" when
    it never moved). A campaign names it when one of its DMSs' plans stopped, so the halt says why."""
    row = session.exec(
        select(AuditEvent)
        .where(AuditEvent.plan_id == plan_id, AuditEvent.action == "transition")
        .order_by(col(AuditEvent.id).desc())
        .limit(1)
    ).first()
    return row.reason if row is not None else ""
