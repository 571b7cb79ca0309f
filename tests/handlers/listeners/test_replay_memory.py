"""The replay memory lives in the database: a signed button request replayed after a restart, or to another
replica sharing the database, within Slack's 5 minutes, is acknowledged and ignored (one log line), and
nothing runs twice on the DMS."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest
from sqlmodel import select

from bot.app import Runtime, start_http
from handlers.delivery.slack_web import make_web_client
from handlers.ids import ActionId
from handlers.listeners.request_guard import RequestGuard
from tests.handlers.conftest import CHANNEL, REQUESTER, SECRET, TOKEN, Stack, plan_message
from tests.handlers.listeners.test_actions import planned
from tests.support import slack_requests as sr
from tests.support.clock import FakeClock
from workflow.replays import ReplayMemory
from workflow.store import database
from workflow.store.tables import CheckRun

REPLAYED = "ignored a replayed Slack request"


@dataclass
class Replica:
    runtime: Runtime
    http: httpx.AsyncClient

    async def post(self, request: sr.Request) -> httpx.Response:
        body, headers = request
        return await self.http.post("/slack/events", content=body, headers=headers)


@asynccontextmanager
async def another_app(stack: Stack) -> AsyncIterator[Replica]:
    """A second process's app: its own runtime, guard and HTTP server, on the stack's database."""
    client = make_web_client(token=TOKEN, base_url=stack.runtime.settings.slack_api_url, jitter=0.0,
                             backoff_factor=0.01)
    runtime = Runtime(stack.runtime.settings, clock=FakeClock(), web_client=client, pacer_interval_s=0.01)
    await runtime.start()
    server = await start_http(runtime, host="127.0.0.1", port=0)
    http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=10)
    try:
        yield Replica(runtime=runtime, http=http)
    finally:
        await http.aclose()
        await server.stop()
        await runtime.stop()


async def run_check_click(stack: Stack) -> tuple[int, sr.Request]:
    plan_id = await planned(stack)
    message = await plan_message(stack)
    click = sr.block_actions(signing_secret=SECRET, action_id=ActionId.RUN_CHECK.value, block_id="b",
                             value=str(plan_id), message_ts=message.ts, user_id=REQUESTER, channel_id=CHANNEL)
    first = await stack.post(click)
    await stack.settle()
    assert first.status_code == 200
    return plan_id, click


def check_runs(stack: Stack, plan_id: int) -> int:
    with database.session(stack.runtime.db) as session:
        return len(list(session.exec(select(CheckRun).where(CheckRun.plan_id == plan_id))))


async def test_a_button_replayed_after_a_restart_is_ignored(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    plan_id, click = await run_check_click(stack)
    assert check_runs(stack, plan_id) == 1
    await stack.server.stop()
    await stack.runtime.stop()  # the process ends; a new one starts on the same database
    caplog.set_level(logging.INFO)
    async with another_app(stack) as restarted:
        again = await restarted.post(click)  # seconds later, inside Slack's 5 minutes
        await restarted.runtime.settle(timeout_s=30)
        assert again.status_code == 200 and again.text == ""
        with database.session(restarted.runtime.db) as session:
            runs = list(session.exec(select(CheckRun).where(CheckRun.plan_id == plan_id)))
    assert len(runs) == 1  # the pre-check ran once: nothing asked of the DMS again
    assert len([r for r in caplog.records if REPLAYED in r.getMessage()]) == 1


async def test_a_button_replayed_to_another_replica_is_ignored(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    plan_id, click = await run_check_click(stack)
    caplog.set_level(logging.INFO)
    async with another_app(stack) as other:
        again = await other.post(click)
        await other.runtime.settle(timeout_s=30)
        assert again.status_code == 200 and again.text == ""
        assert check_runs(stack, plan_id) == 1
        # Both replicas remember it; a third delivery to the first is ignored too, by its own memory.
        assert (await stack.post(click)).status_code == 200
        await stack.settle()
    assert check_runs(stack, plan_id) == 1
    assert len([r for r in caplog.records if REPLAYED in r.getMessage()]) == 2
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


async def test_a_request_that_failed_on_our_side_is_forgotten_in_the_shared_memory(stack: Stack) -> None:
    body = b"command=%2Fdm-upgrade&text=status"
    headers = sr.signed_headers(body, signing_secret=SECRET)
    one, two, three = (RequestGuard(signing_secret=SECRET, shared=ReplayMemory(stack.runtime.db))
                       for _ in "123")
    first = await one.admit(body, headers)
    assert first.status is None
    assert (await two.admit(body, headers)).status == 200
    await one.unclaim(first.key)  # answered 5xx: a retry of it must be served
    assert (await three.admit(body, headers)).status is None


async def test_a_locked_database_costs_the_guard_a_quarter_second_and_lets_the_request_in(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    guard = RequestGuard(signing_secret=SECRET, shared=ReplayMemory(stack.runtime.db))
    body = b"command=%2Fdm-upgrade&text=status"
    headers = sr.signed_headers(body, signing_secret=SECRET)
    path = stack.runtime.db.url.database
    assert path is not None
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        began = time.monotonic()
        verdict = await guard.admit(body, headers)
        waited = time.monotonic() - began
        other.execute("ROLLBACK")
    finally:
        other.close()
    assert verdict.status is None and waited < 1.5, waited
    assert "replay memory's database did not answer in time" in caplog.text
    assert (await guard.admit(body, headers)).status == 200  # this process still remembers it


async def test_a_replay_after_a_restart_inside_a_burst_is_refused_and_the_burst_costs_few_transactions(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Claims are batched (group commit): a burst is a handful of units of work, and a request replayed
    after a restart, arriving in the middle of new ones, is still refused while every new one is let in."""
    before = RequestGuard(signing_secret=SECRET, shared=ReplayMemory(stack.runtime.db))
    captured = b"command=%2Fdm-upgrade&text=plan+10.4"
    captured_headers = sr.signed_headers(captured, signing_secret=SECRET)
    assert (await before.admit(captured, captured_headers)).status is None  # served, then the process ends
    units = 0
    run_unit = database.run_unit

    async def counted(*args: object, **kwargs: object) -> object:
        nonlocal units
        units += 1
        return await run_unit(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(database, "run_unit", counted)
    restarted = RequestGuard(signing_secret=SECRET, shared=ReplayMemory(stack.runtime.db))
    fresh = [f"command=%2Fdm-upgrade&text=status+{n}".encode() for n in range(30)]
    requests = [(body, sr.signed_headers(body, signing_secret=SECRET)) for body in fresh]
    requests.insert(15, (captured, captured_headers))
    verdicts = await asyncio.gather(*(restarted.admit(body, headers) for body, headers in requests))
    statuses = [verdict.status for verdict in verdicts]
    assert statuses[15] == 200 and verdicts[15].key == ""  # the replay: acknowledged, handed to nobody
    assert statuses[:15] + statuses[16:] == [None] * 30
    assert 1 <= units <= 3, units
