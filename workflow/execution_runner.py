"""The engine's execution tasks: at most one loop per plan in this process, started on approval and
after a restart, stopped on cancel (``workflow.cancel_watch`` then records where the agents end).
"""

from __future__ import annotations

import asyncio

from dms.upgrade_path import Estimate
from workflow.context import WorkflowContext
from workflow.execution import Execution
from workflow.store import plans
from workflow.store.states import get_plan


class ExecutionRunner:
    def __init__(self, context: WorkflowContext) -> None:
        self._context = context
        self._tasks: dict[int, asyncio.Task[None]] = {}

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
        context = self._context
        with context.session() as session:
            plan = get_plan(session, plan_id=plan_id)
            dms_name = plan.dms_name
            path = plans.stored_path(session, plan)
            estimate = Estimate.model_validate(plan.estimate)
        async with context.dms_access.open(dms_name) as conn:
            execution = Execution(
                host=context, plan_id=plan_id, client=conn.client, driver=conn.driver,
                key_elements=list(conn.target.key_elements), path=path, estimate=estimate, dms_name=dms_name,
            )
            await execution.run()
