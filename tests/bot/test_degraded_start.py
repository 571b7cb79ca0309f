"""Degraded start: the bot starts and serves whatever its DMS's state, /healthz says whether each DMS
answers, and an upgrade resumed while the DMS is down waits for it (saying so once) and finishes."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select

from bot.app import HttpServer, Runtime, start_http
from bot.settings import Settings
from handlers.delivery.slack_web import make_web_client
from handlers.ids import ActionId
from simulator import SimulatedDms
from tests.handlers.conftest import CHANNEL, TOKEN, Stack, app_settings, awaiting_approval, sim_config
from tests.support.clock import FakeClock
from tests.support.fake_slack_faults import FaultySlack
from tests.support.polling import wait_until
from workflow.store.states import PlanState
from workflow.store.tables import PlanHop

# Slower than the other Slack tests, so that the bot can be stopped in the middle of a hop.
SPEED = 600.0
LOST, BACK = "does not answer", "answers again"
OPS_TOKEN = "degraded-start-ops-token"


async def _start(settings: Settings, clock: FakeClock, slack_url: str) -> tuple[Runtime, HttpServer]:
    client = make_web_client(token=TOKEN, base_url=slack_url, jitter=0.0, backoff_factor=0.01)
    runtime = Runtime(settings, clock=clock, web_client=client, pacer_interval_s=0.01)
    await runtime.start()
    return runtime, await start_http(runtime, host="127.0.0.1", port=0)


@pytest.fixture
async def slack() -> AsyncIterator[FaultySlack]:
    fake = FaultySlack()
    await fake.start()
    yield fake
    await fake.stop()


def _hop_in_progress(runtime: Runtime, plan_id: int) -> bool:
    with Session(runtime.db) as session:
        hops = session.exec(select(PlanHop).where(PlanHop.plan_id == plan_id)).all()
    return any(h.upgrade_done_at is not None and h.wait_done_at is None for h in hops)


async def test_a_bot_restarted_while_the_dms_is_down_starts_at_once_and_finishes(
    tmp_path: Path, slack: FaultySlack
) -> None:
    sim = SimulatedDms(sim_config(speed=SPEED))
    await sim.start()
    clock = FakeClock()
    settings = app_settings(dms_url=sim.url, database_url=f"sqlite:///{tmp_path / 'app.db'}",
                            slack_api_url=slack.base_url, dms_time_scale=SPEED, dms_poll_seconds=0.02 * SPEED,
                            ops_token=OPS_TOKEN)
    runtime, server = await _start(settings, clock, slack.base_url)
    http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=10)
    stack = Stack(runtime=runtime, server=server, slack=slack, sim=sim, clock=clock, http=http)
    try:
        plan_id, approval = await awaiting_approval(stack)
        await stack.click(ActionId.APPROVE.value, value=str(plan_id), message=approval, user="UAPP1")
        await wait_until(lambda: _hop_in_progress(runtime, plan_id), timeout_s=30, what="a hop in progress")
        await http.aclose()
        await server.stop()
        await runtime.stop()  # the process goes away mid-hop ...
        for agent in (1, 2, 3, 4):  # ... and the DMS does not answer (the bot also asks the other agents)
            sim.inject("agent_unreachable", agent=agent)

        began = time.monotonic()
        runtime, server = await _start(settings, clock, slack.base_url)
        assert time.monotonic() - began < 5.0  # no waiting for the DMS
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as http:
            async def health() -> Any:
                # The details (each DMS) need the token on the app's port.
                return (await http.get("/healthz", headers={"Authorization": f"Bearer {OPS_TOKEN}"})).json()

            await wait_until(lambda: _reachable(health), timeout_s=20, what="/healthz asking the DMS")
            body = await health()
            assert body["ok"] is True and body["dms"]["default"]["reachable"] is False
            status = await http.post("/slack/events", content=b"", headers={})  # serving (unsigned: refused)
            assert status.status_code == 401
            parent = stack.top_messages()[0]

            def said(text: str) -> int:
                return sum(text in m.text for m in slack.thread(CHANNEL, parent.ts))

            await wait_until(lambda: said(LOST) == 1, timeout_s=20, what="the thread hearing of the outage")
            assert runtime.engine.status(plan_id=plan_id).state is PlanState.EXECUTING
            sim.clear()
            await wait_until(lambda: runtime.engine.status(plan_id=plan_id).state is PlanState.DONE,
                             timeout_s=60, what="the upgrade finishing")
            await runtime.settle()
            assert said(LOST) == 1 and said(BACK) == 1
            triggered = sim.state()["upgrades_triggered"]
            assert triggered and set(triggered.values()) == {1}, triggered
    finally:
        await server.stop()
        await runtime.stop()
        await sim.stop()


async def _reachable(health: Any) -> bool:
    return (await health())["dms"]["default"]["reachable"] is not None
