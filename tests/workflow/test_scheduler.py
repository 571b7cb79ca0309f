"""Scheduled work: the job logic with a fake clock, and the real APScheduler firing, surviving a
restart and running a late job once (or reporting it missed), never twice."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlmodel import Session, select

from tests.support.polling import wait_until
from tests.workflow.conftest import REQUESTER, Harness, tick_manual
from workflow.events import ApprovalRequested, ReminderDue, StateChanged, UpgradeExpired, UploadOnlyRequested
from workflow.scheduler import PlanScheduler, job_id
from workflow.store.database import make_engine
from workflow.store.states import PlanState
from workflow.store.tables import AuditEvent, CheckRun


async def _scheduled(h: Harness, *, hours_ahead: float = 30, minutes: int = 240) -> int:
    snap = await h.engine.create_plan(target="10.4", track=None,
                                      window_start=h.clock.now + timedelta(hours=hours_ahead),
                                      window_minutes=minutes, requester=REQUESTER, channel="C1")
    assert snap.state is PlanState.SCHEDULED
    return snap.id


async def test_a_plan_gets_four_jobs_at_the_right_times(harness: Harness) -> None:
    plan_id = await _scheduled(harness, hours_ahead=30)
    jobs = harness.engine.scheduler.jobs(plan_id=plan_id)
    assert set(jobs) == {job_id(plan_id, kind) for kind in ("precheck", "reminder", "approval", "expiry")}
    wall = datetime.now(UTC)
    expected = {"precheck": 6, "reminder": 28, "approval": 30, "expiry": 34}
    for kind, hours in expected.items():
        delta = jobs[job_id(plan_id, kind)] - (wall + timedelta(hours=hours))
        assert abs(delta.total_seconds()) < 60, kind
    await harness.engine.cancel(plan_id=plan_id, actor=REQUESTER, reason="not needed")
    assert harness.engine.scheduler.jobs(plan_id=plan_id) == {}


async def test_job_logic_with_a_fake_clock(harness: Harness) -> None:
    h = harness
    plan_id = await _scheduled(h)
    await h.engine.on_reminder_due(plan_id)
    reminders = h.notifier.of_type(ReminderDue)
    assert len(reminders) == 1 and any("Backup" in title for title in reminders[0].open_items)
    await tick_manual(h.engine, plan_id)
    await h.engine.on_reminder_due(plan_id)
    assert len(h.notifier.of_type(ReminderDue)) == 1  # nothing open: no reminder
    # The window opens before any pre-check ran: the check runs first, then approval is asked.
    h.clock.advance(hours=30)
    await h.engine.on_approval_due(plan_id)
    assert h.engine.status(plan_id=plan_id).state is PlanState.AWAITING_APPROVAL
    assert len(h.notifier.of_type(ApprovalRequested)) == 1
    await h.engine.on_approval_due(plan_id)  # idempotent
    assert len(h.notifier.of_type(ApprovalRequested)) == 1
    h.clock.advance(hours=4)
    await h.engine.on_window_closed(plan_id)
    assert h.engine.status(plan_id=plan_id).state is PlanState.EXPIRED
    await h.engine.on_window_closed(plan_id)
    assert len(h.notifier.of_type(UpgradeExpired)) == 1
    assert h.engine.scheduler.jobs(plan_id=plan_id) == {}


async def test_precheck_runs_at_once_when_the_lead_time_already_passed(harness: Harness) -> None:
    await harness.engine.start()
    plan_id = await _scheduled(harness, hours_ahead=2)  # less than the 24 h lead
    await wait_until(lambda: harness.engine.status(plan_id=plan_id).state is PlanState.PRECHECKED,
                     what="the pre-check job to run")
    assert job_id(plan_id, "precheck") not in harness.engine.scheduler.jobs(plan_id=plan_id)


async def test_a_window_starting_now_runs_one_precheck_and_asks_for_upload_once(harness: Harness) -> None:
    """The pre-check job and the approval job both fire at once: the approval request waits for the
    pre-check in progress instead of running a second one (which would ask for Upload only again)."""
    h = harness
    await h.engine.start()
    snap = await h.engine.create_plan(target="10.4", track=None, window_start=h.clock.now, window_minutes=60,
                                      requester=REQUESTER, channel="C1")
    await wait_until(lambda: h.engine.status(plan_id=snap.id).state is PlanState.AWAITING_APPROVAL,
                     what="the approval request")
    await h.engine.settle(timeout_s=10)
    with Session(h.engine.db) as session:
        runs = session.exec(select(CheckRun).where(CheckRun.plan_id == snap.id)).all()
    assert [run.kind for run in runs] == ["precheck"]
    async with httpx.AsyncClient(base_url=h.sim.url) as client:
        assert (await client.get("/_sim/state")).json()["uploads"] == {}  # Upload only is a person's step
    assert len(h.notifier.of_type(UploadOnlyRequested, plan_id=snap.id)) == 1
    assert len(h.notifier.of_type(ApprovalRequested)) == 1


async def test_the_scheduler_really_fires_a_job(harness: Harness) -> None:
    await harness.engine.start()
    plan_id = await _scheduled(harness)
    harness.engine.scheduler.schedule(plan_id=plan_id, kind="expiry",
                                      at=harness.clock.now + timedelta(seconds=0.2), grace_s=None)
    await wait_until(lambda: harness.engine.status(plan_id=plan_id).state is PlanState.EXPIRED,
                     timeout_s=5, what="the expiry job to fire")
    await harness.engine.settle(timeout_s=5)  # its events follow the state change
    assert len(harness.notifier.of_type(UpgradeExpired)) == 1


async def test_a_job_due_while_down_runs_once_at_start(make_harness: Callable[..., Harness]) -> None:
    first = make_harness()
    await first.engine.start()
    plan_id = await _scheduled(first)
    due = first.engine.scheduler.schedule(plan_id=plan_id, kind="expiry",
                                          at=first.clock.now + timedelta(seconds=0.3), grace_s=None)
    await first.engine.stop()  # the program goes down before the job is due
    await wait_until(lambda: datetime.now(UTC) > due + timedelta(seconds=0.1), what="the due time to pass")
    assert first.engine.status(plan_id=plan_id).state is PlanState.SCHEDULED

    second = make_harness()
    await second.engine.start()
    await wait_until(lambda: second.engine.status(plan_id=plan_id).state is PlanState.EXPIRED, timeout_s=5,
                     what="the late job to run")
    await second.engine.settle(timeout_s=5)
    # Restart once more: the job is gone from the store and nothing runs twice.
    await second.engine.stop()
    third = make_harness()
    await third.engine.start()
    assert job_id(plan_id, "expiry") not in third.engine.scheduler.jobs()
    with Session(third.engine.db) as session:
        expired = session.exec(select(AuditEvent).where(AuditEvent.to_state == "expired")).all()
    assert len(expired) == 1
    assert len([e for e in second.notifier.of_type(StateChanged) if e.to_state == "expired"]) == 1
    await third.engine.stop()


async def test_a_job_past_its_grace_is_reported_missed(make_harness: Callable[..., Harness]) -> None:
    first = make_harness()
    await first.engine.start()
    plan_id = await _scheduled(first)
    due = first.engine.scheduler.schedule(plan_id=plan_id, kind="reminder",
                                          at=first.clock.now + timedelta(seconds=0.1), grace_s=1)
    await first.engine.stop()
    start = time.monotonic()
    await wait_until(lambda: datetime.now(UTC) > due + timedelta(seconds=1.2), what="the grace to pass")
    assert time.monotonic() - start < 5
    second = make_harness()
    await second.engine.start()

    def missed() -> bool:
        with Session(second.engine.db) as session:
            row = session.exec(select(AuditEvent).where(AuditEvent.action == "job.missed")).first()
            return row is not None

    await wait_until(missed, timeout_s=5, what="the missed job to be reported")
    assert not second.notifier.of_type(ReminderDue)
    await second.engine.stop()


async def test_jobs_in_progress_follows_apschedulers_own_events(tmp_path: Path) -> None:
    """The console's "is the bot busy" comes from EVENT_JOB_SUBMITTED / EVENT_JOB_EXECUTED, not from
    APScheduler's private attributes."""
    release = asyncio.Event()
    started: list[int] = []

    class Target:
        async def on_precheck_due(self, plan_id: int) -> None: ...
        async def on_reminder_due(self, plan_id: int) -> None: ...
        async def on_approval_due(self, plan_id: int) -> None: ...
        async def on_job_missed(self, plan_id: int, *, kind: str, scheduled_for: datetime) -> None: ...

        async def on_window_closed(self, plan_id: int) -> None:
            started.append(plan_id)
            await release.wait()

    now = datetime.now(UTC)
    scheduler = PlanScheduler(db=make_engine(f"sqlite:///{tmp_path / 'jobs.db'}"), engine_key="test-progress",
                              target=Target(), clock=lambda: now)
    scheduler.start()
    try:
        assert scheduler.jobs_in_progress == 0
        scheduler.schedule(plan_id=7, kind="expiry", at=now, grace_s=None)
        await wait_until(lambda: scheduler.jobs_in_progress == 1 and started == [7], timeout_s=5,
                         what="the job to be submitted")
        release.set()
        await wait_until(lambda: scheduler.jobs_in_progress == 0, timeout_s=5, what="the job to finish")
    finally:
        scheduler.stop()
