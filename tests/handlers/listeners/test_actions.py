"""Buttons, checkboxes and the window modal over real HTTP."""

from __future__ import annotations

import json

from handlers.blocks.render import render_message
from handlers.ids import ActionId, BlockId
from tests.handlers.conftest import (
    CHANNEL,
    REQUESTER,
    SECRET,
    Stack,
    wait_until,
    window_in,
)
from tests.support import slack_requests as sr
from workflow.store.snapshot import ItemView
from workflow.store.states import PlanState


async def planned(stack: Stack) -> int:
    await stack.slash("plan 10.4")
    await stack.settle()
    return stack.runtime.engine.status(channel=CHANNEL).id


def checkbox_block(message_blocks: list[dict], key: str) -> dict:
    for block in message_blocks:
        accessory = block.get("accessory") or {}
        if any(option["value"] == key for option in accessory.get("options", [])):
            return block
    raise AssertionError(f"no checkbox for {key}")


def item_of(stack: Stack, plan_id: int, key: str) -> ItemView:
    return next(i for i in stack.runtime.engine.status(plan_id=plan_id).checklist if i.key == key)


async def toggle(stack: Stack, *, key: str, on: bool, user: str = REQUESTER) -> None:
    message = stack.top_messages()[0]
    block = checkbox_block(message.blocks, key)
    accessory = block["accessory"]
    chosen = [o for o in accessory.get("initial_options", []) if o["value"] != key]
    if on:
        chosen.append(next(o for o in accessory["options"] if o["value"] == key))
    response = await stack.post(sr.block_actions(
        signing_secret=SECRET, action_id=accessory["action_id"], block_id=block["block_id"],
        action_type="checkboxes", selected_options=chosen, message_ts=message.ts, user_id=user,
        channel_id=CHANNEL,
    ))
    assert response.status_code == 200
    await stack.settle()


async def test_ticking_a_manual_item_records_who(stack: Stack) -> None:
    plan_id = await planned(stack)
    await toggle(stack, key="details.backup", on=True)
    item = item_of(stack, plan_id, "details.backup")
    assert item.checked and item.checked_by == REQUESTER
    box = next(e for e in render_message(stack.top_messages()[0].blocks).elements
               if e.value == "details.backup")
    assert box.checked  # the plan message was edited to show it
    await toggle(stack, key="details.backup", on=False)
    assert not item_of(stack, plan_id, "details.backup").checked


async def test_automatic_items_cannot_be_unticked_by_hand(stack: Stack) -> None:
    plan_id = await planned(stack)
    edits_before = stack.top_messages()[0].edits
    await toggle(stack, key="details.connect", on=False)
    assert item_of(stack, plan_id, "details.connect").checked
    told = stack.ephemerals_for(REQUESTER)[-1].text
    assert "Not changed" in told and "Connected to the DMS" in told
    message = stack.top_messages()[0]
    assert message.edits > edits_before  # redrawn, so the box shows ticked again
    box = next(e for e in render_message(message.blocks).elements if e.value == "details.connect")
    assert box.checked


async def test_window_modal_opens_and_validates_its_fields(stack: Stack) -> None:
    plan_id = await planned(stack)
    message = stack.top_messages()[0]
    await stack.click(ActionId.SET_WINDOW.value, value=str(plan_id), message=message, user=REQUESTER)
    await wait_until(lambda: bool(stack.slack.calls_for("views.open")), what="views.open")
    opened = stack.slack.calls_for("views.open")[0].params
    assert opened["trigger_id"] and json.loads(opened["view"]["private_metadata"])["plan_id"] == plan_id

    date, time = window_in(stack.clock, hours=30)
    bad_duration = await stack.submit_window(plan_id=plan_id, date=date, time=time, duration="forever")
    assert bad_duration.json()["response_action"] == "errors"
    assert BlockId.WINDOW_DURATION.value in bad_duration.json()["errors"]
    too_long = await stack.submit_window(plan_id=plan_id, date=date, time=time, duration="8d")
    assert "7 days" in too_long.json()["errors"][BlockId.WINDOW_DURATION.value]
    past_date, past_time = window_in(stack.clock, hours=-2)
    past = await stack.submit_window(plan_id=plan_id, date=past_date, time=past_time, duration="4h")
    assert "in the past" in past.json()["errors"][BlockId.WINDOW_DATE.value]
    missing = await stack.submit_window(plan_id=plan_id, date=date, time="", duration="4h")
    assert BlockId.WINDOW_TIME.value in missing.json()["errors"]
    assert stack.runtime.engine.status(plan_id=plan_id).window_start is None  # nothing was changed

    ok = await stack.submit_window(plan_id=plan_id, date=date, time=time, duration="2h30m")
    assert ok.status_code == 200 and ok.text == ""
    snap = stack.runtime.engine.status(plan_id=plan_id)
    assert snap.state is PlanState.SCHEDULED and snap.window_end is not None and snap.window_start is not None
    assert (snap.window_end - snap.window_start).total_seconds() == 150 * 60
    await stack.settle()
    assert any("Window set" in m.text for m in stack.slack.thread(CHANNEL, message.ts))


async def test_cancel_button(stack: Stack) -> None:
    plan_id = await planned(stack)
    message = stack.top_messages()[0]
    await stack.click(ActionId.CANCEL.value, value=str(plan_id), message=message, user="USTRANGER")
    await stack.settle()
    assert "Only the requester" in stack.ephemerals_for("USTRANGER")[-1].text
    await stack.click(ActionId.CANCEL.value, value=str(plan_id), message=message, user=REQUESTER)
    await stack.settle()
    assert stack.runtime.engine.status(plan_id=plan_id).state is PlanState.CANCELLED
    assert not [b for b in stack.top_messages()[0].blocks if b["type"] == "actions"]
    # Who cancelled is said once, with how: not "cancelled by @x: cancelled from the plan message by @x".
    replies = [m.text for m in stack.slack.channel_messages(CHANNEL) if m.thread_ts == message.ts]
    said = str([m.blocks for m in stack.slack.channel_messages(CHANNEL) if m.thread_ts == message.ts])
    assert replies and f"cancelled* by <@{REQUESTER}>: with the Cancel button of the plan message" in said
    assert said.count(f"<@{REQUESTER}>") == 1


async def test_a_button_without_a_plan_is_answered(stack: Stack) -> None:
    await planned(stack)
    message = stack.top_messages()[0]
    await stack.click(ActionId.RUN_CHECK.value, value="nonsense", message=message, user=REQUESTER)
    await stack.settle()
    assert "does not name a plan" in stack.ephemerals_for(REQUESTER)[-1].text
