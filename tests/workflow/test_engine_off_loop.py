"""The engine with its database locked by another connection: a listener-facing call keeps the event loop
free, raises DatabaseBusy within Slack's budget and changes nothing; a running execution waits for the
lock (without failing, without counting a retry when the lock is short) and finishes."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from tests.support.polling import wait_until
from tests.workflow.conftest import APPROVER, REQUESTER, Harness
from tests.workflow.store.test_database_off_loop import Heartbeat, locked
from workflow.model.errors import DatabaseBusy
from workflow.store import database
from workflow.store.states import PlanState


async def test_listener_calls_on_a_locked_database_are_busy_in_time_and_the_loop_keeps_ticking(
    harness: Harness,
) -> None:
    engine = harness.engine
    snap = await engine.create_plan(target="10.4", track=None, window_start=None, window_minutes=None,
                                    requester=REQUESTER, channel="C1")
    assert snap.state is PlanState.PLANNED
    calls = {
        "set_window": lambda: engine.set_window(plan_id=snap.id, start=harness.clock.now + timedelta(hours=2),
                                                minutes=60, actor=REQUESTER),
        "cancel": lambda: engine.cancel(plan_id=snap.id, actor=REQUESTER, reason="no"),
        "status": lambda: engine.read_status(plan_id=snap.id),
        "home": lambda: engine.home(user=REQUESTER),
    }
    with locked(engine.db), Heartbeat() as heart:
        for name, call in calls.items():
            began = time.monotonic()
            with pytest.raises(DatabaseBusy):
                await call()
            assert time.monotonic() - began < 2.5, name  # within Slack's 3 s, with room for a loaded machine
    assert heart.max_lag_s < 0.1, heart.max_lag_s
    after = engine.status(plan_id=snap.id)
    assert after.state is PlanState.PLANNED and after.window_start is None  # nothing changed


async def test_an_execution_waits_for_a_locked_database_and_finishes(harness: Harness) -> None:
    engine = harness.engine
    snap = await harness.ready_plan()
    await engine.approve(plan_id=snap.id, actor=APPROVER)
    await wait_until(lambda: any(h.upload_done_at is not None for h in engine.status(plan_id=snap.id).hops),
                     what="the first upload done")
    # Held longer than a listener may wait, shorter than background work may: the execution's next
    # writes wait in the pool's threads, and succeed once the lock goes.
    hold_s = database.LOOP_LOCK_WAIT_MS / 1000 + 0.5
    with locked(engine.db), Heartbeat() as heart:
        began = time.monotonic()
        while time.monotonic() - began < hold_s:
            await wait_until(lambda: heart.beats > 0, what="a beat")  # the loop turns meanwhile
            heart.beats = 0
    assert heart.max_lag_s < 0.1, heart.max_lag_s
    await wait_until(lambda: engine.status(plan_id=snap.id).state is PlanState.DONE, timeout_s=30,
                     what="the upgrade finishing")
    await engine.settle()
    assert engine.executions.db_waits == 0  # waited in place: no failed attempt, no resume
