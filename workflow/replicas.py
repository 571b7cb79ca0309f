"""This process among the replicas sharing one database.

Every third of a lease length it (1) tries to hold the scheduler's lease: the holder runs the scheduled
jobs (APScheduler's job store is shared, its scheduler is not safe to run twice), the others keep their
scheduler paused and only store jobs; and (2) starts the execution of every in-flight plan that runs
nowhere in this process: the execution runs only if it gets the plan's lease, i.e. when no other live
process holds it; and (3) likewise starts the watch of every CANCELLING plan watched nowhere in this
process (``workflow.cancel_watch``, under the same lease). A single process (SQLite) therefore leads and
resumes everything at its first pass.
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
        if self.leading:
            # Paused before the lease goes, so that no job starts here once another process may lead.
            self._scheduler.pause()
            self.leading = False
            with database.patience():
                await database.off_loop(self._leader.release)
            log.info("handed back the scheduler lease: another process runs the scheduled jobs from its next "
                     "pass")

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
            log.info("this process runs the scheduled jobs (it holds the scheduler lease)")
            self._scheduler.resume()
        elif not held and self.leading:
            log.warning("scheduler lease lost: another process runs the scheduled jobs")
            self._scheduler.pause()
        self.leading = held
        if held:
            self._scheduler.wakeup()  # jobs another replica stored meanwhile
