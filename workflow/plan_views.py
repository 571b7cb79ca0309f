"""What the engine shows without changing anything: a plan's snapshot, the latest plans, a person's App
Home and a plan's timeline. The engine facade exposes these as ``engine.status``, ``history``, ``home`` and
``timeline``, which read on the caller's thread (tests, the console, the pool's threads); listeners use the
``read_*`` forms, which read off the event loop (``workflow.store.database.off_loop``).
"""

from __future__ import annotations

from workflow.approvals import ApproverDirectory
from workflow.context import WorkflowContext
from workflow.dms_access import DmsAccess
from workflow.home import HomeView, load_home
from workflow.model.errors import NotFound, UserError
from workflow.store import database, plans
from workflow.store.snapshot import PlanSnapshot, load_snapshot
from workflow.timeline import Timeline, load_timeline


class PlanViews:
    def __init__(
        self, context: WorkflowContext, *, dms_access: DmsAccess, approvers: ApproverDirectory
    ) -> None:
        self._context = context
        self._dms_access = dms_access
        self._approvers = approvers

    def status(
        self, *, plan_id: int | None = None, channel: str | None = None, dms: str | None = None
    ) -> PlanSnapshot:
        """One plan, or (None) the latest active plan on that DMS / in that channel / anywhere."""
        if plan_id is not None:
            return self._context.snapshot(plan_id)
        dms_name = self._dms_access.target(dms).name if dms else None
        with self._context.session() as session:
            for plan in plans.active_plans(session):
                if plan.id is None or (dms_name is not None and plan.dms_name != dms_name):
                    continue
                if channel is None or plan.channel == channel:
                    return load_snapshot(session, plan_id=plan.id)
        raise NotFound("There is no active upgrade plan. Start one with /dm-upgrade plan <version>.")

    async def read_status(
        self, *, plan_id: int | None = None, channel: str | None = None, dms: str | None = None
    ) -> PlanSnapshot:
        return await database.off_loop(lambda: self.status(plan_id=plan_id, channel=channel, dms=dms))

    async def read_history(self, *, limit: int = 10) -> list[PlanSnapshot]:
        return await database.off_loop(lambda: self.history(limit=limit))

    async def read_timeline(self, plan_id: int) -> Timeline:
        return await database.off_loop(self.timeline, plan_id)

    def history(self, *, limit: int = 10) -> list[PlanSnapshot]:
        if not 1 <= limit <= 100:
            raise UserError("History shows between 1 and 100 plans")
        with self._context.session() as session:
            return [load_snapshot(session, plan_id=row.id) for row in plans.history(session, limit=limit)
                    if row.id is not None]

    async def home(self, *, user: str) -> HomeView:
        """What the App Home tab shows ``user`` (``workflow.home``)."""
        is_approver = await self._approvers.is_approver(user)
        settings = self._context.settings
        return await self._context.unit(lambda session: load_home(
            session, user=user, is_approver=is_approver, allow_self_approval=settings.allow_self_approval,
            now=self._context.now()))

    def timeline(self, plan_id: int) -> Timeline:
        """Where the plan's time went so far (``workflow.timeline``); NotFound if there is no such plan."""
        with self._context.session() as session:
            return load_timeline(session, plan_id=plan_id, now=self._context.now(),
                                 time_scale=self._context.settings.dms_time_scale)
