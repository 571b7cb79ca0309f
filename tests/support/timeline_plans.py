"""Real plans for the timeline tests: a finished two-hop upgrade, a failed one and one still executing,
each run by a real engine against its own simulated DMS (fast), their timelines taken from the database.

The engine's clock is a fake one while the plan is prepared (the pre-check and the approval request are
due a day apart), then follows the wall clock for the execution, whose step times are wall-clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from dms.catalog import load_catalog
from simulator import SimulatedDms
from tests.support.approvers import StaticApprovers
from tests.support.clock import FakeClock
from tests.support.notifier import RecordingNotifier
from tests.support.polling import wait_until
from tests.workflow.conftest import APPROVER, Harness, engine_settings, sim_config
from workflow.dms_access import DmsAccess
from workflow.engine import UpgradeEngine
from workflow.model.clock import utc_now
from workflow.store.database import make_engine, migrate
from workflow.store.states import PlanState
from workflow.timeline import Timeline

KINDS = ("finished", "failed", "executing")
STARTUP_MINUTES = 30.0


class LiveAfterPrepare(FakeClock):
    """A fake clock until ``go_live()``; the wall clock after it."""

    live = False

    def __call__(self) -> datetime:
        return utc_now() if self.live else self.now

    def go_live(self) -> None:
        self.live = True


async def real_timeline(tmp_path: Path, kind: str) -> Timeline:
    """Run one plan of ``kind`` (see KINDS) and return its timeline."""
    # Agents take 30 simulated minutes (0.9 s here) to start, so the engine's polls (30 ms, plus a status call
    # the orchestrating agent does not answer, retried) see every agent
    # down even on a busy machine; the estimate knows it, so the hop deadlines are long enough.
    sim = SimulatedDms(sim_config(startup_minutes=STARTUP_MINUTES))
    await sim.start()
    db = make_engine(f"sqlite:///{tmp_path / f'{kind}.db'}")
    migrate(db)
    clock = LiveAfterPrepare(utc_now() - timedelta(hours=31))
    settings = engine_settings(dms_url=sim.url, database_url=str(db.url),
                               agent_startup_minutes=STARTUP_MINUTES)
    engine = UpgradeEngine(settings=settings, db=db, catalog=load_catalog(), notifier=RecordingNotifier(),
                           approvers=StaticApprovers(settings.upgrade_approvers),
                           dms_access=DmsAccess(settings=settings), clock=clock)
    harness = Harness(engine=engine, notifier=RecordingNotifier(), clock=clock, sim=sim, settings=settings)
    try:
        snap = await harness.ready_plan(target="10.4")
        clock.go_live()
        if kind == "failed":
            sim.inject("agent_fails_to_start", agent=4)
        elif kind == "executing":
            sim.inject("agent_stuck_starting", agent=2)
        await engine.approve(plan_id=snap.id, actor=APPROVER)
        if kind == "executing":
            await wait_until(lambda: engine.status(plan_id=snap.id).hops[0].wait_started_at is not None
                             and any(a["status"] != "Running" for a in engine.status(plan_id=snap.id).agents),
                             what="the first hop to be restarting agents")
            timeline = engine.timeline(snap.id)
            await engine.cancel(plan_id=snap.id, actor=APPROVER, reason="test over")
        else:
            await engine.settle(timeout_s=20)
            timeline = engine.timeline(snap.id)
        expected = {"finished": PlanState.DONE, "failed": PlanState.FAILED, "executing": PlanState.EXECUTING}
        assert timeline.state is expected[kind], timeline.state
        return timeline
    finally:
        await engine.stop()
        engine.scheduler.stop()
        db.dispose()
        await sim.stop()
