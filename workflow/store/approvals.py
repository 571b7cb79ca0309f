"""The approval aggregate: the facts the rules look at, the one decision per plan, and refused attempts.

The claim relies on the database (a unique ``approval.plan_id``) so two people clicking "Approve" at the
same moment give exactly one execution, and the second is told who decided first. The rules themselves
live in ``workflow.approvals``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from workflow.model.clock import as_utc, utc_now
from workflow.model.errors import AlreadyDecided, RuleViolation, UserError
from workflow.store import audit, check_runs, checklist
from workflow.store.plans import window_fits
from workflow.store.states import PlanState, get_plan, transition
from workflow.store.tables import Approval, UpgradePlan

Decision = Literal["approved", "rejected"]


@dataclass(frozen=True)
class ApprovalFacts:
    """What the rules look at, read from the database in one go."""

    plan_id: int
    requester: str
    state: PlanState
    window_start: datetime | None
    window_end: datetime | None
    precheck_passed: bool | None  # None: no pre-check ran
    open_items: tuple[str, ...]  # titles of required manual items still open before execution
    # Why the window cannot hold the execution estimate (approving then needs an override).
    window_short: str | None = None


def load_facts(session: Session, *, plan_id: int) -> ApprovalFacts:
    plan = get_plan(session, plan_id=plan_id)
    last = check_runs.last_precheck(session, plan_id=plan_id)
    open_items = checklist.open_required_manual(
        session, plan_id=plan_id, before_phase=checklist.APPROVAL_GATE
    )
    return ApprovalFacts(
        plan_id=plan_id,
        requester=plan.requester,
        state=PlanState(plan.state),
        window_start=plan.window_start,
        window_end=plan.window_end,
        precheck_passed=None if last is None else last.passed,
        open_items=tuple(item.title for item in open_items),
        window_short=_window_short(plan),
    )


def _window_short(plan: UpgradePlan) -> str | None:
    start, end = as_utc(plan.window_start), as_utc(plan.window_end)
    if start is None or end is None:
        return None
    fits, why = window_fits(plan.estimate, minutes=(end - start).total_seconds() / 60)
    return None if fits else why


def get_decision(session: Session, *, plan_id: int) -> Approval | None:
    return session.exec(select(Approval).where(Approval.plan_id == plan_id)).first()


def already_decided(approval: Approval) -> AlreadyDecided:
    decided_at = as_utc(approval.decided_at) or utc_now()
    return AlreadyDecided(
        plan_id=approval.plan_id, decided_by=approval.actor, decision=approval.decision, decided_at=decided_at
    )


def claim_decision(
    session: Session,
    *,
    plan_id: int,
    actor: str,
    decision: Decision,
    reason: str,
    override: bool = False,
    overridden: Sequence[str] = (),
    now: datetime | None = None,
) -> Approval:
    """Record the one decision on the plan and move it on (approved: EXECUTING, rejected: CANCELLED),
    in the caller's transaction. A second claim raises AlreadyDecided naming the first. ``overridden``
    names what an override waived, so the audit row says what the approver's reason was about."""
    if decision not in ("approved", "rejected"):
        raise ValueError(f"unknown decision {decision!r}")
    if decision == "rejected" and not reason.strip():
        raise RuleViolation("A rejection needs a reason")
    existing = get_decision(session, plan_id=plan_id)
    if existing is not None:
        raise already_decided(existing)
    decided_at = now or utc_now()
    approval = Approval(plan_id=plan_id, decision=decision, actor=actor, reason=reason, override=override,
                        decided_at=decided_at)
    try:
        with session.begin_nested():  # PostgreSQL: the loser of a race fails here, on the unique plan_id
            session.add(approval)
            session.flush()
    except IntegrityError:
        winner = get_decision(session, plan_id=plan_id)
        if winner is None:
            raise
        raise already_decided(winner) from None
    to = PlanState.EXECUTING if decision == "approved" else PlanState.CANCELLED
    why = f"{decision} by {actor}" + (f": {reason}" if reason else "")
    transition(
        session, plan_id=plan_id, to=to, actor=actor, reason=why, expected_from={PlanState.AWAITING_APPROVAL},
        now=decided_at,
    )
    audit.record(
        session,
        actor=actor,
        action=f"approval.{decision}",
        plan_id=plan_id,
        reason=reason,
        detail={"override": override, **({"overridden": list(overridden)} if overridden else {})},
        now=decided_at,
    )
    session.flush()
    return approval


def record_refusal(
    session: Session,
    *,
    plan_id: int,
    actor: str,
    decision: Decision,
    error: UserError,
    attempted_reason: str = "",
    now: datetime | None = None,
) -> None:
    """Audit a refused approval or rejection (who tried, and every rule that refused), in its own
    transaction: the refusal changes nothing else, but the attempt belongs in the record."""
    reasons = error.reasons if isinstance(error, RuleViolation) else [str(error)]
    action = "approval.refused" if decision == "approved" else "rejection.refused"
    audit.record(
        session,
        actor=actor,
        action=action,
        plan_id=plan_id,
        reason="; ".join(reasons),
        detail={"error": type(error).__name__, "reasons": reasons, "attempted_reason": attempted_reason},
        now=now,
    )
