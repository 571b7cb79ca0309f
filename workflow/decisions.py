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

from workflow.approvals import overrides_needed
from workflow.context import WorkflowContext
from workflow.model.errors import UserError
from workflow.model.snapshot import PlanSnapshot
from workflow.model.states import PlanState
from workflow.store import approvals as approval_store

log = logging.getLogger(__name__)


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
