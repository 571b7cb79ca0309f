"""The roles over real HTTP: a bystander's clicks and forms are refused to them alone, audited, and change
nothing (a bystander moved a window to 2027 and ticked "Backup taken")."""

from __future__ import annotations

from sqlmodel import select

from handlers.ids import ActionId, BlockId
from tests.handlers.conftest import CHANNEL, SECRET, Stack, plan_message
from tests.handlers.listeners.test_actions import checkbox_block, item_of, planned
from tests.support import slack_requests as sr
from workflow.store import database
from workflow.store.tables import AuditEvent

BYSTANDER = "UBYSTANDER"


def refused_actions(stack: Stack, actor: str) -> list[str]:
    with database.session(stack.runtime.db) as session:
        rows = session.exec(select(AuditEvent).where(AuditEvent.actor == actor))
        return [row.action for row in rows if row.action.endswith(".refused")]


async def test_a_bystander_cannot_move_the_window(stack: Stack) -> None:
    plan_id = await planned(stack)
    message = await plan_message(stack)
    before = stack.runtime.engine.status(plan_id=plan_id)
    await stack.click(ActionId.SET_WINDOW.value, value=str(plan_id), message=message, user=BYSTANDER)
    await stack.settle()
    assert not stack.slack.calls_for("views.open")  # no form for them
    assert "may set the window" in stack.ephemerals_for(BYSTANDER)[-1].text
    # A form opened earlier (or forged metadata) is refused on submit too, as a field error.
    response = await stack.submit_window(plan_id=plan_id, date="2027-01-01", time="10:00", duration="4h",
                                         user=BYSTANDER)
    assert response.status_code == 200
    assert "may set the window" in response.json()["errors"][BlockId.WINDOW_DATE.value]
    after = stack.runtime.engine.status(plan_id=plan_id)
    assert (after.window_start, after.window_end) == (before.window_start, before.window_end)
    assert refused_actions(stack, BYSTANDER) == ["window.refused", "window.refused"]


async def test_a_bystander_cannot_tick_backup_taken_or_run_the_check(stack: Stack) -> None:
    plan_id = await planned(stack)
    message = await plan_message(stack)
    block = checkbox_block(message.blocks, "details.backup")
    accessory = block["accessory"]
    chosen = [*accessory.get("initial_options", []),
              next(o for o in accessory["options"] if o["value"] == "details.backup")]
    response = await stack.post(sr.block_actions(
        signing_secret=SECRET, action_id=accessory["action_id"], block_id=block["block_id"],
        action_type="checkboxes", selected_options=chosen, message_ts=message.ts, user_id=BYSTANDER,
        channel_id=CHANNEL,
    ))
    assert response.status_code == 200
    await stack.settle()
    assert not item_of(stack, plan_id, "details.backup").checked
    told = stack.ephemerals_for(BYSTANDER)[-1].text
    assert "Not changed" in told and "may tick the preparation items" in told
    await stack.click(ActionId.RUN_CHECK.value, value=str(plan_id), message=message, user=BYSTANDER)
    await stack.settle()
    assert "may run the pre-upgrade check" in stack.ephemerals_for(BYSTANDER)[-1].text
    assert stack.runtime.engine.status(plan_id=plan_id).precheck is None
    assert refused_actions(stack, BYSTANDER) == ["checklist.preparation.refused", "check.refused"]
