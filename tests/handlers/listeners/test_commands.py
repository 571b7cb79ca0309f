"""``/dm-upgrade`` over real HTTP: help, status, history, check, cancel, and the ack that never waits."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from handlers.blocks.render import render_message
from tests.handlers.conftest import APPROVER, CHANNEL, REQUESTER, Stack, wait_until
from workflow.store.states import PlanState


async def new_plan(stack: Stack) -> int:
    await stack.slash("plan 10.4")
    await stack.settle()
    return stack.runtime.engine.status(channel=CHANNEL).id


async def test_help_answers_in_the_ack(stack: Stack) -> None:
    for text in ("", "help"):
        response = await stack.slash(text)
        assert response.status_code == 200
        assert "plan &lt;version&gt;" in response.text and "UTC" in response.text and "2h30m" in response.text
    await stack.settle()
    assert not stack.slack.calls_for("chat.postMessage")


async def test_status_without_and_with_a_plan(stack: Stack) -> None:
    await stack.slash("status")
    await stack.settle()
    assert "no active upgrade plan" in stack.ephemerals_for(REQUESTER)[-1].text
    plan_id = await new_plan(stack)
    await stack.slash(f"status {plan_id}", user=APPROVER)
    await stack.settle()
    short = render_message(stack.ephemerals_for(APPROVER)[-1].blocks).text
    assert short.startswith(f"Plan #{plan_id}") and "Next:" in short and "☐" not in short
    assert len(short.splitlines()) <= 12 and f"/dm-upgrade status {plan_id} full" in short
    await stack.slash(f"status {plan_id} full", user=APPROVER)
    await stack.settle()
    answer = stack.ephemerals_for(APPROVER)[-1]
    rendered = render_message(answer.blocks, answer.text)
    assert f"Upgrade plan #{plan_id}" in rendered.text and "☐" in rendered.text
    assert not rendered.elements  # an ephemeral copy offers nothing to click
    await stack.slash("status 999")
    await stack.settle()
    assert "999" in stack.ephemerals_for(REQUESTER)[-1].text


async def test_history_lists_plans(stack: Stack) -> None:
    await stack.slash("history")
    await stack.settle()
    assert "no plans yet" in str(stack.ephemerals_for(REQUESTER)[-1].blocks)
    plan_id = await new_plan(stack)
    await stack.slash("history")
    await stack.settle()
    assert f"Plan #{plan_id}" in str(stack.ephemerals_for(REQUESTER)[-1].blocks)


async def test_check_runs_the_precheck_and_reports_in_the_thread(stack: Stack) -> None:
    plan_id = await new_plan(stack)
    response = await stack.slash("check")
    assert "Working on it" in response.text
    await stack.settle()
    assert f"plan #{plan_id} started" in stack.ephemerals_for(REQUESTER)[-1].text
    plan = stack.top_messages()[0]
    assert any("Pre-upgrade check" in m.text for m in stack.slack.thread(CHANNEL, plan.ts))


async def test_cancel_is_for_the_requester_or_an_approver(stack: Stack) -> None:
    plan_id = await new_plan(stack)
    await stack.slash(f"cancel {plan_id}", user="USTRANGER")
    await stack.settle()
    assert "Only the requester or an upgrade approver" in stack.ephemerals_for("USTRANGER")[-1].text
    assert stack.runtime.engine.status(plan_id=plan_id).state is not PlanState.CANCELLED
    await stack.slash(f"cancel {plan_id} wrong target")
    await stack.settle()
    assert stack.runtime.engine.status(plan_id=plan_id).state is PlanState.CANCELLED
    plan = stack.top_messages()[0]
    broadcast = [m for m in stack.slack.thread(CHANNEL, plan.ts) if m.reply_broadcast]
    assert broadcast and "wrong target" in str(broadcast[-1].blocks)
    assert "State: *cancelled*" in str(plan.blocks)


async def test_the_ack_does_not_wait_for_the_engine(stack: Stack, monkeypatch: Any) -> None:
    release = asyncio.Event()
    engine = stack.runtime.engine
    real = engine.create_plan

    async def slow_create_plan(**kwargs: Any) -> Any:
        await release.wait()  # a DMS that takes its time
        return await real(**kwargs)

    monkeypatch.setattr(engine, "create_plan", slow_create_plan)
    started = time.monotonic()
    response = await stack.slash("plan 10.4")
    assert response.status_code == 200 and "Working on it" in response.text
    assert time.monotonic() - started < 1.0
    assert engine.history(limit=10) == []
    work = stack.runtime.listener_work
    assert work.running == 1 and work.awaiting_ack == 0  # acked; the work goes on after the answer
    release.set()
    await wait_until(lambda: bool(stack.top_messages()), what="the plan message")


async def test_plan_on_a_named_dms(stack: Stack) -> None:
    await stack.slash("plan 10.5 on nowhere")
    await stack.settle()
    assert "no DMS target named 'nowhere' (known: default)" in stack.ephemerals_for(REQUESTER)[-1].text
    assert not stack.top_messages()  # nothing was planned
    await stack.slash("plan 10.5 on default")
    await stack.settle()
    assert "Upgrade plan #" in str(stack.top_messages()[-1].blocks)
