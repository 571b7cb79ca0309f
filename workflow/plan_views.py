"""What the engine shows without changing anything: a plan's snapshot, the latest plans, a person's App
Home and a plan's timeline, each one async reader that the engine facade exposes (``read_status``,
``read_snapshot``, ``read_history``, ``read_timeline``, ``home``).

Each reader is one unit of work run off the event loop (``WorkflowContext.unit``: ``database.run_unit``)
on the store's reading functions (``load_snapshot``, ``load_timeline``, ``workflow.home.load_home``). The
``*_unit`` methods build that unit of work: the engine's few synchronous forms, kept for callers that do not
await yet, run the very same one on their own thread.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session

from workflow.approvals import ApproverDirectory
from workflow.context import WorkflowContext
from workflow.dms_access import DmsAccess
from workflow.home import HomeView, load_home
from workflow.model.errors import NotFound, UserError
from workflow.store import plans
from workflow.store.snapshot import PlanSnapshot, load_snapshot
from workflow.timeline import Timeline, load_timeline


class PlanViews:
    def __init__(
        self, context: WorkflowContext, *, dms_access: DmsAccess, approvers: ApproverDirectory
    ) -> None:
        self._context = context
        self._dms_access = dms_access
        self._approvers = approvers

    async def status(
        self, *, plan_id: int | None = None, channel: str | None = None, dms: str | None = None
    ) -> PlanSnapshot:
        """One plan, or (None) the latest active plan on that DMS / in that channel / anywhere."""
        return await self._context.unit(self.status_unit(plan_id=plan_id, channel=channel, dms=dms))

    async def snapshot(self, plan_id: int) -> PlanSnapshot:
        """The plan as it is now; NotFound if there is no such plan."""
        return await self._context.unit(lambda session: load_snapshot(session, plan_id=plan_id))

    async def history(self, *, limit: int = 10) -> list[PlanSnapshot]:
        return await self._context.unit(self.history_unit(limit=limit))

    async def timeline(self, plan_id: int) -> Timeline:
        """Where the plan's time went so far (``workflow.timeline``); NotFound if there is no such plan."""
        return await self._context.unit(self.timeline_unit(plan_id))

    async def home(self, *, user: str) -> HomeView:
        """What the App Home tab shows ``user`` (``workflow.home``)."""
        is_approver = await self._approvers.is_approver(user)
        settings = self._context.settings
        return await self._context.unit(lambda session: load_home(
            session, user=user, is_approver=is_approver, allow_self_approval=settings.allow_self_approval,
            now=self._context.now()))

    # ------------------------------------------------------------------ the units of work

    def status_unit(
        self, *, plan_id: int | None = None, channel: str | None = None, dms: str | None = None
    ) -> Callable[[Session], PlanSnapshot]:
        # The DMS's name is resolved before the unit: an unknown DMS is refused without a database call.
        dms_name = self._dms_access.target(dms).name if dms and plan_id is None else None

        def unit(session: Session) -> PlanSnapshot:
            if plan_id is not None:
                return load_snapshot(session, plan_id=plan_id)
            for plan in plans.active_plans(session):
                if plan.id is None or (dms_name is not None and plan.dms_name != dms_name):
                    continue
                if channel is None or plan.channel == channel:
                    return load_snapshot(session, plan_id=plan.id)
            raise NotFound("There is no active upgrade plan. Start one with /dm-upgrade plan <version>.")

        return unit

    def history_unit(self, *, limit: int = 10) -> Callable[[Session], list[PlanSnapshot]]:
        if not 1 <= limit <= 100:
            raise UserError("History shows between 1 and 100 plans")
        return lambda session: [load_snapshot(session, plan_id=row.id)
                                for row in plans.history(session, limit=limit) if row.id is not None]

    def timeline_unit(self, plan_id: int) -> Callable[[Session], Timeline]:
        return lambda session: load_timeline(session, plan_id=plan_id, now=self._context.now(),
                                             time_scale=self._context.settings.dms_time_scale)
