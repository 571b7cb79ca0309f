"""The pre-upgrade check of one plan, as the engine runs it (MOP: "Perform a pre-upgrade check on the
day before the upgrade"): the health checks of ``dms.prechecks`` (with the script driver, the package
inventory and each package file's readability too, checked by the bot through the orchestrator script),
then *Upload only* of the first hop's package, which is a person's step in Cube (``workflow.upload_only``):
the check asks for it and shows what a person reported, never a result of its own.

Only the first hop: a later hop's package checks the DMS it will be installed on (the 10.6 package's Verify
BrokerGateway Migration on a DMS still on 10.4 fails for the wrong reason); its prerequisite checks run
when its upgrade starts, and SLTaskbarUtility's exit code (script driver) or Cube (watch driver) reports them.

The outcome is stored as a check run (with the baseline the verification compares against), the items
the bot verified are ticked on the checklist, and the plan moves to PRECHECKED or BLOCKED when it is in
a state that allows it (a re-check while awaiting approval only records the new results).

One run per plan at a time (single flight): the scheduled pre-check and the approval request can both
want one when a window starts within the lead time; the second joins the run in progress. A person
asking while one runs is told so.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from sqlmodel import Session

from dms.drivers import ScriptDriver
from dms.exceptions import DmsApiError
from dms.models import CheckResult, CheckStatus
from dms.prechecks import run_prechecks
from dms.upgrade_path import UpgradePath
from workflow import upload_only, verified_items
from workflow.context import FollowUp, WorkflowContext
from workflow.events import CheckFinished, CheckStarted, Event, StateChanged, UploadOnlyRequested
from workflow.model.errors import NotFound, RuleViolation
from workflow.store import check_runs, database, plans
from workflow.store.states import PlanState, get_plan, transition

log = logging.getLogger(__name__)

CHECKABLE = frozenset({
    PlanState.PLANNED, PlanState.SCHEDULED, PlanState.PRECHECKED, PlanState.BLOCKED,
    PlanState.AWAITING_APPROVAL,
})
# States the outcome moves on from; a pre-check never moves a plan backwards out of AWAITING_APPROVAL.
MOVABLE = frozenset({PlanState.SCHEDULED, PlanState.PRECHECKED, PlanState.BLOCKED})
Wanted = Callable[[Session], bool]  # does the plan still want the run? (in the run's first unit of work)


class PrecheckRunner:
    def __init__(self, context: WorkflowContext) -> None:
        self._context = context
        self._running: dict[int, asyncio.Task[None]] = {}

    async def start(self, plan_id: int, *, actor: str) -> None:
        """Validate, then run in the background; raises UserError (nothing started) when it cannot run,
        or when a run of this plan is already in progress (its result is posted when it finishes)."""
        state = await self._context.read_state(plan_id)
        if state not in CHECKABLE:
            raise RuleViolation(f"Plan #{plan_id} is {state.label}: the pre-upgrade check cannot run now")
        if self.is_running(plan_id):
            raise RuleViolation(f"The pre-upgrade check of plan #{plan_id} is already running")
        self._launch(plan_id, actor=actor)

    def is_running(self, plan_id: int) -> bool:
        task = self._running.get(plan_id)
        return task is not None and not task.done()

    async def run(self, plan_id: int, *, actor: str, wanted: Wanted | None = None) -> None:
        """Run the pre-check and wait for it; if one of this plan is running, wait for that one instead.

        ``wanted``: whether the plan still wants this run, looked at in the run's first unit of work (the
        scheduled job's question: no pre-check since this window's pre-check time); nothing starts, and
        nothing is told, when it says no."""
        task = self._running.get(plan_id)
        if task is None or task.done():
            task = self._launch(plan_id, actor=actor, wanted=wanted)
        # Shielded: a cancelled waiter (a scheduler job) must not cancel a run others may be waiting for.
        await asyncio.shield(task)

    async def wait(self, plan_id: int) -> None:
        """Wait for the plan's running pre-check, if any (its outcome is in the database afterwards)."""
        task = self._running.get(plan_id)
        if task is not None and not task.done():
            await asyncio.gather(asyncio.shield(task), return_exceptions=True)

    def _launch(self, plan_id: int, *, actor: str, wanted: Wanted | None = None) -> asyncio.Task[None]:
        task = self._context.spawn(self._run(plan_id, actor=actor, wanted=wanted), name=f"precheck-{plan_id}")
        self._running[plan_id] = task
        task.add_done_callback(lambda done: self._forget(plan_id, done))
        return task

    def _forget(self, plan_id: int, task: asyncio.Task[None]) -> None:
        if self._running.get(plan_id) is task:
            del self._running[plan_id]

    async def _run(self, plan_id: int, *, actor: str, wanted: Wanted | None) -> None:
        with database.patience():  # background work: waits out a busy database longer than a listener
            await self._check(plan_id, actor=actor, wanted=wanted)

    async def _check(self, plan_id: int, *, actor: str, wanted: Wanted | None) -> None:
        context = self._context
        # Two units of work for the whole check, each event recorded with the change it tells of: whether
        # it is wanted, the state, CheckStarted and what the DMS reads need; then, after the DMS's answers,
        # the outcome with its events. A unit and a plan snapshot per event made the database the
        # bottleneck of 50 checks due at once.
        try:
            begun = await context.unit(lambda session: self._begin(session, plan_id, actor=actor,
                                                                   wanted=wanted))
        except NotFound:
            return
        if begun is None:
            return
        dms_name, path, events = begun
        await context.tell(events)
        started = context.now()
        results, baseline = await self._read_dms(dms_name, path)
        file = upload_only.first_file(path)
        events = await context.unit(lambda session: self._finish(
            session, plan_id, actor=actor, dms_name=dms_name, results=results, baseline=baseline, file=file,
            started=started))
        await context.tell(events)

    def _begin(self, session: Session, plan_id: int, *, actor: str, wanted: Wanted | None = None
               ) -> tuple[str, UpgradePath, list[Event]] | None:
        plan = get_plan(session, plan_id=plan_id)
        if PlanState(plan.state) not in CHECKABLE or (wanted is not None and not wanted(session)):
            return None
        dms_name, path = plan.dms_name, plans.stored_path(session, plan)
        events = self._context.note(session, plan_id, CheckStarted, kind="pre", actor=actor)
        return dms_name, path, events

    async def _read_dms(self, dms_name: str, path: UpgradePath
                        ) -> tuple[list[CheckResult], dict[str, object] | None]:
        context = self._context
        baseline: dict[str, object] | None = None
        try:
            async with context.dms_access.open(dms_name) as conn:
                report = await run_prechecks(
                    conn.client, path=path, key_elements=list(conn.target.key_elements),
                    blocking_severities=list(context.settings.blocking_alarm_severities),
                    package_folder=(context.settings.dms_package_folder if conn.driver.name == "script"
                                    else None),
                )
                results = list(report.results)
                baseline = report.baseline.model_dump(mode="json")
                if isinstance(conn.driver, ScriptDriver):
                    results += [await conn.driver.verify(hop=hop) for hop in path.hops]
        except DmsApiError as exc:
            results = [CheckResult(name="dms_reachable", title="The DMS answers", status=CheckStatus.FAIL,
                                   detail=str(exc))]
        return results, baseline

    def _finish(self, session: Session, plan_id: int, *, actor: str, dms_name: str,
                results: list[CheckResult], baseline: dict[str, object] | None, file: str | None,
                started: datetime) -> list[Event]:
        """The check run stored, the checklist ticked, the plan moved, and the events telling of it."""
        context = self._context
        if file is not None:
            results = [*results, upload_only.result(session, plan_id=plan_id, file=file)]
        passed = not any(r.status is CheckStatus.FAIL for r in results)
        confirmed = verified_items.with_confirmations(session, plan_id=plan_id, results=results)
        check_runs.store(session, plan_id=plan_id, dms_name=dms_name, kind="precheck",
                         results=confirmed, baseline=baseline, actor=actor, passed=passed,
                         started_at=started, now=context.now())
        verified_items.after_precheck(session, plan_id=plan_id, results=confirmed, now=context.now())
        current = PlanState(get_plan(session, plan_id=plan_id).state)
        target = PlanState.PRECHECKED if passed else PlanState.BLOCKED
        tell: list[FollowUp] = [(CheckFinished, {"kind": "pre", "results": tuple(confirmed),
                                                 "passed": passed})]
        if current in MOVABLE and current is not target:
            why = "pre-upgrade check passed" if passed else "pre-upgrade check failed: " + ", ".join(
                sorted({r.name for r in confirmed if r.status is CheckStatus.FAIL}))
            transition(session, plan_id=plan_id, to=target, actor=actor, reason=why, now=context.now())
            tell.append((StateChanged, {"from_state": current.value, "to_state": target.value, "actor": actor,
                                        "reason": "pre-upgrade check " + ("passed" if passed else "failed")}))
        if file is not None and any(r.name == "prerequisites" and r.status is not CheckStatus.PASS
                                    for r in confirmed):
            tell.append((UploadOnlyRequested, {"file": file, "instructions": upload_only.instructions(file)}))
        events, _ = context.record(session, plan_id, tell)
        return events
