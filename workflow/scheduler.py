"""Scheduled work per plan (pre-check, reminder, approval request, expiry) in APScheduler 3.x.

Jobs live in the application's own database (``SQLAlchemyJobStore`` on the same engine), so they
survive restarts. APScheduler pickles a *reference* to each job function, so the functions are plain
module-level coroutines that take ``(engine_key, plan_id)`` and find the running engine through a small
registry; the engine holds the logic (``on_precheck_due`` ...), which tests call directly with a fake clock.

Exactly-once: a date-triggered job is removed from the store as soon as it is submitted, ``coalesce``
folds several missed runs into one, and a job whose time passed while the program was down runs once at
start within its grace time, or is reported as missed (an audit entry), never twice. The engine's job
methods are idempotent on top of that: they act only if the plan is still in the state they expect.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobEvent,
    JobExecutionEvent,
    JobSubmissionEvent,
)
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine

from workflow.leases import replica_owner
from workflow.model.clock import Clock, utc_now
from workflow.store import database
from workflow.store import leases as lease_store

log = logging.getLogger(__name__)

JOB_KINDS = ("precheck", "reminder", "approval", "expiry")
JOB_CLAIM_TTL_S = 24 * 3600.0  # a run's claim outlives any clock skew and retry between replicas
JOBS_TABLE = "apscheduler_jobs"


class JobTarget(Protocol):
    """What the scheduled jobs call: the engine implements it."""

    async def on_precheck_due(self, plan_id: int) -> None: ...
    async def on_reminder_due(self, plan_id: int) -> None: ...
    async def on_approval_due(self, plan_id: int) -> None: ...
    async def on_window_closed(self, plan_id: int) -> None: ...
    async def on_job_missed(self, plan_id: int, *, kind: str, scheduled_for: datetime) -> None: ...


# engine_key -> the engine running in this process and its event loop. The key is stable across restarts
# (derived from the database URL), so a job stored before a crash finds the new engine after it.
_REGISTRY: dict[str, tuple[JobTarget, asyncio.AbstractEventLoop, Callable[[str], bool]]] = {}


def register(
    key: str, target: JobTarget, loop: asyncio.AbstractEventLoop, claim: Callable[[str], bool]
) -> None:
    _REGISTRY[key] = (target, loop, claim)


def unregister(key: str) -> None:
    _REGISTRY.pop(key, None)


def _run(key: str, call: Callable[[JobTarget], Awaitable[None]], *, claim_name: str) -> None:
    """On a scheduler thread: claim this run of the job (every replica's scheduler sees the same due jobs;
    the first claim wins), then run the engine's coroutine on its loop and wait for it, so the job counts as
    in progress until the engine's work ends (the console and tests wait for running jobs)."""
    found = _REGISTRY.get(key)
    if found is None:
        log.warning("scheduled job for engine %r fired but no such engine runs in this process", key)
        return
    target, loop, claim = found
    if not claim(claim_name):
        log.info("scheduled job %s runs in another replica", claim_name)
        return

    async def job() -> None:
        await call(target)

    try:
        future = asyncio.run_coroutine_threadsafe(job(), loop)
    except RuntimeError:  # the loop closed: the process is stopping; the job's plan is picked up at start
        log.warning("scheduled job for engine %r fired while its event loop was stopping", key)
        return
    # Not waited for here: a scheduler thread per running job would start a fleet's pre-checks in waves of
    # the pool's size. The engine's work counts as running until its coroutine ends (``jobs_in_progress``).
    with _RUNNING_LOCK:
        _RUNNING.setdefault(key, set()).add(future)
    future.add_done_callback(lambda done: _finished(key, done))


def _finished(key: str, future: concurrent.futures.Future[None]) -> None:
    with _RUNNING_LOCK:
        _RUNNING.get(key, set()).discard(future)
    if not future.cancelled() and future.exception() is not None:
        log.error("scheduled job of engine %r failed", key, exc_info=future.exception())


def _running(key: str) -> list[concurrent.futures.Future[None]]:
    with _RUNNING_LOCK:
        return [future for future in _RUNNING.get(key, set()) if not future.done()]


# The engine coroutines scheduled jobs started, per engine, so a stop can cancel them and the console can
# wait for them.
_RUNNING: dict[str, set[concurrent.futures.Future[None]]] = {}
_RUNNING_LOCK = threading.Lock()


# ``run_at``: the run's wall-clock time as stored with the job (jobs stored before it have none), so a job
# moved to a new time is a new run to claim.
def precheck_job(engine_key: str, plan_id: int, run_at: str = "") -> None:
    _run(engine_key, lambda target: target.on_precheck_due(plan_id),
         claim_name=_claim_name(plan_id, "precheck", run_at))


def reminder_job(engine_key: str, plan_id: int, run_at: str = "") -> None:
    _run(engine_key, lambda target: target.on_reminder_due(plan_id),
         claim_name=_claim_name(plan_id, "reminder", run_at))


def approval_job(engine_key: str, plan_id: int, run_at: str = "") -> None:
    _run(engine_key, lambda target: target.on_approval_due(plan_id),
         claim_name=_claim_name(plan_id, "approval", run_at))


def expiry_job(engine_key: str, plan_id: int, run_at: str = "") -> None:
    _run(engine_key, lambda target: target.on_window_closed(plan_id),
         claim_name=_claim_name(plan_id, "expiry", run_at))


def _claim_name(plan_id: int, kind: str, run_at: str) -> str:
    return f"job:{job_id(plan_id, kind)}@{run_at[:32]}"


_FUNCTIONS: dict[str, Callable[..., None]] = {
    "precheck": precheck_job,
    "reminder": reminder_job,
    "approval": approval_job,
    "expiry": expiry_job,
}


def job_id(plan_id: int, kind: str) -> str:
    return f"plan-{plan_id}-{kind}"


def _parse_job_id(text: str) -> tuple[int, str] | None:
    parts = text.split("-")
    if len(parts) == 3 and parts[0] == "plan" and parts[1].isdigit() and parts[2] in JOB_KINDS:
        return int(parts[1]), parts[2]
    return None


class SharedJobStore(SQLAlchemyJobStore):
    """The job store every replica's scheduler reads: a due job is taken by each of them, and the ones that
    come second find it removed already. APScheduler's own store raises then, inside the scheduler's thread,
    which ends it; here that is the expected case (the run itself is claimed, see ``_run``)."""

    def remove_job(self, job_id: str) -> None:
        with contextlib.suppress(JobLookupError):
            super().remove_job(job_id)

    def update_job(self, job: Any) -> None:
        with contextlib.suppress(JobLookupError):
            super().update_job(job)


class PlanScheduler:
    """The plan jobs of one engine. ``clock`` is the engine's clock: times given to ``schedule`` are in
    that clock and are translated to the wall clock by their distance from it (a fake clock in tests)."""

    def __init__(
        self,
        *,
        db: Engine,
        engine_key: str,
        target: JobTarget,
        clock: Clock,
        wall_clock: Clock = utc_now,
        owner: str | None = None,
    ) -> None:
        self._engine_key = engine_key
        self._db = db
        self._owner = owner or replica_owner()
        self._target = target
        self._clock = clock
        self._wall = wall_clock
        # A scheduler of its own thread, not the event loop's: its job store is the database, and reading it
        # on the loop would freeze every listener while another process holds a lock.
        self._scheduler = BackgroundScheduler(
            jobstores={"default": SharedJobStore(engine=db, tablename=JOBS_TABLE)},
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone=UTC,
        )
        self._scheduler.add_listener(self._on_event, EVENT_JOB_MISSED | EVENT_JOB_ERROR)
        # Which jobs run right now, from APScheduler's own events (a due coroutine job runs as a task
        # of this loop that nothing else tracks): the console waits for them before its next line.
        self._in_progress: dict[str, int] = {}
        self._progress_lock = threading.Lock()
        progress = EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED | EVENT_JOB_ERROR
        self._scheduler.add_listener(self._on_progress, progress)
        self._reports: set[asyncio.Task[None]] = set()  # keep references until the reports are written
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    @property
    def jobs_in_progress(self) -> int:
        """Jobs submitted to the executor and not finished yet."""
        with self._progress_lock:
            submitted = sum(1 for count in self._in_progress.values() if count > 0)
        return submitted + len(_running(self._engine_key))

    def _on_progress(self, event: JobEvent) -> None:
        # A count, not a set: a job's worker thread can report it done before the scheduler's thread
        # reports it submitted, and the two must still cancel out.
        with self._progress_lock:
            step = 1 if isinstance(event, JobSubmissionEvent) else -1
            count = self._in_progress.get(event.job_id, 0) + step
            if count:
                self._in_progress[event.job_id] = count
            else:
                self._in_progress.pop(event.job_id, None)

    def _claim(self, name: str) -> bool:
        """On a scheduler thread: take this run of a job for this process (a lease that is never renewed
        and expires after a day); False when another replica took it. A database that does not answer
        lets the job run: the engine's jobs act only on a plan in the state they expect, so a second run
        does nothing, while a lost run would leave a plan waiting."""
        if self._db.dialect.name == "sqlite":
            # One process per SQLite file (replicas share PostgreSQL): nobody to share with, and a claim is
            # one more write for a fleet's pre-checks due together to queue behind.
            return True
        try:
            with database.session(self._db) as session:
                taken, _ = lease_store.acquire(session, name=name, owner=self._owner, ttl_s=JOB_CLAIM_TTL_S)
                if taken:
                    lease_store.prune(session, prefix="job:", limit=100)
                return taken
        except Exception as exc:
            log.warning("claiming scheduled job %s failed (%s); running it here", name, type(exc).__name__)
            return True

    def start(self, *, paused: bool = False) -> None:
        """Start processing; call inside the running event loop. Stored jobs that are due run now.
        ``paused``: jobs are stored but none runs until ``resume()`` (a replica that does not lead)."""
        self._loop = asyncio.get_running_loop()
        register(self._engine_key, self._target, self._loop, self._claim)
        if not self._scheduler.running:
            self._scheduler.start(paused=paused)

    def pause(self) -> None:
        if self._scheduler.running:
            self._scheduler.pause()

    def resume(self) -> None:
        if self._scheduler.running:
            self._scheduler.resume()

    def wakeup(self) -> None:
        """Look at the job store again: another replica may have stored a job due earlier."""
        if self._scheduler.running:
            self._scheduler.wakeup()

    def stop(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        for future in _running(self._engine_key):  # their coroutines would never end once the loop stops
            future.cancel()
        unregister(self._engine_key)

    def schedule(self, *, plan_id: int, kind: str, at: datetime, grace_s: float | None) -> datetime:
        """(Re)place the ``kind`` job of a plan to run at ``at`` (engine clock; past = at once).

        ``grace_s`` is how late the job may still run after a restart (None: no limit). Returns the
        wall-clock time the job was given."""
        if kind not in _FUNCTIONS:
            raise ValueError(f"unknown job kind {kind!r}")
        delay = max(timedelta(0), at - self._clock())
        run_at = self._wall() + delay
        self._scheduler.add_job(
            _FUNCTIONS[kind],
            trigger="date",
            run_date=run_at,
            args=[self._engine_key, plan_id, run_at.isoformat()],
            id=job_id(plan_id, kind),
            name=f"{kind} of plan #{plan_id}",
            replace_existing=True,
            misfire_grace_time=None if grace_s is None else max(1, int(grace_s)),
            coalesce=True,
        )
        return run_at

    def cancel(self, *, plan_id: int, kinds: tuple[str, ...] = JOB_KINDS) -> None:
        for kind in kinds:
            with contextlib.suppress(JobLookupError):
                self._scheduler.remove_job(job_id(plan_id, kind))

    def jobs(self, *, plan_id: int | None = None) -> dict[str, datetime]:
        """Pending jobs: id -> wall-clock run time (of one plan, or all)."""
        result: dict[str, datetime] = {}
        for job in self._scheduler.get_jobs():
            parsed = _parse_job_id(job.id)
            if parsed is None or (plan_id is not None and parsed[0] != plan_id):
                continue
            # Before start() a job is pending and has no next_run_time yet; its date trigger knows.
            when = getattr(job, "next_run_time", None) or getattr(job.trigger, "run_date", None)
            if when is not None:
                result[job.id] = when
        return result

    def _on_event(self, event: JobExecutionEvent) -> None:
        """On the scheduler's thread: log a failure; hand a missed job's report to the loop."""
        parsed = _parse_job_id(event.job_id)
        if event.code == EVENT_JOB_ERROR:
            log.error("scheduled job %s failed: %r", event.job_id, event.exception)
            return
        log.warning("scheduled job %s missed its time %s", event.job_id, event.scheduled_run_time)
        if parsed is not None and self._loop is not None and not self._loop.is_closed():
            plan_id, kind = parsed
            self._loop.call_soon_threadsafe(self._report_missed, plan_id, kind, event.scheduled_run_time)

    def _report_missed(self, plan_id: int, kind: str, scheduled_for: datetime) -> None:
        task = asyncio.get_running_loop().create_task(
            self._target.on_job_missed(plan_id, kind=kind, scheduled_for=scheduled_for))
        self._reports.add(task)
        task.add_done_callback(self._reports.discard)
