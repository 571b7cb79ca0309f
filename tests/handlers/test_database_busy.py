"""A database locked by another process: a listener answers "the bot's database is busy" within Slack's
3 seconds (never the SQL error), /healthz fails, and a running upgrade waits for the database and finishes."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bot import health
from handlers.ids import ActionId
from tests.handlers.conftest import APPROVER, REQUESTER, Stack, awaiting_approval
from tests.handlers.stacks import custom_stack
from tests.support.polling import wait_until
from workflow.store.states import PlanState

BUSY = "database is busy"


@contextmanager
def locked(stack: Stack) -> Iterator[None]:
    """Another process's write transaction on the bot's SQLite file."""
    database = stack.runtime.db.url.database
    assert database is not None
    other = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.rollback()
        other.close()


async def test_a_listener_says_the_database_is_busy_within_three_seconds(stack: Stack) -> None:
    with locked(stack):
        began = time.monotonic()
        response = await stack.slash("status")
        assert response.status_code == 200
        await wait_until(lambda: any(BUSY in m.text for m in stack.ephemerals_for(REQUESTER)), timeout_s=5,
                         what="the busy answer")
        assert time.monotonic() - began < 3.0
    text = next(m.text for m in stack.ephemerals_for(REQUESTER) if BUSY in m.text)
    assert "sqlite" not in text.lower() and "locked" not in text.lower()


async def test_healthz_fails_while_the_database_cannot_be_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(health, "HEALTH_TIMEOUT_S", 0.5)
    # Every probe writes (no answer kept between probes), so the lock is seen at once.
    async with custom_stack(tmp_path, ops_db_check_seconds=0) as stack:
        assert (await stack.http.get("/healthz")).status_code == 200
        with locked(stack):
            answer = await stack.http.get("/healthz")
            assert (answer.status_code, answer.text) == (503, "unavailable")
        await wait_until(lambda: stack.runtime.db_ok(), timeout_s=40, what="the database free again")

        async def healthy() -> bool:
            return (await stack.http.get("/healthz")).status_code == 200

        await wait_until(healthy, timeout_s=10, what="/healthz answering ok again")


async def test_a_running_upgrade_waits_for_a_locked_database_and_finishes(stack: Stack) -> None:
    plan_id, approval = await awaiting_approval(stack)
    release = threading.Event()
    database = stack.runtime.db.url.database
    assert database is not None

    def hold_lock() -> None:
        other = sqlite3.connect(database, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        release.wait(timeout=30)
        other.rollback()
        other.close()

    await stack.click(ActionId.APPROVE.value, value=str(plan_id), message=approval, user=APPROVER)
    await wait_until(lambda: _hop_in_progress(stack, plan_id), timeout_s=20, what="a hop in progress")
    holder = threading.Thread(target=hold_lock)
    holder.start()  # the execution's next writes meet the lock
    try:
        await wait_until(lambda: _waited(stack), timeout_s=10, what="the execution meeting the lock")
    finally:
        release.set()
        holder.join(timeout=10)
    await wait_until(lambda: stack.runtime.engine.status(plan_id=plan_id).state is PlanState.DONE,
                     timeout_s=60, what="the upgrade finishing")
    await stack.settle()
    said = " ".join(m.text for m in stack.slack.channel_messages("C0UPGRADES"))
    assert "failed" not in said.lower() and "sqlite" not in said.lower()


def _hop_in_progress(stack: Stack, plan_id: int) -> bool:
    hops = stack.runtime.engine.status(plan_id=plan_id).hops
    return any(h.upgrade_done_at is not None and h.wait_done_at is None for h in hops)


def _waited(stack: Stack) -> bool:
    return stack.runtime.engine.executions.db_waits > 0
