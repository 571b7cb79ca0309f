"""The day-before Upload only over signed HTTP: the request with its buttons, a failure report through the
modal, a confirmation, and a refusal for someone without a role. Nothing reads as passed unless a person
said so (before, the pre-check posted "uploaded to every agent; checks: ..." that no script had run)."""

from __future__ import annotations

import json

from bot.console.fake_slack_state import FakeMessage
from handlers.blocks.render import render_message
from handlers.ids import ActionId, BlockId, CallbackId
from tests.handlers.conftest import APPROVER, CHANNEL, REQUESTER, SECRET, Stack, wait_until, window_in
from tests.support import slack_requests as sr
from workflow.store.states import PlanState


def thread(stack: Stack) -> list[FakeMessage]:
    return stack.slack.thread(CHANNEL, stack.top_messages()[0].ts)


def upload_request(stack: Stack) -> FakeMessage | None:
    return next((m for m in thread(stack) if "Upload only" in m.text and "Cube" in m.text), None)


async def checked_plan(stack: Stack) -> int:
    date, time = window_in(stack.clock, hours=30)
    await stack.slash(f"plan 10.4 at {date} {time} for 4h")
    await stack.settle()
    plan_id = stack.runtime.engine.status(channel=CHANNEL).id
    await stack.slash(f"check {plan_id}")
    await stack.settle()
    await wait_until(lambda: upload_request(stack) is not None, what="the Upload only request")
    return plan_id


async def test_the_pre_check_asks_for_upload_only_and_never_says_it_passed(stack: Stack) -> None:
    plan_id = await checked_plan(stack)
    result = next(m for m in thread(stack) if "Pre-upgrade check" in m.text and "plan #" in m.text)
    text = render_message(result.blocks).text
    assert "Upload only of DataMiner" in text and "(not checked)" in text
    assert "uploaded to every agent" not in text and "prerequisite checks passed" not in text
    request = upload_request(stack)
    assert request is not None
    buttons = {e["action_id"] for b in request.blocks if b["type"] == "actions" for e in b["elements"]}
    assert buttons == {ActionId.UPLOAD_PASSED.value, ActionId.UPLOAD_FAILED.value}
    checklist = stack.runtime.engine.status(plan_id=plan_id).checklist
    assert not next(i for i in checklist if i.key == "precheck.upload").checked


async def test_checks_failed_takes_the_report_blocks_the_plan_and_escapes_it(stack: Stack) -> None:
    plan_id = await checked_plan(stack)
    request = upload_request(stack)
    assert request is not None
    seen = len(stack.slack.calls_for("views.open"))
    await stack.click(ActionId.UPLOAD_FAILED.value, value=str(plan_id), message=request, user=REQUESTER)
    await wait_until(lambda: len(stack.slack.calls_for("views.open")) > seen, what="the report modal")
    view = stack.slack.calls_for("views.open")[-1].params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["callback_id"] == CallbackId.UPLOAD_FAILED_MODAL.value

    async def submit(report: str) -> dict[str, object]:
        values = {BlockId.DECISION_REASON.value: {
            ActionId.DECISION_REASON.value: {"type": "plain_text_input", "value": report}}}
        response = await stack.post(sr.view_submission(
            signing_secret=SECRET, callback_id=CallbackId.UPLOAD_FAILED_MODAL.value, values=values,
            user_id=REQUESTER, private_metadata=json.dumps({"plan_id": plan_id, "channel": CHANNEL})))
        assert response.status_code == 200
        return response.json() if response.text else {}

    assert BlockId.DECISION_REASON.value in str(await submit("  "))  # the report is required
    assert stack.runtime.engine.status(plan_id=plan_id).state is PlanState.PRECHECKED
    assert await submit("Verify NATS Cluster failed <!channel>") == {}
    await stack.settle()
    assert stack.runtime.engine.status(plan_id=plan_id).state is PlanState.BLOCKED
    edited = stack.slack.message(CHANNEL, request.ts)
    text = render_message(edited.blocks).text
    assert "failed" in text and "Verify NATS Cluster" in text and "<!channel>" not in str(edited.blocks)


async def test_a_confirmation_is_credited_and_a_bystander_is_refused(stack: Stack) -> None:
    plan_id = await checked_plan(stack)
    request = upload_request(stack)
    assert request is not None
    await stack.click(ActionId.UPLOAD_PASSED.value, value=str(plan_id), message=request, user="UBYSTANDER9")
    await wait_until(lambda: bool(stack.ephemerals_for("UBYSTANDER9")), what="the refusal")
    assert not next(i for i in stack.runtime.engine.status(plan_id=plan_id).checklist
                    if i.key == "precheck.upload").checked
    await stack.click(ActionId.UPLOAD_PASSED.value, value=str(plan_id), message=request, user=APPROVER)
    await stack.settle()
    checklist = stack.runtime.engine.status(plan_id=plan_id).checklist
    item = next(i for i in checklist if i.key == "precheck.upload")
    assert item.checked and item.checked_by == APPROVER
    text = render_message(stack.slack.message(CHANNEL, request.ts).blocks).text
    assert "passed in Cube, confirmed by" in text
