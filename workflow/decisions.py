"""Approve and reject as a person meets them: what a click should lead to, decided in one place.

A click on Approve either approves at once, or first asks for a reason (approving now would set something
aside: a failed or missing pre-check, open required items, a window shorter than the estimate), or goes
straight to the engine, which refuses with the precise reason and audits it. A click on Reject asks an
approver for the reason. The listener makes one call (``UpgradeEngine.decision_prompt``) and renders what it
says; the rules (who may decide, the four eyes, what needs an override) are the workflow's alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from workflow import approvals
from workflow.approvals import overrides_needed
from workflow.context import FollowUp, WorkflowContext
from workflow.events import ApprovalGranted, ApprovalRejected, StateChanged
from workflow.model.errors import AlreadyDecided, IllegalTransition, NotAuthorized, RuleViolation, UserError
from workflow.model.snapshot import PlanSnapshot
from workflow.model.states import PlanState
from workflow.store import approvals as approval_store
from workflow.store.tables import Approval

log = logging.getLogger(__name__)

# What a decision may be refused with: audited, then told to the person who clicked.
REFUSALS = (NotAuthorized, RuleViolation, AlreadyDecided, IllegalTransition)


@dataclass(frozen=True)
class DecisionPrompt:
    snapshot: PlanSnapshot
    ask_reason: bool  # open the form for the reason first; False: decide now (or be refused, audited)
    overrides: tuple[str, ...] = ()  # what approving now sets aside, named on the form


def prompt(
    snap: PlanSnapshot, *, user: str, approving: bool, may_decide: bool, allow_self_approval: bool
) -> DecisionPrompt:
    """``may_decide``: the roles table lets ``user`` take this decision on this plan."""
    waiting = snap.state is PlanState.AWAITING_APPROVAL and snap.approval is None
    own = approving and user == snap.requester and not allow_self_approval
    if not (waiting and may_decide and not own):
        return DecisionPrompt(snapshot=snap, ask_reason=False)  # the engine refuses it, saying why
    if not approving:
        return DecisionPrompt(snapshot=snap, ask_reason=True)
    needs = tuple(overrides_needed(snap))
    return DecisionPrompt(snapshot=snap, ask_reason=bool(needs), overrides=needs)


async def audit_refusal(
    context: WorkflowContext, plan_id: int, *, actor: str, decision: approval_store.Decision,
    error: UserError, reason: str, now: datetime,
) -> None:
    """The refused attempt's transaction was rolled back; its audit row gets a transaction of its own."""
    try:
        await context.unit(lambda session: approval_store.record_refusal(
            session, plan_id=plan_id, actor=actor, decision=decision, error=error, attempted_reason=reason,
            now=now))
    except Exception:
        # The caller must still get the refusal itself, not an error about auditing it.
        log.exception("auditing the refused %s of plan #%s failed", decision, plan_id)


async def decide(
    context: WorkflowContext, *, plan_id: int, actor: str, decision: approval_store.Decision, reason: str,
    is_approver: bool, allow_self_approval: bool,
) -> PlanSnapshot:
    """Claim the decision (rules in ``workflow.approvals``) and write the events that tell of it in the same
    transaction; a refusal is audited in a transaction of its own and raised. The snapshot after it."""
    now = context.now()

    def told(approval: Approval) -> list[FollowUp]:
        to = PlanState.EXECUTING if decision == "approved" else PlanState.CANCELLED
        override = approval.reason if approval.override else None
        said: FollowUp = (ApprovalRejected, {"actor": actor, "reason": reason})
        if decision == "approved":
            said = (ApprovalGranted, {"actor": actor, "override_reason": override})
        return [said, (StateChanged, {"from_state": PlanState.AWAITING_APPROVAL.value, "to_state": to.value,
                                      "actor": actor, "reason": f"{decision} by {actor}"})]

    try:
        _, snap = await context.change(plan_id, lambda session: approvals.decide(
            session, plan_id=plan_id, actor=actor, decision=decision, reason=reason, is_approver=is_approver,
            allow_self_approval=allow_self_approval, now=now), told)
    except REFUSALS as exc:
        await audit_refusal(context, plan_id, actor=actor, decision=decision, error=exc, reason=reason,
                            now=now)
        raise
    return snap
