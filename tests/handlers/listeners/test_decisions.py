"""The ways back from trouble, over signed HTTP requests: reject with a reason, approve over a failed
pre-check or a short window with an override reason, and cancel while a hop runs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from bot.console.fake_slack import FakeMessage
from handlers.blocks.render import render_message
from handlers.ids import ActionId, BlockId, CallbackId
from tests.handlers.conftest import (
    APPROVER,
    CHANNEL,
    REQUESTER,
    SECRET,
    SPEED,
    Stack,
    awaiting_approval,
    tick_manual_items,
    wait_until,
)
from tests.handlers.stacks import custom_stack
from tests.support import slack_requests as sr
from workflow.store import database as dbm
from workflow.store.states import PlanState
from workflow.store.tables import AuditEvent


async def submit_reason(stack: Stack, callback: CallbackId, *, plan_id: int, reason: str,
                        user: str) -> httpx.Response:
    values = {BlockId.DECISION_REASON.value: {
        ActionId.DECISION_REASON.value: {"type": "plain_text_input", "value": reason}}}
    return await stack.post(sr.view_submission(
        signing_secret=SECRET, callback_id=callback.value, values=values, user_id=user,
        private_metadata=json.dumps({"plan_id": plan_id, "channel": CHANNEL}),
    ))


def opened_views(stack: Stack) -> list[dict[str, Any]]:
    return [json.loads(call.params["view"]) if isinstance(call.params["view"], str) else call.params["view"]
            for call in stack.slack.calls_for("views.open")]


async def next_view(stack: Stack, seen: int) -> dict[str, Any]:
    """The modal opened after ``seen`` earlier ones (the window modal of ``awaiting_approval`` is one)."""
    await wait_until(lambda: len(stack.slack.calls_for("views.open")) > seen, what="a modal")
    return opened_views(stack)[-1]


def thread(stack: Stack) -> list[FakeMessage]:
    return stack.slack.thread(CHANNEL, stack.top_messages()[0].ts)


def audit_rows(stack: Stack, action: str) -> list[AuditEvent]:
    with dbm.session(stack.runtime.db) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)))


# ---------------------------------------------------------------------------------------------- reject


async def test_reject_asks_for_a_reason_and_is_announced_in_the_channel(stack: Stack) -> None:
    plan_id, approval = await awaiting_approval(stack)
    seen = len(opened_views(stack))
    await stack.click(ActionId.REJECT.value, value=str(plan_id), message=approval, user=APPROVER)
    view = await next_view(stack, seen)
    assert view["callback_id"] == CallbackId.REJECT_MODAL.value
    assert stack.runtime.engine.status(plan_id=plan_id).state is PlanState.AWAITING_APPROVAL  # not yet

    empty = await submit_reason(stack, CallbackId.REJECT_MODAL, plan_id=plan_id, reason="  ", user=APPROVER)
    assert BlockId.DECISION_REASON.value in empty.json()["errors"]
    ok = await submit_reason(stack, CallbackId.REJECT_MODAL, plan_id=plan_id, reason="<!channel> not tonight",
                             user=APPROVER)
    assert ok.status_code == 200 and ok.text == ""
    await stack.settle()
    assert stack.runtime.engine.status(plan_id=plan_id).state is PlanState.CANCELLED
    decided = str(stack.slack.message(CHANNEL, approval.ts).blocks)
    assert f"*Rejected* by <@{APPROVER}>" in decided and "&lt;!channel&gt; not tonight" in decided
    announced = [m for m in thread(stack) if "rejected" in m.text and m.reply_broadcast]
    assert announced and "&lt;!channel&gt; not tonight" in str(announced[0].blocks)
    assert "<!channel>" not in str(announced[0].blocks)
    assert audit_rows(stack, "approval.rejected")[0].reason == "<!channel> not tonight"


async def test_reject_by_someone_else_is_refused_without_a_modal(stack: Stack) -> None:
    plan_id, approval = await awaiting_approval(stack)
    await stack.click(ActionId.REJECT.value, value=str(plan_id), message=approval, user="UINTRUDER")
    await wait_until(lambda: bool(stack.ephemerals_for("UINTRUDER")), what="the refusal")
    assert stack.ephemerals_for("UINTRUDER")[-1].text.startswith("Not rejected: ")
    assert all(v["callback_id"] != CallbackId.REJECT_MODAL.value for v in opened_views(stack))
    assert audit_rows(stack, "rejection.refused")


# ---------------------------------------------------------------------------------------------- override


async def test_approving_over_a_failed_precheck_asks_for_the_reason_and_a_passing_check_clears_it(
    stack: Stack,
) -> None:
    plan_id, approval = await awaiting_approval(stack)
    assert "override" not in str(approval.blocks)
    stack.sim.inject("critical_alarms", agent=2, count=1)
    await stack.slash(f"check {plan_id}")
    await stack.settle()
    assert not stack.runtime.engine.status(plan_id=plan_id).precheck.passed  # type: ignore[union-attr]
    request = str(stack.slack.message(CHANNEL, approval.ts).blocks)
    assert "Approving needs an override reason" in request and "pre-upgrade check failed" in request

    # A later passing check clears the stale warning from the approval request.
    stack.sim.clear("critical_alarms")
    await stack.slash(f"check {plan_id}")
    await stack.settle()
    assert "override" not in str(stack.slack.message(CHANNEL, approval.ts).blocks)

    stack.sim.inject("critical_alarms", agent=2, count=1)
    await stack.slash(f"check {plan_id}")
    await stack.settle()
    seen = len(opened_views(stack))
    await stack.click(ActionId.APPROVE.value, value=str(plan_id), message=approval, user=APPROVER)
    view = await next_view(stack, seen)
    assert view["callback_id"] == CallbackId.OVERRIDE_MODAL.value
    assert "pre-upgrade check failed" in json.dumps(view)
    assert stack.runtime.engine.status(plan_id=plan_id).state is PlanState.AWAITING_APPROVAL

    stack.sim.clear("critical_alarms")
    ok = await submit_reason(stack, CallbackId.OVERRIDE_MODAL, plan_id=plan_id,
                             reason="alarm is a known lab <probe>", user=APPROVER)
    assert ok.status_code == 200 and ok.text == ""
    await wait_until(lambda: stack.runtime.engine.status(plan_id=plan_id).state is PlanState.DONE,
                     timeout_s=20, what="the upgrade to finish")
    await stack.settle()
    decided = str(stack.slack.message(CHANNEL, approval.ts).blocks)
    assert "Override reason: alarm is a known lab &lt;probe&gt;" in decided  # shown in the thread
    row = audit_rows(stack, "approval.approved")[0]
    assert row.reason == "alarm is a known lab <probe>" and row.detail["override"] is True


async def test_a_window_shorter_than_the_estimate_needs_the_same_override(stack: Stack) -> None:
    await stack.slash("plan 10.4")
    await stack.settle()
    plan_id = stack.runtime.engine.status(channel=CHANNEL).id
    start = stack.clock.now
    await stack.runtime.engine.set_window(plan_id=plan_id, start=start, minutes=15, actor=REQUESTER)
    await stack.runtime.engine.on_approval_due(plan_id)
    await stack.settle()
    approval = next(m for m in thread(stack) if "Approval needed" in m.text)
    assert "window is shorter than the execution estimate" in str(approval.blocks)

    await stack.click(ActionId.APPROVE.value, value=str(plan_id), message=approval, user=APPROVER)
    assert "shorter than the execution estimate" in json.dumps(await next_view(stack, 0))
    # The engine holds the same rule: without a reason the approval is refused.
    with pytest.raises(Exception, match="shorter than the execution estimate"):
        await stack.runtime.engine.approve(plan_id=plan_id, actor=APPROVER)


# ---------------------------------------------------------------------------------------------- cancel


@pytest.fixture
async def patient_stack(tmp_path: Path) -> AsyncIterator[Stack]:
    """The stack with the bot's deadlines 200 times longer than the simulator's pace: a hop held up by a
    fault outlives the test's requests instead of failing the plan first."""
    scale = SPEED / 200
    async with custom_stack(tmp_path, dms_time_scale=scale, dms_poll_seconds=0.03 * scale) as stack:
        yield stack


async def test_cancel_while_a_hop_runs_confirms_then_watches_the_agents_settle(patient_stack: Stack) -> None:
    stack = patient_stack
    engine = stack.runtime.engine
    plan_id, approval = await awaiting_approval(stack)
    stack.sim.inject("agent_stuck_starting")  # the first hop cannot finish: the cancel arrives mid-hop
    await stack.click(ActionId.APPROVE.value, value=str(plan_id), message=approval, user=APPROVER)
    await wait_until(lambda: engine.status(plan_id=plan_id).hops[0].upgrade_started_at is not None,
                     what="the first hop's upgrade")

    # The command asks first, saying what a cancel cannot do; nothing changes yet.
    await stack.slash(f"cancel {plan_id} change freeze")
    await wait_until(lambda: any("Cancel plan" in m.text for m in stack.ephemerals_for(REQUESTER)),
                     what="the confirmation")
    prompt = next(m for m in stack.ephemerals_for(REQUESTER) if "Cancel plan" in m.text)
    assert "cannot stop the hop already running" in str(prompt.blocks)
    assert engine.status(plan_id=plan_id).state is PlanState.EXECUTING
    button = render_message(prompt.blocks).elements[0]
    assert button.action_id == ActionId.CANCEL_RUNNING.value
    await stack.click(button.action_id, value=str(button.value), message=stack.top_messages()[0],
                      user=REQUESTER)
    await wait_until(lambda: engine.status(plan_id=plan_id).state is PlanState.CANCELLING,
                     what="the plan to be cancelling")
    await wait_until(lambda: any("being cancelled" in m.text and m.reply_broadcast for m in thread(stack)),
                     what="the cancelling notice")
    assert not audit_rows(stack, "cancel.agents")  # still watching: the stuck agent has not settled

    stack.sim.clear("agent_stuck_starting")
    await wait_until(lambda: engine.status(plan_id=plan_id).state is PlanState.CANCELLED, timeout_s=20,
                     what="the agents to settle")
    await stack.settle()
    row = audit_rows(stack, "cancel.agents")[0]
    assert row.detail["settled"] is True and len(row.detail["agents"]) == 4
    assert {a["version"] for a in row.detail["agents"]} == {"10.3.0 CU22"}  # the hop ran to its end
    assert stack.sim.state()["upgrades_triggered"] == {"10.3.0 CU22": 1}  # and no further hop started
    final = [m for m in thread(stack) if m.text == f"Plan #{plan_id} cancelled"]
    assert final and final[0].reply_broadcast and "Where the agents ended" in str(final[0].blocks)
    assert "change freeze" in str(final[0].blocks)
    status = next(m for m in thread(stack) if m.text.startswith(f"Plan #{plan_id}:"))
    assert status.text == f"Plan #{plan_id}: cancelled", "the status message no longer says executing"


async def test_the_cancel_button_while_running_says_what_cancel_cannot_do(patient_stack: Stack) -> None:
    stack = patient_stack
    engine = stack.runtime.engine
    plan_id, approval = await awaiting_approval(stack)
    stack.sim.inject("agent_stuck_starting")
    await stack.click(ActionId.APPROVE.value, value=str(plan_id), message=approval, user=APPROVER)
    await wait_until(lambda: "State: *executing*" in str(stack.top_messages()[0].blocks),
                     what="the plan message to show the execution")
    buttons = [e for e in render_message(stack.top_messages()[0].blocks).elements if e.kind == "button"]
    cancel = next(e for e in buttons if e.label == "Cancel")
    assert cancel.action_id == ActionId.CANCEL_RUNNING.value
    assert "cannot stop the hop already running" in cancel.raw["confirm"]["text"]["text"]
    # An older message's plain Cancel (confirmed with the old text) asks again instead of cancelling.
    await stack.click(ActionId.CANCEL.value, value=str(plan_id), message=stack.top_messages()[0],
                      user=REQUESTER)
    await wait_until(lambda: any("Cancel plan" in m.text for m in stack.ephemerals_for(REQUESTER)),
                     what="the confirmation")
    assert engine.status(plan_id=plan_id).state is PlanState.EXECUTING
    await stack.click(cancel.action_id, value=str(cancel.value), message=stack.top_messages()[0],
                      user=REQUESTER)
    await wait_until(lambda: engine.status(plan_id=plan_id).state is PlanState.CANCELLING, what="cancelling")
    stack.sim.clear("agent_stuck_starting")
    await wait_until(lambda: engine.status(plan_id=plan_id).state is PlanState.CANCELLED, timeout_s=20,
                     what="cancelled")


async def test_ticking_the_open_items_clears_them_from_the_approval_request(stack: Stack) -> None:
    await stack.slash("plan 10.4")
    await stack.settle()
    plan_id = stack.runtime.engine.status(channel=CHANNEL).id
    engine = stack.runtime.engine
    await engine.set_window(plan_id=plan_id, start=stack.clock.now, minutes=240, actor=REQUESTER)
    await stack.runtime.engine.on_approval_due(plan_id)
    await stack.settle()
    approval = next(m for m in thread(stack) if "Approval needed" in m.text)
    assert "open item: Backup taken" in str(approval.blocks)

    await tick_manual_items(stack, stack.top_messages()[0])
    await stack.settle()
    assert "open item" not in str(stack.slack.message(CHANNEL, approval.ts).blocks)
