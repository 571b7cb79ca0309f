"""The upgrade engine: the one facade the Slack handlers and the console call.

Every public method checks its input, changes the database in short transactions (or raises a
``UserError`` and changes nothing), emits events, and returns quickly. Long work (pre-checks, the
execution loop) runs in tasks the engine owns; ``settle()`` waits for them (the console and tests).
After a restart ``start()`` resumes every execution that was in flight, from the database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlmodel import Session

from dms.catalog import Catalog
from dms.exceptions import PathError
from dms.planner import plan_path
from workflow import campaigns, cube_steps, decisions, plan_requests, upload_only
from workflow.approvals import ApproverDirectory
from workflow.cancel_watch import CancelWatcher
from workflow.context import FollowUp, WorkflowContext
from workflow.dms_access import DmsAccess
from workflow.events import (
    Event,
    ItemTicked,
    Notifier,
    PlanCreated,
    StateChanged,
    UpgradeCancelled,
    WindowScheduled,
)
from workflow.execution_runner import ExecutionRunner
from workflow.model import text
from workflow.model.campaign import CampaignPlan, CampaignRequest
from workflow.model.clock import Clock, utc_now
from workflow.model.errors import (
    NotFound,
    RuleViolation,
    UserError,
)
from workflow.plan_views import PlanViews
from workflow.precheck_runner import PrecheckRunner
from workflow.replicas import Replica
from workflow.roles import Action, MemberDirectory, Permissions, may, tick_action
from workflow.scheduled_jobs import PlanJobs
from workflow.scheduler import PlanScheduler
from workflow.settings import WorkflowSettings
from workflow.store import checklist, database, plans
from workflow.store.snapshot import PlanSnapshot
from workflow.store.states import PlanState, get_plan, transition
from workflow.targets import sync_targets
from workflow.timeline import Timeline

log = logging.getLogger(__name__)
T = TypeVar("T")

# Refusals of an approval or rejection that are audited (NotFound is not: there is no plan to audit).


class UpgradeEngine:
    def __init__(
        self,
        *,
        settings: WorkflowSettings,
        db: Engine,
        catalog: Catalog,
        notifier: Notifier,
        approvers: ApproverDirectory,
        dms_access: DmsAccess,
        clock: Clock = utc_now,
        operators: MemberDirectory | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.catalog = catalog
        self.approvers = approvers
        self.dms_access = dms_access
        # Stable across restarts, so jobs stored before a crash find the engine of the next process.
        key = f"engine:{db.url.render_as_string(hide_password=True)}"
        self.scheduler = PlanScheduler(db=db, engine_key=key, target=self, clock=clock)
        self.context = WorkflowContext(settings=settings, db=db, clock=clock, notifier=notifier,
                                       dms_access=dms_access, scheduler=self.scheduler)
        self.prechecks = PrecheckRunner(self.context)
        self.jobs = PlanJobs(self.context, prechecks=self.prechecks)
        self.executions = ExecutionRunner(self.context)
        self.cancel_watch = CancelWatcher(self.context, owner=self.executions.owner)  # one lease owner
        # Reading, awaited (``workflow.plan_views``): a plan, the latest plans, a plan's timeline, a Home tab.
        self.views = PlanViews(self.context, dms_access=dms_access, approvers=approvers)
        self.read_status, self.read_snapshot, self.read_history, self.read_timeline, self.home = (
            self.views.status, self.views.snapshot, self.views.history, self.views.timeline, self.views.home)
        # Who may do what (``workflow.roles``): checked here, so Slack and the console get the same rules.
        self.permissions = Permissions(session=self.session, clock=self.now, approvers=approvers,
                                       operators=operators)
        self.replica = Replica(self.context, executions=self.executions, scheduler=self.scheduler,
                               cancel_watch=self.cancel_watch)
        self._started = False

    # ------------------------------------------------------------------ plumbing (the shared context)

    def session(self) -> AbstractContextManager[Session]:
        return self.context.session()

    def now(self) -> datetime:
        return self.context.now()

    # The readers above run their unit of work off the loop; these run the same one on the caller's thread,
    # only for callers outside the workflow that do not await (the tests' and benchmarks' polling predicates).

    def status(
        self, *, plan_id: int | None = None, channel: str | None = None, dms: str | None = None
    ) -> PlanSnapshot:
        return self._here(self.views.status_unit(plan_id=plan_id, channel=channel, dms=dms))

    def history(self, *, limit: int = 10) -> list[PlanSnapshot]:
        return self._here(self.views.history_unit(limit=limit))

    def timeline(self, plan_id: int) -> Timeline:
        return self._here(self.views.timeline_unit(plan_id))

    def plan_state(self, plan_id: int) -> PlanState:
        return self._here(lambda session: PlanState(get_plan(session, plan_id=plan_id).state))

    def _here(self, work: Callable[[Session], T]) -> T:
        with self.session() as session:
            return work(session)

    async def emit(self, event_type: type[Event], plan_id: int, /, **fields: Any) -> None:
        await self.context.emit(event_type, plan_id, **fields)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start the scheduler (it runs each due job this process claims first) and resume every execution
        that was in flight when the program stopped and runs in no other process (its lease)."""
        if self._started:
            return
        self._started = True
        self.scheduler.start()
        await self.replica.start()  # resumes the executions and cancel watches whose lease it can take

    async def stop(self) -> None:
        await self.replica.stop()
        self.scheduler.stop()
        for task in list(self.context.tasks):
            task.cancel()
        if self.context.tasks:
            await asyncio.gather(*self.context.tasks, return_exceptions=True)
        self._started = False

    async def settle(self, timeout_s: float = 30.0) -> None:
        """Wait until every background task (checks, executions) has finished or waits for a person."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while len(self.context.tasks) > len(self.context.waiting_for_person):
            remaining = deadline - loop.time()
            if remaining <= 0:
                running = len(self.context.tasks)
                raise TimeoutError(f"{running} background task(s) still running after {timeout_s}s")
            await asyncio.wait(set(self.context.tasks), timeout=min(remaining, 0.05),
                               return_when=asyncio.FIRST_COMPLETED)

    # ------------------------------------------------------------------ planning

    async def create_plan(
        self,
        *,
        target: str,
        track: str | None,
        window_start: datetime | None,
        window_minutes: int | None,
        requester: str,
        channel: str,
        dms: str | None = None,
        dedupe_key: str | None = None,
        confirmed_current: str | None = None,
    ) -> PlanSnapshot:
        """Read the DMS, compute the path and estimate, store the plan (SCHEDULED with a window).
        ``confirmed_current``: the version the requester states when the DMS reports one we cannot read."""
        # `track preview` is the requester's explicit opt-in for a preview target; the
        # planner then picks the track from the version, and refuses any preview without it.
        allow_preview = (track or "").strip().lower() == "preview"
        spec, chosen_track = plan_requests.parse_request(target, None if allow_preview else track,
                                                         catalog=self.catalog)
        start, end = plan_requests.window(window_start, window_minutes, now=self.now(),
                                     default_minutes=self.settings.default_window_minutes)
        dms_target = self.dms_access.target(dms)
        existing = await self.context.unit(lambda session: plan_requests.existing_plan(
            session, dedupe_key=dedupe_key, dms_name=dms_target.name))
        if existing is not None:
            return existing
        states = await plan_requests.read_agents(self.dms_access, dms_target.name)
        current, as_read = plan_requests.current_version(states, confirmed=confirmed_current,
                                                         dms_name=dms_target.name)
        try:
            path = plan_path(current=current, target=spec, track=chosen_track, catalog=self.catalog,
                             allow_preview=allow_preview, today=self.now().date())
        except PathError as exc:
            raise UserError(str(exc)) from None

        def store(session: Session) -> tuple[list[Event], PlanSnapshot]:
            estimate = plan_requests.estimate_for(session, path=path, dms_name=dms_target.name,
                                                  agents=len(states), settings=self.settings)
            sync_targets(session, targets=[dms_target])
            plan = plans.create_plan(
                session, dms_name=dms_target.name, path=path, estimate=estimate, requester=requester,
                channel=channel, window_start=start, window_end=end, dedupe_key=dedupe_key,
                hotfixes=self.settings.hotfixes, now=self.now(),
            )
            assert plan.id is not None
            plan_requests.record_reading(session, plan_id=plan.id, agents=len(states), current=current,
                                         as_read=as_read, requester=requester, now=self.now())
            tell: list[FollowUp] = [(PlanCreated, {})]
            if start is not None and end is not None:
                tell.append((WindowScheduled, {"start": start, "end": end, "actor": requester}))
            return self.context.record(session, plan.id, tell)

        events, snap = await self.context.unit(store)
        await self.context.tell(events)
        if start is not None and end is not None:
            await database.off_loop(lambda: self.jobs.schedule(snap.id, start=start, end=end))
        return snap

    async def plan_campaign(self, request: CampaignRequest) -> CampaignPlan:
        """A campaign planned dry (``workflow.campaigns``): every DMS read and planned, nothing stored."""
        learned, busy = await self.context.unit(lambda session: (
            campaigns.learned_startups(session, names=request.dms_names),
            campaigns.busy_plans(session, names=request.dms_names)))
        return await campaigns.plan_campaign(request, access=self.dms_access, catalog=self.catalog,
                                             settings=self.settings, now=self.now(), learned=learned,
                                             busy=busy)

    async def authorize(self, *, plan_id: int, action: Action, actor: str) -> None:
        """Refuse (NotAuthorized, audited) before a form opens, e.g. the "Set window" button."""
        await self.permissions.require(plan_id=plan_id, action=action, actor=actor)

    async def set_window(
        self, *, plan_id: int, start: datetime, minutes: int | None, actor: str
    ) -> PlanSnapshot:
        await self.permissions.require(plan_id=plan_id, action=Action.SET_WINDOW, actor=actor)
        begin, end = plan_requests.window(start, minutes, now=self.now(),
                                     default_minutes=self.settings.default_window_minutes)
        assert begin is not None and end is not None

        def unit(session: Session) -> tuple[PlanState, PlanState]:
            before = PlanState(get_plan(session, plan_id=plan_id).state)
            plans.set_window(session, plan_id=plan_id, start=begin, end=end, actor=actor, now=self.now())
            return before, PlanState(get_plan(session, plan_id=plan_id).state)

        def tell(moved: tuple[PlanState, PlanState]) -> list[FollowUp]:
            before, after = moved
            said: list[FollowUp] = []
            if after is not before:
                why = "window scheduled" if before is PlanState.PLANNED else "window moved"
                said.append((StateChanged, {"from_state": before.value, "to_state": after.value,
                                            "actor": actor, "reason": why}))
            return [*said, (WindowScheduled, {"start": begin, "end": end, "actor": actor})]

        _, snap = await self.context.change(plan_id, unit, tell)
        await database.off_loop(lambda: self.jobs.schedule(plan_id, start=begin, end=end))
        return snap

    # ------------------------------------------------------------------ checks and checklist

    async def run_check(self, *, plan_id: int | None, actor: str) -> None:
        """Start the pre-upgrade check in the background (health, then upload only of each package).
        ``None``: the latest active plan; NotFound when there is none."""
        resolved = plan_id if plan_id is not None else (await self.read_status()).id
        await self.permissions.require(plan_id=resolved, action=Action.RUN_CHECK, actor=actor)
        await self.prechecks.start(resolved, actor=actor)

    async def tick(self, *, plan_id: int, key: str, actor: str, checked: bool) -> PlanSnapshot:

        def phase_of(session: Session) -> str:
            get_plan(session, plan_id=plan_id)
            rows = checklist.items(session, plan_id=plan_id)
            return next((row.phase for row in rows if row.key == key), "")

        action = tick_action(key=key, phase=await self.context.unit(phase_of))
        await self.permissions.require(plan_id=plan_id, action=action, actor=actor)
        _, snap = await self.context.change(plan_id, lambda session: checklist.tick(
            session, plan_id=plan_id, key=key, actor=actor, checked=checked, now=self.now()),
            lambda _: [(ItemTicked, {"key": key, "actor": actor, "checked": checked})])
        return snap

    # ------------------------------------------------------------------ approvals and cancel

    async def approve(self, *, plan_id: int, actor: str, override_reason: str | None = None) -> PlanSnapshot:
        """Claim the approval (rules in ``workflow.approvals``) and start the execution; one wins a race,
        the other gets AlreadyDecided naming the first."""
        is_approver = await self._may_decide(plan_id, Action.APPROVE, actor=actor)
        snap = await decisions.decide(self.context, plan_id=plan_id, actor=actor, decision="approved",
                                      reason=text.reason(override_reason), is_approver=is_approver,
                                      allow_self_approval=self.settings.allow_self_approval)
        await database.off_loop(lambda: self.scheduler.cancel(plan_id=plan_id))
        self.executions.start(plan_id)
        return snap

    async def reject(self, *, plan_id: int, actor: str, reason: str) -> PlanSnapshot:
        reason = text.reason(reason)  # NUL breaks PostgreSQL; bidi controls disguise what was typed
        is_approver = await self._may_decide(plan_id, Action.REJECT, actor=actor)
        snap = await decisions.decide(self.context, plan_id=plan_id, actor=actor, decision="rejected",
                                      reason=reason.strip(), is_approver=is_approver,
                                      allow_self_approval=self.settings.allow_self_approval)
        await database.off_loop(lambda: self.scheduler.cancel(plan_id=plan_id))
        return snap

    async def _may_decide(self, plan_id: int, action: Action, *, actor: str) -> bool:
        """The roles table's answer for approve/reject; the refusal and its audit row come from the
        approval rules (``workflow.approvals``), with every other reason it may have."""
        try:
            requester = await self.context.unit(lambda session: get_plan(session, plan_id=plan_id).requester)
        except NotFound:
            return False  # ``decide`` says so, first
        return may(action, await self.permissions.roles_of(actor, requester=requester))

    async def decision_prompt(self, *, plan_id: int, user: str, approving: bool) -> decisions.DecisionPrompt:
        """What a click on Approve (``approving``) or Reject leads to (``workflow.decisions``)."""
        action = Action.APPROVE if approving else Action.REJECT
        may_decide = await self._may_decide(plan_id, action, actor=user)
        return decisions.prompt(await self.read_snapshot(plan_id), user=user, approving=approving,
                                may_decide=may_decide, allow_self_approval=self.settings.allow_self_approval)

    async def confirm_cube_step(self, *, plan_id: int, hop_index: int, step: str, actor: str) -> PlanSnapshot:
        """Watch driver: "Done in Cube" for the step the bot asked for (``workflow.cube_steps``)."""
        await cube_steps.confirm(self.context, self.permissions, plan_id=plan_id, hop_index=hop_index,
                                 step=step, actor=actor)
        return await self.read_snapshot(plan_id)

    async def report_upload_only(
        self, *, plan_id: int, actor: str, passed: bool, report: str = ""
    ) -> PlanSnapshot:
        """A person's outcome of Upload only in Cube, the day before (``workflow.upload_only``)."""
        await upload_only.report(self.context, self.permissions, plan_id=plan_id, actor=actor, passed=passed,
                                 what=report)
        return await self.read_snapshot(plan_id)

    async def cancel(self, *, plan_id: int, actor: str, reason: str) -> PlanSnapshot:
        """Cancel from any active state (the requester or an approver). During the execution the loop
        stops driving, but the hop running on the DMS is not stopped: the plan is CANCELLING while the
        bot watches the agents settle (``workflow.cancel_watch``), then CANCELLED. No rollback."""
        given = text.reason(reason)  # NUL breaks PostgreSQL; bidi controls disguise what was typed
        why = given or "no reason given"  # the audit row always says why; the event carries what was typed
        await self.permissions.require(plan_id=plan_id, action=Action.CANCEL, actor=actor)

        def unit(session: Session) -> tuple[PlanState, PlanState]:
            before = PlanState(get_plan(session, plan_id=plan_id).state)
            if before is PlanState.CANCELLING:
                raise RuleViolation(f"Plan #{plan_id} is already being cancelled: the bot is watching its "
                                    "agents settle and will report where they ended")
            to = PlanState.CANCELLING if before.in_flight else PlanState.CANCELLED
            transition(session, plan_id=plan_id, to=to, actor=actor, reason=why, now=self.now())
            return before, to

        def told(moved: tuple[PlanState, PlanState]) -> list[FollowUp]:
            before, to = moved
            said: list[FollowUp] = [(StateChanged, {"from_state": before.value, "to_state": to.value,
                                                    "actor": actor, "reason": why})]
            if to is not PlanState.CANCELLING:  # else the cancel watch tells where the agents ended
                said.append((UpgradeCancelled, {"actor": actor, "reason": given, "agents": ()}))
            return said

        (_, to), snap = await self.context.change(plan_id, unit, told)
        await database.off_loop(lambda: self.scheduler.cancel(plan_id=plan_id))
        if to is PlanState.CANCELLING:
            await self.executions.stop(plan_id)
            self.cancel_watch.start(plan_id, actor=actor, reason=given)
        return snap

    # ------------------------------------------------------------------ reading

    async def run_check_from_home(self, *, plan_id: int, actor: str) -> None:
        """The Home tab's pre-check button: the roles table decides, as for the plan message's button."""
        await self.run_check(plan_id=plan_id, actor=actor)

    # ------------------------------------------------------------------ scheduled jobs (workflow.scheduler)

    async def on_precheck_due(self, plan_id: int) -> None:
        await self.jobs.precheck_due(plan_id)

    async def on_reminder_due(self, plan_id: int) -> None:
        await self.jobs.reminder_due(plan_id)

    async def on_approval_due(self, plan_id: int) -> None:
        await self.jobs.approval_due(plan_id)

    async def on_window_closed(self, plan_id: int) -> None:
        await self.jobs.window_closed(plan_id)

    async def on_job_missed(self, plan_id: int, *, kind: str, scheduled_for: datetime) -> None:
        await self.jobs.job_missed(plan_id, kind=kind, scheduled_for=scheduled_for)

