"""The engine's execution tasks: at most one loop per plan in this process, started on approval and
after a restart, stopped on cancel (``workflow.cancel_watch`` then records where the agents end).

Across processes, a plan's loop runs only while this process holds the plan's lease (``workflow.leases``):
taken before any step, renewed while it runs, checked before every DMS call that changes something, and
released when the loop ends. A process that finds the lease held by another simply does not run the loop.
"""

from __future__ import annotations

import asyncio
import logging

from sqlmodel import Session

from dms.upgrade_path import Estimate, UpgradePath
from workflow.context import WorkflowContext
from workflow.execution import BOT, Execution
from workflow.leases import HeldLease, replica_owner
from workflow.model.errors import DatabaseBusy
from workflow.store import audit, database, plans
from workflow.store.leases import plan_lease
from workflow.store.states import PlanState, get_plan

log = logging.getLogger(__name__)

DB_RETRY_S = 1.0


class ExecutionRunner:
    def __init__(self, context: WorkflowContext, *, owner: str | None = None) -> None:
        self._context = context
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self.owner = owner or replica_owner()
        self.db_waits = 0  # times an execution waited for the database (tests, metrics)

    def running(self, plan_id: int) -> bool:
        task = self._tasks.get(plan_id)
        return task is not None and not task.done()

    def start(self, plan_id: int) -> None:
        running = self._tasks.get(plan_id)
        if running is not None and not running.done():
            return  # an approval racing a resume must not start a second loop on the same cluster
        self._tasks[plan_id] = self._context.spawn(self._execute(plan_id), name=f"execute-plan-{plan_id}")

    async def stop(self, plan_id: int) -> None:
        task = self._tasks.pop(plan_id, None)
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _execute(self, plan_id: int) -> None:
        with database.patience():  # background work: waits out a busy database longer than a listener
            await self._execute_patiently(plan_id)

    async def _execute_patiently(self, plan_id: int) -> None:
        context = self._context
        lease = HeldLease(context.db, name=plan_lease(plan_id), owner=self.owner,
                          ttl_s=context.settings.lease_seconds)
        async with lease.held() as (taken, previous):
            if not taken:
                log.debug("plan #%s is executed by another process (it holds the lease)", plan_id)
                return
            found = await context.unit(lambda session: self._load(session, plan_id, previous=previous))
            if found is None:
                return  # it ended while this process waited for the lease
            dms_name, path, estimate = found
            if previous is not None:
                log.warning("plan #%s: taking over its execution from %s", plan_id, previous)
            while True:
                try:
                    async with context.dms_access.open(dms_name) as conn:
                        await Execution(
                            host=context, plan_id=plan_id, client=conn.client, driver=conn.driver,
                            key_elements=list(conn.target.key_elements), path=path, estimate=estimate,
                            dms_name=dms_name, lease=lease,
                        ).run()
                    return
                except DatabaseBusy:
                    self.db_waits += 1
                    # Every step is recorded before and after it acts, so resuming from the database
                    # once it answers again is safe; a database outage alone never fails the upgrade.
                    log.warning("plan #%s: the database is unavailable; resuming when it answers", plan_id)
                    await asyncio.sleep(DB_RETRY_S)

    def _load(self, session: Session, plan_id: int, *, previous: str | None
              ) -> tuple[str, UpgradePath, Estimate] | None:
        """What the loop needs, or None when the plan is no longer in flight; audits a takeover."""
        plan = get_plan(session, plan_id=plan_id)
        if not PlanState(plan.state).in_flight:
            return None
        if previous is not None:
            audit.record(session, actor=BOT, action="lease.takeover", plan_id=plan_id,
                         reason="the previous owner's lease expired",
                         detail={"previous": previous, "owner": self.owner}, now=self._context.now())
        return plan.dms_name, plans.stored_path(session, plan), Estimate.model_validate(plan.estimate)
