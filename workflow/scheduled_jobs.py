"""What the scheduled jobs of a plan do (``workflow.scheduler`` decides when): pre-check, reminder,
approval request, expiry. Each acts only if the plan is still in a state where it makes sense, so a
job that runs late, or after the plan moved on, does nothing harmful.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Concatenate, ParamSpec

from sqlmodel import Session

from workflow.context import WorkflowContext
from workflow.events import ApprovalRequested, ReminderDue, UpgradeExpired
from workflow.model.clock import as_utc
from workflow.precheck_runner import PrecheckRunner
from workflow.store import audit, check_runs, checklist, database
from workflow.store.states import PlanState, get_plan

BOT = "bot"
WAITING = frozenset(
    {PlanState.SCHEDULED, PlanState.PRECHECKED, PlanState.BLOCKED, PlanState.AWAITING_APPROVAL}
)

P = ParamSpec("P")


def _background(job: Callable[Concatenate[PlanJobs, P], Awaitable[None]]
                ) -> Callable[Concatenate[PlanJobs, P], Awaitable[None]]:
    """A job is background work: a task of the engine's (``settle`` waits for it, as for a pre-check,
    since its events follow its state change across off-loop units of work) whose units of work wait out
    a busy database longer than a listener's."""
    @functools.wraps(job)
    async def in_background(self: PlanJobs, *args: P.args, **kwargs: P.kwargs) -> None:
        async def run() -> None:
            with database.patience():
                await job(self, *args, **kwargs)

        # Shielded: a cancelled caller (the scheduler's job) leaves the job's task to finish or be
        # cancelled with the engine's other tasks.
        await asyncio.shield(self._context.spawn(run(), name=f"job-{job.__name__}"))
    return in_background


class PlanJobs:
    def __init__(self, context: WorkflowContext, *, prechecks: PrecheckRunner) -> None:
        self._context = context
        self._prechecks = prechecks

    def schedule(self, plan_id: int, *, start: datetime, end: datetime) -> None:
        """(Re)place the four jobs of a plan for its window."""
        settings, scheduler = self._context.settings, self._context.scheduler
        window_s = (end - start).total_seconds()
        # Late is fine for the pre-check (better late than never before the window), for the approval
        # request while the window is still open, and always for the expiry; a reminder arriving after
        # the window opened is noise, so it may be missed (and is reported as such).
        scheduler.schedule(plan_id=plan_id, kind="precheck",
                           at=start - timedelta(hours=settings.precheck_lead_hours), grace_s=None)
        scheduler.schedule(plan_id=plan_id, kind="reminder",
                           at=start - timedelta(hours=settings.reminder_lead_hours),
                           grace_s=max(60.0, settings.reminder_lead_hours * 3600))
        scheduler.schedule(plan_id=plan_id, kind="approval", at=start, grace_s=window_s)
        scheduler.schedule(plan_id=plan_id, kind="expiry", at=end, grace_s=None)

    @_background
    async def precheck_due(self, plan_id: int) -> None:
        # Whether it is wanted is asked in the check's own first unit, not one of its own before: a fleet's
        # pre-checks fall due together, and every unit is a turn on the database's one writer. A run in
        # progress is joined rather than a second started.
        await self._prechecks.run(plan_id, actor=BOT,
                                  wanted=lambda session: self._precheck_wanted(session, plan_id))

    def _precheck_wanted(self, session: Session, plan_id: int) -> bool:
        """The plan waits for its pre-check, and none started since this window's pre-check time (the
        approval request runs it when a window starts within the lead time)."""
        if PlanState(get_plan(session, plan_id=plan_id).state) not in (
                PlanState.SCHEDULED, PlanState.PRECHECKED, PlanState.BLOCKED):
            return False
        return not self._prechecked_since_due(session, plan_id)

    def _prechecked_since_due(self, session: Session, plan_id: int) -> bool:
        """Whether a pre-check started at or after this window's pre-check time (start - lead)."""
        start = as_utc(get_plan(session, plan_id=plan_id).window_start)
        last = check_runs.last_precheck(session, plan_id=plan_id)
        started = None if last is None else as_utc(last.started_at)
        if start is None or started is None:
            return False
        return started >= start - timedelta(hours=self._context.settings.precheck_lead_hours)

    @_background
    async def reminder_due(self, plan_id: int) -> None:
        context = self._context
        if await context.read_state(plan_id) not in WAITING:
            return
        titles = await context.unit(lambda session: tuple(
            item.title for item in checklist.open_required_manual(session, plan_id=plan_id,
                                                                  before_phase=checklist.APPROVAL_GATE)))
        if titles:
            await context.emit(ReminderDue, plan_id, open_items=titles)

    @_background
    async def approval_due(self, plan_id: int) -> None:
        context = self._context
        # A pre-check in progress (its job fired just before, or a person asked) decides the outcome:
        # wait for it rather than starting another run, which would upload every package again.
        await self._prechecks.wait(plan_id)
        state = await context.read_state(plan_id)
        if state is PlanState.SCHEDULED:
            # The pre-check has not run (no lead time, or its job is late): run it now, then ask.
            await self._prechecks.run(plan_id, actor=BOT)
            state = await context.read_state(plan_id)
        if state not in (PlanState.PRECHECKED, PlanState.BLOCKED):
            return
        end = await context.unit(lambda session: get_plan(session, plan_id=plan_id).window_end)
        if end is not None and end <= context.now():
            return  # the window already closed: the expiry job takes it from here
        approvers = tuple(context.settings.upgrade_approvers)
        await context.move(plan_id, to=PlanState.AWAITING_APPROVAL, actor=BOT, reason="the window opened",
                           expected_from={PlanState.PRECHECKED, PlanState.BLOCKED},
                           then=[(ApprovalRequested, {"approvers": approvers})])

    @_background
    async def window_closed(self, plan_id: int) -> None:
        await self._context.move(plan_id, to=PlanState.EXPIRED, actor=BOT,
                                 reason="the window closed unapproved", expected_from=set(WAITING),
                                 then=[(UpgradeExpired, {})])

    @_background
    async def job_missed(self, plan_id: int, *, kind: str, scheduled_for: datetime) -> None:
        await self._context.unit(lambda session: audit.record(
            session, actor=BOT, action="job.missed", plan_id=plan_id,
            reason=f"the {kind} job due {scheduled_for.isoformat()} was missed while down",
            detail={"kind": kind, "scheduled_for": scheduled_for.isoformat()}, now=self._context.now()))
