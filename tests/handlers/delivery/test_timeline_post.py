"""The timeline picture over the real app: uploaded (files upload v2) into the plan's thread when the plan
ends, and on ``/dm-upgrade timeline`` at any time; the fake Slack holds the bytes."""

from __future__ import annotations

import asyncio
import contextlib

from handlers.ids import ActionId
from tests.handlers.blocks.test_timeline_chart import png_size
from tests.handlers.conftest import APPROVER, CHANNEL, REQUESTER, Stack, awaiting_approval
from tests.support.polling import wait_until
from workflow.model.errors import IllegalTransition
from workflow.store.states import PlanState


def shared_pictures(stack: Stack, thread_ts: str) -> list[bytes]:
    pictures = []
    for message in stack.slack.thread(CHANNEL, thread_ts):
        for shared in message.files:
            content = stack.slack.extras.files[shared["id"]].content
            assert content is not None
            pictures.append(content)
    return pictures


async def test_the_picture_lands_in_the_thread_when_the_plan_is_done(stack: Stack) -> None:
    plan_id, approval = await awaiting_approval(stack)
    await stack.click(ActionId.APPROVE.value, value=str(plan_id), message=approval, user=APPROVER)
    await wait_until(lambda: stack.runtime.engine.status(plan_id=plan_id).state is PlanState.DONE,
                     timeout_s=30, what="the upgrade to finish")
    await stack.settle()
    assert approval.thread_ts is not None
    pictures = shared_pictures(stack, approval.thread_ts)
    assert len(pictures) == 1 and png_size(pictures[0])[0] == 1200
    methods = [c.method for c in stack.slack.calls if c.method.startswith("files.")]
    assert methods == ["files.getUploadURLExternal", "files.completeUploadExternal"]
    thread = stack.slack.thread(CHANNEL, approval.thread_ts)
    shared = next(m for m in thread if m.files)
    assert f"Timeline of plan #{plan_id} (done)" in shared.text
    # After the final result, which was queued first.
    done = next(i for i, m in enumerate(thread) if "Upgrade done" in m.text)
    assert thread.index(shared) > done


async def test_the_slash_command_posts_the_current_picture_during_the_execution(stack: Stack) -> None:
    plan_id, approval = await awaiting_approval(stack)
    stack.sim.inject("agent_stuck_starting", agent=2)  # keeps the first hop going
    await stack.click(ActionId.APPROVE.value, value=str(plan_id), message=approval, user=APPROVER)
    await wait_until(lambda: stack.runtime.engine.status(plan_id=plan_id).hops[0].wait_started_at is not None,
                     what="the first hop to restart agents")
    response = await stack.slash(f"timeline {plan_id}", user=REQUESTER)
    assert response.status_code == 200
    assert approval.thread_ts is not None
    await wait_until(lambda: len(shared_pictures(stack, approval.thread_ts or "")) == 1,
                     what="the picture in the thread")
    await wait_until(lambda: any(f"Timeline of plan #{plan_id} posted" in m.text
                                 for m in stack.ephemerals_for(REQUESTER)), what="the confirmation")
    with contextlib.suppress(IllegalTransition):  # the stuck agent may already have failed the plan
        await stack.runtime.engine.cancel(plan_id=plan_id, actor=APPROVER, reason="test over")
    await asyncio.wait_for(stack.settle(), timeout=30)
    assert stack.runtime.engine.status(plan_id=plan_id).terminal
    assert len(shared_pictures(stack, approval.thread_ts)) == 2  # and the final one when it ended


async def test_timeline_of_an_unknown_plan_says_so(stack: Stack) -> None:
    response = await stack.slash("timeline 99", user=REQUESTER)
    assert response.status_code == 200
    await wait_until(lambda: any("no upgrade plan #99" in m.text for m in stack.ephemerals_for(REQUESTER)),
                     what="the refusal")
    assert not stack.slack.calls_for("files.getUploadURLExternal")
