"""Who may approve, the rules an approval must pass, and the atomic claim of the decision.

The rules are a pure function of the plan's facts so they are easy to test and to explain; the claim
relies on the database (a unique ``approval.plan_id``) so two people clicking "Approve" at the same
moment give exactly one execution, and the second is told who decided first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot.settings import Settings
from workflow.store import audit, check_runs, checklist
from workflow.store.errors import AlreadyDecided, NotAuthorized, RuleViolation, UserError
from workflow.store.states import PlanState, get_plan, transition
from workflow.store.tables import Approval, as_utc, utcnow

Decision = Literal["approved", "rejected"]


class ApproverDirectory(Protocol):
    async def is_approver(self, user_id: str) -> bool: ...


class StaticApprovers:
    """Approvers named by Slack user id (UPGRADE_APPROVERS)."""

    def __init__(self, user_ids: Iterable[str]) -> None:
        self._user_ids = frozenset(user_id.strip() for user_id in user_ids if user_id.strip())

    @classmethod
    def from_settings(cls, settings: Settings) -> StaticApprovers:
        return cls(settings.upgrade_approvers)

    async def is_approver(self, user_id: str) -> bool:
        return user_id in self._user_ids


class AnyApprovers:
    """An approver of any of the directories (e.g. the id list or the Slack user group)."""

    def __init__(self, *directories: ApproverDirectory) -> None:
        self._directories = directories

    async def is_approver(self, user_id: str) -> bool:
        for directory in self._directories:
            if await directory.is_approver(user_id):
                return True
        return False


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


def check_rules(
    facts: ApprovalFacts,
    *,
    actor: str,
    decision: Decision,
    is_approver: bool,
    allow_self_approval: bool,
    now: datetime,
    override_reason: str | None = None,
) -> bool:
    """Raise if ``actor`` may not take ``decision`` now; return whether it is an override."""
    if not is_approver:
        raise NotAuthorized(f"<@{actor}> is not an upgrade approver")
    if decision == "rejected":
        return False  # any approver may stop a plan, at any time it is waiting
    if actor == facts.requester and not allow_self_approval:
        raise NotAuthorized("You requested this upgrade; another approver must approve it")
    reasons: list[str] = []
    if facts.state is not PlanState.AWAITING_APPROVAL:
        reasons.append(f"the plan is {facts.state.label}, not awaiting approval")
    start, end = as_utc(facts.window_start), as_utc(facts.window_end)
    if start is None or end is None or not start <= now < end:
        reasons.append("approval is only possible while the upgrade window is open")
    override = bool(override_reason and override_reason.strip())
    needs_override = False
    if facts.precheck_passed is not True:
        needs_override = True
        if not override:
            state = "did not pass" if facts.precheck_passed is False else "has not run"
            reasons.append(f"the last pre-upgrade check {state} (approve with an override reason)")
    if facts.open_items:
        needs_override = True
        if not override:
            reasons.append("required items are still open: " + "; ".join(facts.open_items))
    if reasons:
        raise RuleViolation(f"Cannot approve plan #{facts.plan_id}: {'; '.join(reasons)}", reasons=reasons)
    return needs_override


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
    )


def get_decision(session: Session, *, plan_id: int) -> Approval | None:
    return session.exec(select(Approval).where(Approval.plan_id == plan_id)).first()


def _already(approval: Approval) -> AlreadyDecided:
    decided_at = as_utc(approval.decided_at) or utcnow()
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
        raise _already(existing)
    decided_at = now or utcnow()
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
        raise _already(winner) from None
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


def decide(
    session: Session,
    *,
    plan_id: int,
    actor: str,
    decision: Decision,
    reason: str,
    is_approver: bool,
    allow_self_approval: bool,
    now: datetime | None = None,
) -> Approval:
    """Check the rules, then claim. ``is_approver`` comes from ``await directory.is_approver(actor)``,
    asked before opening the transaction. For approvals ``reason`` is the override reason, if any."""
    get_plan(session, plan_id=plan_id)  # NotFound first, for any id (also one too large for the column)
    existing = get_decision(session, plan_id=plan_id)
    if existing is not None:
        raise _already(existing)
    facts = load_facts(session, plan_id=plan_id)
    at = now or utcnow()
    override = check_rules(
        facts,
        actor=actor,
        decision=decision,
        is_approver=is_approver,
        allow_self_approval=allow_self_approval,
        now=at,
        override_reason=reason if decision == "approved" else None,
    )
    return claim_decision(
        session, plan_id=plan_id, actor=actor, decision=decision, reason=reason, override=override,
        overridden=waived(facts) if override else (), now=at,
    )


def waived(facts: ApprovalFacts) -> list[str]:
    """What an approval override sets aside: a pre-check that did not pass, and open required items."""
    result = []
    if facts.precheck_passed is not True:
        result.append("pre-upgrade check " + ("failed" if facts.precheck_passed is False else "not run"))
    result.extend(f"open item: {title}" for title in facts.open_items)
    return result


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
