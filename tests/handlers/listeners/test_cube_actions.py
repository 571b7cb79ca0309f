"""The watch driver over signed HTTP requests: each Cube step is a thread message with a "Done in Cube"
button; the requester's or an approver's click confirms it, anyone else's is refused ephemerally."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.console.fake_slack import FakeMessage
from handlers.blocks.render import render_message
from handlers.ids import ActionId
from tests.handlers.conftest import (
    APPROVER,
    CHANNEL,
    REQUESTER,
    Stack,
    awaiting_approval,
)
from tests.handlers.stacks import custom_stack
from tests.support.polling import wait_until
from workflow.store.states import PlanState


@pytest.fixture
async def watch_stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with custom_stack(tmp_path, sim_options={"play_cube": True}, dms_driver="watch",
                            sim_play_cube=True) as built:
        yield built


async def step_message(stack: Stack, plan_ts: str, words: str) -> FakeMessage:
    def find() -> FakeMessage | None:
        return next((m for m in stack.slack.thread(CHANNEL, plan_ts)
                     if words in m.text and render_message(m.blocks).elements), None)

    await wait_until(lambda: find() is not None, what=words)
    found = find()
    assert found is not None
    return found


async def test_done_in_cube_confirms_each_step_and_refuses_strangers(watch_stack: Stack) -> None:
    stack = watch_stack
    plan_id, approval = await awaiting_approval(stack)
    await stack.click(ActionId.APPROVE.value, value=str(plan_id), message=approval, user=APPROVER)
    plan_ts = stack.top_messages()[0].ts
    for hop in (1, 2):
        for step in ("Upload only", "Upgrade"):
            message = await step_message(stack, plan_ts, f"hop {hop}")
            assert step in message.text, message.text
            (button,) = render_message(message.blocks).elements
            assert button.label == "Done in Cube"
            await stack.settle()
            response = await stack.click(ActionId.CUBE_DONE.value, value=str(button.value), message=message,
                                         user="USTRANGER")
            assert response.status_code == 200
            await stack.settle()
            assert any("Not confirmed" in m.text for m in stack.ephemerals_for("USTRANGER"))
            await stack.click(ActionId.CUBE_DONE.value, value=str(button.value), message=message,
                              user=REQUESTER)
            await wait_until(lambda m=message: "confirmed by" in stack.slack.message(CHANNEL, m.ts).text,
                             what="the step confirmed")
    await wait_until(lambda: stack.runtime.engine.status(plan_id=plan_id).state is PlanState.DONE,
                     timeout_s=20, what="the upgrade to finish")
    assert {a["version"] for a in stack.sim.state()["agents"]} == {"10.4.0 CU21"}
