"""This process among the replicas sharing one database.

Every replica's scheduler runs the scheduled jobs: APScheduler's job store is shared, and each run of a job
is claimed in the database before it runs (``workflow.scheduler``), so the first replica to see it due takes
it and two replicas share a fleet's pre-checks. Every third of a lease length this process also (1) holds or
tries to take the ``scheduler`` lease, which now only names a leader for operators (``dmu_scheduler_leader``)
and wakes the scheduler to look at jobs other replicas stored; (2) starts the execution of every in-flight
plan that runs nowhere in this process: the execution runs only if it gets the plan's lease, i.e. when no
other live process holds it; and (3) likewise starts the watch of every CANCELLING plan watched nowhere in
this process (``workflow.cancel_watch``, under the same lease). A single process (SQLite) therefore resumes
everything at its first pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from workflow.cancel_watch import CancelWatcher
from workflow.context import WorkflowContext
from workflow.execution_runner import ExecutionRunner
from workflow.leases import HeldLease
from workflow.model.states import IN_FLIGHT
from workflow.scheduler import PlanScheduler
from workflow.store import database, plans
from workflow.store.leases import SCHEDULER
from workflow.store.states import PlanState

log = logging.getLogger(__name__)


class Replica:
    def __init__(self, context: WorkflowContext, *, executions: ExecutionRunner, scheduler: PlanScheduler,
                 cancel_watch: CancelWatcher) -> None:
        self._context = context
        self._executions = executions
        self._cancel_watch = cancel_watch
        self._scheduler = scheduler
        self._ttl_s = context.settings.lease_seconds
        self._leader = HeldLease(context.db, name=SCHEDULER, owner=executions.owner, ttl_s=self._ttl_s)
        self.leading = False
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """One pass now (so a single process resumes its plans at once), then one every third of a lease."""
        await self.tick()
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="replica")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._scheduler.pause()  # no job starts here any more; the other replicas claim the due ones
        if self.leading:
            self.leading = False
            with database.patience():
                await database.off_loop(self._leader.release)
            log.info("handed back the scheduler lease: another process holds it from its next pass")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._ttl_s / 3)
            try:
                await self.tick()
            except Exception:  # a database hiccup must not end the replica's duties for good
                log.exception("replica pass failed; trying again")

    async def tick(self) -> None:
        with database.patience():  # background work, off the loop
            held = await database.off_loop(
                self._leader.renew if self.leading else lambda: self._leader.acquire()[0])
            self._lead(held)
            active = await self._context.unit(lambda session: sorted(
                (p.id, p.state) for p in plans.active_plans(session) if p.id is not None))
        for plan_id, state in active:
            if state in IN_FLIGHT and not self._executions.running(plan_id):
                self._executions.start(plan_id)  # runs only if it gets the plan's lease
            elif state == PlanState.CANCELLING and not self._cancel_watch.running(plan_id):
                self._cancel_watch.start(plan_id)  # likewise; the actor and reason come from the audit

    def _lead(self, held: bool) -> None:
        if held and not self.leading:
            log.info("this process holds the scheduler lease (every replica runs the jobs it claims first)")
        elif not held and self.leading:
            log.warning("scheduler lease lost: another process holds it")
        self.leading = held
        self._scheduler.wakeup()  # jobs another replica stored meanwhile
