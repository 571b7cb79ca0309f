"""The plan's thread tells the story in order, read whole as a person scrolling it would: every hop started
then done, then the outcome, then the timeline picture last; on a cancel, "being cancelled" before the
outcome and the picture. Real app over HTTP, the fake Slack, a simulated DMS three hops from the target."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.console.fake_slack import FakeMessage
from handlers.blocks.render import render_message
from handlers.ids import ActionId
from tests.handlers.conftest import APPROVER, CHANNEL, REQUESTER, SPEED, Stack, awaiting_approval
from tests.handlers.stacks import custom_stack
from tests.support.polling import wait_until
from workflow.model.states import PlanState

FROM = "10.1.0 CU5"  # to 10.4: three hops (10.2, 10.3, 10.4)


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with custom_stack(tmp_path, sim_options={"version": FROM}) as built:
        yield built


@pytest.fixture
async def patient_stack(tmp_path: Path) -> AsyncIterator[Stack]:
    # The DMS's time passes slower for the bot, so a cancel surely arrives while a hop runs.
    scale = SPEED / 200
    async with custom_stack(tmp_path, sim_options={"version": FROM}, dms_time_scale=scale,
                            dms_poll_seconds=0.03 * scale) as built:
        yield built


def _thread(stack: Stack) -> list[FakeMessage]:
    return stack.slack.thread(CHANNEL, stack.top_messages()[0].ts)


def _story(stack: Stack) -> list[str]:
    """The thread as one line per message, the picture as ``[picture]``."""
    return ["[picture]" if m.files else m.text for m in _thread(stack)]


def _at(story: list[str], text: str) -> int:
    found = [i for i, line in enumerate(story) if text in line]
    assert len(found) == 1, (text, story)
    return found[0]


async def _picture_posted(stack: Stack) -> None:
    await wait_until(lambda: any(m.files for m in _thread(stack)), timeout_s=20, what="the timeline picture")
    await stack.settle()


async def test_a_multi_hop_upgrade_is_told_hop_by_hop_then_done_then_the_picture(stack: Stack) -> None:
    engine = stack.runtime.engine
    plan_id, approval = await awaiting_approval(stack)
    hops = len(engine.status(plan_id=plan_id).hops)
    assert hops == 3
    await stack.click(ActionId.APPROVE.value, value=str(plan_id), message=approval, user=APPROVER)
    await wait_until(lambda: engine.status(plan_id=plan_id).state is PlanState.DONE, timeout_s=30,
                     what="the upgrade to finish")
    await _picture_posted(stack)

    story = _story(stack)
    told = [_at(story, f"Hop {n}/{hops} {what}") for n in range(1, hops + 1) for what in ("started", "done")]
    assert told == sorted(told), story
    outcome = _at(story, "Upgrade done")
    assert told[-1] < outcome, story
    assert story[-1] == "[picture]" and story.count("[picture]") == 1, story


async def test_a_cancelled_upgrade_says_being_cancelled_then_cancelled_then_the_picture(
    patient_stack: Stack,
) -> None:
    stack = patient_stack
    engine = stack.runtime.engine
    plan_id, approval = await awaiting_approval(stack)
    stack.sim.inject("agent_stuck_starting")  # the first hop cannot finish: the cancel arrives mid-hop
    await stack.click(ActionId.APPROVE.value, value=str(plan_id), message=approval, user=APPROVER)
    await wait_until(lambda: engine.status(plan_id=plan_id).hops[0].upgrade_started_at is not None,
                     what="the first hop's upgrade")
    await stack.slash(f"cancel {plan_id} change freeze")
    await wait_until(lambda: any("Cancel plan" in m.text for m in stack.ephemerals_for(REQUESTER)),
                     what="the confirmation")
    prompt = next(m for m in stack.ephemerals_for(REQUESTER) if "Cancel plan" in m.text)
    button = render_message(prompt.blocks).elements[0]
    await stack.click(button.action_id, value=str(button.value), message=stack.top_messages()[0],
                      user=REQUESTER)
    await wait_until(lambda: engine.status(plan_id=plan_id).state is PlanState.CANCELLING,
                     what="the plan to be cancelling")
    stack.sim.clear("agent_stuck_starting")
    await wait_until(lambda: engine.status(plan_id=plan_id).state is PlanState.CANCELLED, timeout_s=30,
                     what="the agents to settle")
    await _picture_posted(stack)

    story = _story(stack)
    started = _at(story, "Hop 1/3 started")
    cancelling = _at(story, f"Plan #{plan_id} is being cancelled")
    outcome = story.index(f"Plan #{plan_id} cancelled")
    assert started < cancelling < outcome, story
    assert not any("Hop 2/3" in line for line in story), story  # no further hop was started
    assert story[-1] == "[picture]" and story.count("[picture]") == 1, story
