"""Durable execution: kill the engine's process with SIGKILL mid-upgrade, start it again, and prove the
upgrade finishes, no version was triggered twice, and the audit log is intact. Plus the fail-safe case:
an upgrade recorded as started while every agent still runs the old version is never triggered again."""

from __future__ import annotations

import itertools
import os
import select
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, col
from sqlmodel import select as sql_select

from dms.catalog import load_catalog
from tests.support.approvers import StaticApprovers
from tests.support.notifier import RecordingNotifier
from tests.workflow.conftest import APPROVER, FakeClock, Harness, engine_settings
from workflow import approvals
from workflow.dms_access import DmsAccess
from workflow.engine import UpgradeEngine
from workflow.store import plans
from workflow.store.database import session as db_session
from workflow.store.states import PlanState
from workflow.store.tables import AuditEvent, PlanHop

ROOT = Path(__file__).resolve().parents[2]
RUNNER = "tests.workflow.recovery_runner"
SPEED = 300.0  # slower than the other tests, so that a hop lasts long enough to be killed in


def _spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", RUNNER, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _read_line(process: subprocess.Popen[str], *, prefix: str, timeout_s: float) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout_s
    seen: list[str] = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        if line.startswith(prefix):
            return line[len(prefix):].strip()
    raise AssertionError(f"no line starting {prefix!r} within {timeout_s}s; output: {''.join(seen)}")


def _poll(predicate: Any, *, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _hop_in_progress(db: Engine, plan_id: int) -> bool:
    with Session(db) as session:
        hops = session.exec(sql_select(PlanHop).where(PlanHop.plan_id == plan_id)).all()
    return any(h.upgrade_done_at is not None and h.wait_done_at is None for h in hops)


async def test_sigkill_mid_upgrade_then_restart_finishes_exactly_once(db: Engine, db_url: str) -> None:
    sim = _spawn("sim", "--speed", str(SPEED))
    children = [sim]
    try:
        url = _read_line(sim, prefix="DMS_URL=", timeout_s=20)
        clock = FakeClock()
        settings = engine_settings(dms_url=url, database_url=db_url, dms_time_scale=SPEED)
        engine = UpgradeEngine(
            settings=settings, db=db, catalog=load_catalog(), notifier=RecordingNotifier(),
            approvers=StaticApprovers(settings.upgrade_approvers), dms_access=DmsAccess(settings=settings),
            clock=clock,
        )
        harness = Harness(engine=engine, notifier=RecordingNotifier(), clock=clock, sim=None,  # type: ignore[arg-type]
                          settings=settings)
        snap = await harness.ready_plan(target="10.4")
        common = ["--db", db_url, "--dms", url, "--speed", str(SPEED)]
        began = time.monotonic()

        def now() -> list[str]:
            # Each process's clock starts where the previous one's is now, so the engine's clock (which
            # stamps the audit rows) keeps running forward across the crash, as the wall clock would.
            return ["--now", (clock.now + timedelta(seconds=time.monotonic() - began)).isoformat()]

        first = _spawn("engine", *common, *now(), "--approve", str(snap.id))
        children.append(first)
        _poll(lambda: _hop_in_progress(db, snap.id), timeout_s=30, what="a hop in progress")
        os.kill(first.pid, signal.SIGKILL)
        assert first.wait(timeout=10) == -signal.SIGKILL
        assert harness.engine.status(plan_id=snap.id).state is PlanState.EXECUTING

        second = _spawn("engine", *common, *now())
        children.append(second)
        output, _ = second.communicate(timeout=60)
        assert second.returncode == 0, output
        assert "engine settled" in output

        final = harness.engine.status(plan_id=snap.id)
        assert final.state is PlanState.DONE, output
        state = httpx.get(f"{url}/_sim/state", timeout=5).json()
        assert state["upgrades_triggered"] == {"10.3.0 CU22": 1, "10.4.0 CU21": 1}
        assert {agent["version"] for agent in state["agents"]} == {"10.4.0 CU21"}
        _assert_audit_intact(db, snap.id, hops=len(final.hops))
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait(timeout=10)
            if child.stdout is not None:
                child.stdout.close()


def _assert_audit_intact(db: Engine, plan_id: int, *, hops: int) -> None:
    with Session(db) as session:
        rows = session.exec(
            sql_select(AuditEvent).where(AuditEvent.plan_id == plan_id).order_by(col(AuditEvent.id))
        ).all()
    ids = [row.id or 0 for row in rows]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(a.at <= b.at for a, b in itertools.pairwise(rows))
    transitions = [(row.from_state, row.to_state) for row in rows if row.action == "transition"]
    assert transitions == [
        ("planned", "scheduled"), ("scheduled", "prechecked"), ("prechecked", "awaiting_approval"),
        ("awaiting_approval", "executing"), ("executing", "verifying"), ("verifying", "done"),
    ]
    steps = Counter(row.action for row in rows if row.action.startswith("hop."))
    assert set(steps.values()) == {hops}, steps  # every step of every hop recorded exactly once
    assert len(steps) == 6


async def _crash_after_upgrade_started(harness: Harness, snap_id: int) -> None:
    """The state a crash leaves between "upgrade started" and the DMS receiving (or answering) the call."""
    with db_session(harness.engine.db) as session:
        approvals.decide(session, plan_id=snap_id, actor=APPROVER, decision="approved", reason="",
                         is_approver=True, allow_self_approval=False, now=harness.clock.now)
        hop = plans.hops(session, plan_id=snap_id)[0]
        assert hop.id is not None
        for step, event in (("upload", "started"), ("upload", "done"), ("upgrade", "started")):
            plans.mark_step(session, hop_id=hop.id, step=step, event=event)  # type: ignore[arg-type]


async def test_an_upgrade_whose_start_never_reached_the_dms_is_started_once_after_a_restart(
    harness: Harness,
) -> None:
    # Before, the bot could not tell "not triggered" from "triggered, not begun" and failed the plan. The job
    # id comes from the plan and hop now, so the restarted bot asks the DMS: no record, so it starts it.
    snap = await harness.ready_plan(target="10.4")
    await _crash_after_upgrade_started(harness, snap.id)
    await harness.engine.start()
    await harness.engine.settle(timeout_s=20)
    assert harness.engine.status(plan_id=snap.id).state is PlanState.DONE, harness.notifier.types()
    triggered = harness.sim.state()["upgrades_triggered"]
    assert triggered and set(triggered.values()) == {1}, triggered  # every hop once


async def test_an_upgrade_the_dms_already_runs_is_followed_not_started_again_after_a_restart(
    harness: Harness,
) -> None:
    snap = await harness.ready_plan(target="10.4")
    await _crash_after_upgrade_started(harness, snap.id)
    # The call reached the DMS before the crash: the same job, started by the bot before it died.
    from dms.client import DmsClient
    from dms.drivers import ScriptDriver
    from dms.script_runs import job_id
    from workflow.store.tables import UpgradePlan

    with db_session(harness.engine.db) as session:
        plan = session.get(UpgradePlan, snap.id)
        assert plan is not None
        job = job_id(plan_id=snap.id, plan_created=plan.created_at.isoformat(), hop_index=0)
        hop = plans.hops(session, plan_id=snap.id)[0].to_hop()
    async with DmsClient(url=harness.sim.url, user="admin", password="admin") as client:
        await ScriptDriver(client, package_folder=harness.settings.dms_package_folder).start_upgrade(hop=hop,
                                                                                                     job=job)
    await harness.engine.start()
    await harness.engine.settle(timeout_s=20)
    assert harness.engine.status(plan_id=snap.id).state is PlanState.DONE, harness.notifier.types()
    triggered = harness.sim.state()["upgrades_triggered"]
    assert triggered and set(triggered.values()) == {1}, triggered  # hop 1 by the first process only

