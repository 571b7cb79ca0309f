"""Who may approve and the rules an approval must pass, then the claim (``workflow.store.approvals``).

The rules are a pure function of the plan's facts so they are easy to test and to explain.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlmodel import Session

from workflow.model.clock import as_utc, utc_now
from workflow.model.errors import NotAuthorized, RuleViolation
from workflow.store import checklist
from workflow.store.approvals import ApprovalFacts, Decision, claim_decision, get_decision, load_facts
from workflow.store.approvals import already_decided as _already
from workflow.store.plans import window_fits
from workflow.store.snapshot import PlanSnapshot
from workflow.store.states import PlanState, get_plan
from workflow.store.tables import Approval


class ApproverDirectory(Protocol):
    async def is_approver(self, user_id: str) -> bool: ...


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
    if facts.window_short:
        needs_override = True
        if not override:
            reasons.append(facts.window_short + " (approve with an override reason)")
    if reasons:
        raise RuleViolation(f"Cannot approve plan #{facts.plan_id}: {'; '.join(reasons)}", reasons=reasons)
    return needs_override


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
    at = now or utc_now()
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
    if facts.window_short:
        result.append(facts.window_short)
    return result


def overrides_needed(snap: PlanSnapshot) -> list[str]:
    """What approving this plan now would set aside (empty: a plain approval will do), from its snapshot;
    the same facts ``check_rules`` reads, so the Slack surface can ask for the reason before approving."""
    result = []
    if snap.precheck is None or not snap.precheck.passed:
        result.append("pre-upgrade check " + ("not run" if snap.precheck is None else "failed"))
    # The window before the open items: a path with many known issues has many items, and a list cut for
    # Slack must not hide the one reason that is not a tick away.
    if snap.window_start is not None and snap.window_end is not None:
        minutes = (snap.window_end - snap.window_start).total_seconds() / 60
        estimate = snap.estimate.to_json() if snap.estimate is not None else {}
        fits, why = window_fits(estimate, minutes=minutes)
        if not fits:
            result.append(why)
    gate = checklist.APPROVAL_GATE.order
    result.extend(f"open item: {item.title}" for item in snap.open_required_manual if item.phase.order < gate)
    return result
