"""What the plan message and ``status`` tell a team, over signed HTTP requests: the path's
warnings, preview targets only on request, a missing second approver, when the bot acts on its own, the next
step, the plan that just finished, the last MOP step after "done", durations and check titles."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from handlers.blocks.render import render_message
from handlers.ids import ActionId
from tests.handlers.conftest import (
    APPROVER,
    CHANNEL,
    REQUESTER,
    Stack,
    awaiting_approval,
    wait_until,
)
from tests.handlers.stacks import custom_stack
from workflow.store.states import PlanState


def plan_text(stack: Stack) -> str:
    return render_message(stack.top_messages()[0].blocks).text


async def status_text(stack: Stack, *args: str) -> str:
    before = len(stack.ephemerals_for(REQUESTER))
    await stack.slash(" ".join(("status", *args)))
    await wait_until(lambda: len(stack.ephemerals_for(REQUESTER)) > before, what="the status answer")
    return render_message(stack.ephemerals_for(REQUESTER)[-1].blocks).text


async def test_a_preview_target_needs_track_preview_and_the_card_carries_the_warnings(stack: Stack) -> None:
    await stack.slash("plan 10.7")
    await stack.settle()
    refusal = stack.ephemerals_for(REQUESTER)[-1].text
    assert "10.7.0 is a preview release" in refusal and "`track preview`" in refusal
    assert stack.runtime.engine.history() == []

    await stack.slash("plan 10.7 track preview")
    await stack.settle()
    card = plan_text(stack)
    assert "Preview release: 10.7.0 is a preview release, planned on explicit request" in card
    assert "Support: The current version: 10.2.0 is no longer supported" in card
    # The BrokerGateway helper's prerequisites (before) and post-migration steps (after) are checklist items.
    items = stack.runtime.engine.status(channel=CHANNEL).checklist
    assert any(i.key.startswith("details.helper.") and i.kind == "manual" and i.required for i in items)
    assert any(i.key.startswith("verify.helper.") and i.detail.startswith("After ") for i in items)
    # `status` names the preview in its first line; `status full` shows the warnings, after the next step.
    status = await status_text(stack)
    assert status.splitlines()[0].endswith("(track: main, preview release) — planned"), status
    full = await status_text(stack, "full")
    assert full.startswith("Next:") and "Preview release" in full and "Support:" in full


async def test_the_plan_message_says_when_the_bot_acts_and_status_leads_with_the_next_step(
    stack: Stack,
) -> None:
    start = (stack.clock.now + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    await stack.slash(f"plan 10.4 at {start:%Y-%m-%d %H:%M} for 4h")
    await stack.settle()
    card = plan_text(stack)
    precheck = start - timedelta(hours=24)
    reminder = start - timedelta(hours=2)
    assert f"pre-upgrade check at {precheck:%Y-%m-%d %H:%M} UTC" in card
    assert f"reminder of the open checklist items at {reminder:%Y-%m-%d %H:%M} UTC" in card
    assert f"approval request at {start:%Y-%m-%d %H:%M} UTC" in card
    status = await status_text(stack)
    first, second = status.splitlines()[:2]
    assert first.startswith("Plan #") and first.endswith("— scheduled"), status
    assert second.startswith(f"Next: @{REQUESTER} ticks ") and f"before {start:%Y-%m-%d %H:%M} UTC" in second


async def test_the_only_approver_being_the_requester_is_said_at_plan_time(tmp_path: Path) -> None:
    async with custom_stack(tmp_path, upgrade_approvers=[REQUESTER]) as stack:
        await stack.slash("plan 10.4")
        await stack.settle()
        card = plan_text(stack)
        assert f"The only approver is the requester, @{REQUESTER}" in card
        assert "UPGRADE_APPROVERS" in card and "UPGRADE_APPROVER_GROUP" in card


async def test_after_done_status_shows_the_plan_and_the_requester_is_asked_for_the_last_step(
    stack: Stack,
) -> None:
    plan_id, approval = await awaiting_approval(stack)
    # The helper ticks every manual item; the one after the upgrade can only be true after it.
    await stack.runtime.engine.tick(plan_id=plan_id, key="verify.key_functionalities", actor=REQUESTER,
                                    checked=False)
    await stack.click(ActionId.APPROVE.value, value=str(plan_id), message=approval, user=APPROVER)
    await wait_until(lambda: stack.runtime.engine.status(plan_id=plan_id).state is PlanState.DONE,
                     timeout_s=20, what="the upgrade to finish")
    await stack.settle()
    thread = stack.slack.thread(CHANNEL, stack.top_messages()[0].ts)
    ask = [m for m in thread if "Key functionalities checked after the upgrade" in m.text]
    assert ask and f"<@{REQUESTER}>" in ask[0].text and not ask[0].reply_broadcast
    # Durations read as durations, never raw float seconds.
    hops = [m.text for m in thread if re.search(r"Hop \d/\d done", m.text)]
    assert hops and all(re.search(r"done in (<1s|\d+s|\d+m\d\ds|\d+h\d\dm):", t) for t in hops), hops

    status = await status_text(stack)
    assert "There is no active upgrade plan" not in status
    assert status.splitlines()[1].startswith(f"Next: @{REQUESTER} checks the key functionalities")
    assert f"Plan #{plan_id}" in status and "— done" in status and len(status.splitlines()) <= 12
    full = await status_text(stack, "full")
    assert full.startswith(f"Next: @{REQUESTER} checks the key functionalities")
    assert f"Upgrade plan #{plan_id}" in full and "State: done" in full


