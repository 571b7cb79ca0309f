"""The durable execution loop of one approved plan: every hop, then the verification.

Per hop (MOP "Execute the DataMiner upgrade"): Upload only, Upgrade, then wait until every agent runs the
hop's version. The driver performs each step (``UpgradeDriver.run_step``: the script driver checks the
package file, then starts SLTaskbarUtility's ``-upgrade`` of every agent; with the watch driver a person
does both in Cube, each confirmed with "Done in Cube") through ``_HopStep``, which records it alike for
every driver: *started* in the database before it acts, *done* after its result was observed. The loop can
therefore be killed at any instant and resumed from the database:

* a step not started is performed;
* a step started but not done is **observed**, never performed again: a change's id (the upgrade job's,
  ``dms.script_runs.job_id``) or a question to a person is recorded as the step's attempt before it is made
  (``workflow.store.step_attempts``), its outcome after, so a resumed loop asks the DMS about the job and
  starts it only when the DMS has no record of it, and waits for a confirmation without asking again.

A hop whose agents are not all back on the expected version by its deadline (from the estimate) fails
the plan with the downgrade guidance (restore the snapshot); a package refused before any agent moved
fails it with the "nothing was touched" guidance.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from sqlmodel import Session

from dms import script_runs
from dms.client import DmsClient
from dms.drivers import Step, UpgradeDriver, all_running_on
from dms.exceptions import DmsError, DmsScriptError, UpgradeRefused, UpgradeTimeout
from dms.models import AgentState, AgentStatus, CheckResult, CheckStatus
from dms.upgrade_path import Estimate, Hop, PackageKind, UpgradePath
from dms.versions import Version
from workflow import cube_steps, verification_step
from workflow import eta as eta_mod
from workflow.context import WorkflowContext
from workflow.events import (
    DOWNGRADE_GUIDANCE,
    UNTOUCHED_GUIDANCE,
    AgentProgress,
    EtaChanged,
    HopFinished,
    HopStarted,
    UpgradeFailed,
    UpgradeFinished,
)
from workflow.leases import HeldLease, LeaseLost
from workflow.model.clock import utc_now
from workflow.model.errors import DatabaseBusy
from workflow.model.states import IN_FLIGHT
from workflow.plan_requests import STARTUP_KIND
from workflow.reachability import Reachability
from workflow.store import database, plans, step_attempts
from workflow.store.plans import HopStep, StepEvent
from workflow.store.states import PlanState
from workflow.store.tables import PlanHop, UpgradePlan

log = logging.getLogger(__name__)

BOT = "bot"
# How long (DMS minutes) a resumed loop keeps asking an unreachable DMS before it gives up.
OBSERVE_PATIENCE_MINUTES = 15.0


class PlanStopped(Exception):
    """The plan left EXECUTING under us (cancelled elsewhere): stop without touching anything."""


class ExecutionFailed(Exception):
    """``seen``: ``touched`` was observed on the agents (a refused package), not inferred from the steps."""

    def __init__(self, reason: str, *, touched: bool, agents: list[AgentState] | None = None,
                 seen: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.touched, self.seen = reason, touched, seen
        self.agents = list(agents or [])


@dataclass
class Execution:
    """One run (or resumption) of the loop for ``plan_id``; ``run()`` never raises except on cancel."""

    host: WorkflowContext  # the database, events and audited state moves
    plan_id: int
    client: DmsClient
    driver: UpgradeDriver
    key_elements: list[str]
    path: UpgradePath
    estimate: Estimate
    dms_name: str
    lease: HeldLease | None = None  # checked before every DMS call that changes something

    def __post_init__(self) -> None:
        self._scale = self.host.settings.dms_time_scale
        self._poll_s = self.host.settings.dms_poll_seconds / self._scale
        self._expectations = eta_mod.hop_expectations(path=self.path, estimate=self.estimate)
        self._finished_minutes: list[float] = []
        self._touched = False  # some agent was asked to upgrade (the snapshot matters from then on)
        self._created = ""  # the plan's creation time: part of its jobs' ids (``dms.script_runs.job_id``)
        self._last_on_target = -1
        self._reach = Reachability(host=self.host, plan_id=self.plan_id, dms_name=self.dms_name,
                                   poll_s=self._poll_s)
        self._deadline = self._patience()  # the current hop's (time.monotonic()); an unreachable DMS waits

    def _patience(self) -> float:
        return time.monotonic() + OBSERVE_PATIENCE_MINUTES * 60.0 / self._scale

    # ------------------------------------------------------------------ the loop

    async def run(self) -> None:
        try:
            await self._run()
        except PlanStopped:
            log.info("plan #%s left EXECUTING; the loop stops", self.plan_id)
        except LeaseLost as lost:
            log.warning("plan #%s: %s; the loop stops without touching anything", self.plan_id, lost)
        except ExecutionFailed as failure:
            touched = failure.touched if failure.seen else failure.touched or self._touched
            await self._fail(failure.reason, touched=touched, agents=failure.agents)
        except DmsError as exc:
            await self._fail(f"the DMS failed: {exc}", touched=self._touched, agents=[])
        except DatabaseBusy:
            raise  # not the upgrade's failure: the runner waits for the database and resumes
        except Exception as exc:  # a bug must not leave a plan EXECUTING forever without a word
            log.exception("execution of plan #%s crashed", self.plan_id)
            await self._fail(f"internal error: {type(exc).__name__}: {exc}", touched=self._touched, agents=[])

    async def _run(self) -> None:
        rows = await self.host.unit(lambda session: plans.hops(session, plan_id=self.plan_id))
        plan = await self.host.unit(lambda session: session.get(UpgradePlan, self.plan_id))
        self._created = plan.created_at.isoformat() if plan is not None else ""
        self.driver.remember(list(plan.agents or []) if plan is not None else [])  # resumed mid-upgrade
        self._touched = any(row.upgrade_started_at is not None for row in rows)
        self._finished_minutes = [m for m in map(_hop_minutes, rows) if m is not None]
        if await self._state() is PlanState.VERIFYING:
            # Stopped during the verification: every hop is done; verifying again only reads.
            await self._verify(already_verifying=True)
            return
        previous = self.path.current
        for index, row in enumerate(rows):
            hop = row.to_hop()
            if row.wait_done_at is None:
                await self._run_hop(index, row, hop, previous=previous)
            if hop.package is not PackageKind.HELPER:
                previous = hop.version
        await self._verify(already_verifying=False)

    async def _run_hop(self, index: int, row: PlanHop, hop: Hop, *, previous: Version) -> None:
        assert row.id is not None
        await self._ensure_executing()
        started_at = await self._announce_hop(index, row, hop)
        budget = eta_mod.hop_deadline_seconds(self._expectations[index], time_scale=self._scale)
        self._deadline = time.monotonic() + budget - (utc_now() - started_at).total_seconds()
        for step in cube_steps.STEPS:  # Upload only, then Upgrade, whoever performs them
            if getattr(row, f"{step}_done_at") is None:
                await self._step(index, row, hop, step)
        await self._wait_for_hop(index, row.id, hop, started_at=started_at, previous=previous)

    def _job(self, index: int) -> str:
        return script_runs.job_id(plan_id=self.plan_id, plan_created=self._created, hop_index=index)

    async def _step(self, index: int, row: PlanHop, hop: Hop, step: Step) -> None:
        """The driver performs the step; ``_HopStep`` records whatever establishes it (a person's Done in
        Cube, the bot's check, the bot's change on the DMS) before it acts and once it was observed."""
        assert row.id is not None
        began = getattr(row, f"{step}_started_at") is not None
        await self.driver.run_step(hop=hop, step=step, job=self._job(index), host=_HopStep(
            self, index=index, row_id=row.id, hop=hop, step=step, began=began))
        if step == "upgrade":
            self._touched = True
        else:
            await self._ensure_executing()  # a cancel during the upload stops before the upgrade is asked
        await self._mark(row.id, step, "done")

    async def _announce_hop(self, index: int, row: PlanHop, hop: Hop) -> datetime:
        """HopStarted and the ETA; when the hop started (a person's instructions come with each step)."""
        await self.host.emit(HopStarted, self.plan_id, hop_index=index, version=str(hop.version),
                             package=hop.name, resumed=row.upload_started_at is not None)
        started_at = row.upload_started_at or utc_now()
        await self._emit_eta(current_started_at=started_at)
        return started_at

    async def _wait_for_hop(self, index: int, row_id: int, hop: Hop, *, started_at: datetime,
                            previous: Version) -> None:
        """Until the hop is done, within its deadline from the estimate: every agent on the hop's version
        (watch driver), or the utility's exit code 0 and, for a package with a version, every agent on it
        (script driver)."""
        fresh = await self.host.unit(lambda session: session.get(PlanHop, row_id))
        assert fresh is not None
        if fresh.wait_started_at is None:
            fresh = await self._mark(row_id, "wait", "started")
        # The agents' clock starts when they began to upgrade: a person in Cube confirms long after the ask.
        upgrade_started = self.driver.upgrade_began(started_at=fresh.upgrade_started_at,
                                                    done_at=fresh.upgrade_done_at) or utc_now()
        budget = eta_mod.hop_deadline_seconds(self._expectations[index], time_scale=self._scale)
        remaining = budget - (utc_now() - upgrade_started).total_seconds()

        async def progress(states: list[AgentState]) -> None:
            await self._ensure_executing()  # a cancel from elsewhere (another replica) stops the watch too
            await self._progress(index, states, target=hop.version, current_started_at=started_at)

        timeout_s = max(remaining, self._poll_s)
        reachability = partial(self._reach.report, deadline=time.monotonic() + timeout_s)
        try:
            job, poll = self._job(index), self._poll_s
            await self.driver.wait_for_hop(hop=hop, job=job, timeout_s=timeout_s, poll_s=poll,
                                           on_change=progress, on_reachability=reachability)
        except UpgradeTimeout as exc:
            states = [a for a in exc.agents if isinstance(a, AgentState)]
            raise ExecutionFailed(
                f"hop {index + 1} ({hop.version}): {exc}", touched=True, agents=states
            ) from exc
        except UpgradeRefused as exc:
            states = [a for a in exc.agents if isinstance(a, AgentState)] or await self._observe_quietly()
            moved = not all_running_on(states, previous)  # unknown, or some agent left the old version
            raise ExecutionFailed(f"hop {index + 1} ({hop.name}): {exc}", touched=moved, agents=states,
                                  seen=True) from exc
        except DmsScriptError as exc:
            raise ExecutionFailed(f"hop {index + 1} ({hop.name}): the orchestrator script: {exc}",
                                  touched=True) from exc
        await self._ensure_executing()
        done = await self._mark(row_id, "wait", "done")
        minutes = _hop_minutes(done)
        if minutes is not None:
            self._finished_minutes.append(minutes)
            await self._record_durations(done)
        await self.host.emit(HopFinished, self.plan_id, hop_index=index, version=str(hop.version),
                             minutes=minutes)
        await self._emit_eta(current_started_at=None)

    async def _observe_quietly(self) -> list[AgentState]:
        with contextlib.suppress(DmsError):
            return await self.driver.observe()
        return []

    async def _verify(self, *, already_verifying: bool) -> None:
        if not already_verifying:
            await self._ensure_executing()
            moved = await self.host.move(self.plan_id, to=PlanState.VERIFYING, actor=BOT,
                                         reason="every hop is installed", expected_from={PlanState.EXECUTING})
            if not moved:
                raise PlanStopped()
        await self._reach.patiently(self.driver.observe, deadline=self._patience())  # agents restarting?
        results, passed = await verification_step.verify(
            self.host, plan_id=self.plan_id, client=self.client, target=self.path.target,
            key_elements=self.key_elements, dms_name=self.dms_name, driver=self.driver.name)
        if not passed:
            failed = "; ".join(f"{r.title}: {r.detail}" for r in results if r.status is CheckStatus.FAIL)
            raise ExecutionFailed(f"post-upgrade verification failed: {failed}", touched=True)
        await self.host.move(self.plan_id, to=PlanState.DONE, actor=BOT,
                             reason=f"every agent runs {self.path.target}; verification passed",
                             expected_from={PlanState.VERIFYING},
                             then=[(UpgradeFinished, {"results": results})])

    # ------------------------------------------------------------------ helpers

    async def _fail(self, reason: str, *, touched: bool, agents: list[AgentState]) -> None:
        agents = agents or await self._observe_quietly()
        if agents:
            await self._store_agents(agents)
        if await self._state() not in IN_FLIGHT:
            return  # cancelled meanwhile: the cancel recorded the agents
        guidance = DOWNGRADE_GUIDANCE if touched else UNTOUCHED_GUIDANCE
        await self.host.move(self.plan_id, to=PlanState.FAILED, actor=BOT, reason=reason,
                             expected_from=IN_FLIGHT,
                             then=[(UpgradeFailed, {"reason": reason, "guidance": guidance,
                                                    "agents": tuple(agents)})])

    async def _progress(
        self, index: int, states: list[AgentState], *, target: Version, current_started_at: datetime
    ) -> None:
        await self._store_agents(states)
        await self.host.emit(AgentProgress, self.plan_id, hop_index=index, agents=tuple(states))
        on_target = sum(1 for s in states if s.status == AgentStatus.RUNNING and s.version == target)
        if on_target != self._last_on_target:
            self._last_on_target = on_target
            await self._emit_eta(current_started_at=current_started_at)

    async def _emit_eta(self, *, current_started_at: datetime | None) -> None:
        now = utc_now()
        computed = eta_mod.compute_eta(eta_mod.EtaInput(
            now=now, expectations=self._expectations, finished_wall_minutes=list(self._finished_minutes),
            current_started_at=current_started_at, time_scale=self._scale,
        ))
        await self.host.unit(lambda session: plans.update_progress(
            session, plan_id=self.plan_id, eta=computed.at, now=self.host.now()))
        await self.host.emit(EtaChanged, self.plan_id, eta=computed.at,
                             remaining_minutes=computed.remaining_minutes)

    async def _state(self) -> PlanState | None:
        def unit(session: Session) -> PlanState | None:
            plan = session.get(UpgradePlan, self.plan_id)
            return None if plan is None else PlanState(plan.state)

        return await self.host.unit(unit)

    async def _ensure_executing(self) -> None:
        if await self._state() is not PlanState.EXECUTING:
            raise PlanStopped()

    async def _fence(self) -> None:  # before a DMS call that changes something: still ours to run?
        await self._ensure_executing()
        if self.lease is not None:
            await database.off_loop(self.lease.check)

    async def _mark(self, hop_id: int, step: HopStep, event: StepEvent) -> PlanHop:
        return await self.host.unit(lambda session: plans.mark_step(
            session, hop_id=hop_id, step=step, event=event, now=self.host.now()))

    async def _store_agents(self, states: list[AgentState]) -> None:
        await self.host.unit(lambda session: plans.update_progress(
            session, plan_id=self.plan_id, agents=plans.agents_json(states), now=self.host.now()))

    async def _record_durations(self, row: PlanHop) -> None:
        """Store how long the agents took to come back on this DMS, in DMS minutes, for its future
        estimates (``workflow.plan_requests.estimate_for``); helpers restart nothing, so they teach
        nothing."""
        if not row.to_hop().restarts_agents or row.wait_started_at is None or row.wait_done_at is None:
            return
        startup = (row.wait_done_at - row.wait_started_at).total_seconds() / 60.0 * self._scale
        await self.host.unit(lambda session: plans.record_duration(
            session, dms_name=self.dms_name, kind=STARTUP_KIND, minutes=startup, plan_id=self.plan_id))

@dataclass(frozen=True)
class _HopStep:
    """The execution's side of one hop's step (``dms.drivers.StepHost``): each way a driver establishes the
    step is recorded before it acts and once it was observed, whichever driver it is."""

    run: Execution
    index: int
    row_id: int
    hop: Hop
    step: Step
    began: bool  # the step was recorded started before this loop ran (a plan begun before attempts were)

    async def ask(self, instructions: Sequence[str], *, heard: Callable[[], Awaitable[None]]) -> None:
        """A person does the step in Cube, asked once and confirmed with Done in Cube, by the hop's deadline
        from the estimate in real minutes (a person is not sped up with the DMS); PlanStopped on a cancel."""
        run = self.run
        if self.step == "upgrade":
            run._touched = True  # from the ask on, a person may have clicked Upgrade in Cube
        try:
            await cube_steps.ask_and_wait(
                run.host, plan_id=run.plan_id, row_id=self.row_id, index=self.index, hop=self.hop,
                step=self.step, instructions=instructions, heard=heard, poll_s=max(run._poll_s, 0.02),
                ensure_executing=run._ensure_executing,
                deadline_s=eta_mod.hop_deadline_seconds(run._expectations[self.index], time_scale=1.0))
        except cube_steps.CubeStepOverdue as exc:
            raise ExecutionFailed(str(exc), touched=run._touched) from exc

    async def check(self, read: Callable[[], Awaitable[CheckResult]]) -> None:
        """The bot checks the step on the DMS (nothing changes there, so a resumed loop checks again)."""
        run = self.run
        await run._mark(self.row_id, self.step, "started")
        await run._fence()
        checked = await run._reach.patiently(read, deadline=run._deadline, before_retry=run._fence)
        if checked.status is CheckStatus.FAIL:
            raise ExecutionFailed(f"hop {self.index + 1}: {checked.title}: no ({checked.detail})",
                                  touched=run._touched)

    async def once(self, *, key: str, change: Callable[[bool], Awaitable[bool]]) -> None:
        """The bot's change, at most once: its intent (``key``, the job id) is recorded before the DMS is
        asked and its outcome, with the step done, after. An earlier attempt whose outcome was not recorded
        (the database failed, or the process stopped, right after the call) is asked about, never repeated."""
        run, index, row_id, step = self.run, self.index, self.row_id, self.step
        # Change only a DMS that answers; the agents' addresses are kept for the watch.
        await run._store_agents(await run._reach.patiently(
            run.driver.observe, deadline=run._deadline, before_retry=run._ensure_executing))
        await run._fence()
        attempt, fresh = await run.host.unit(lambda session: step_attempts.begin(
            session, plan_id=run.plan_id, hop_id=row_id, hop_index=index, step=step, key=key,
            now=run.host.now()))
        run._touched = True
        if attempt.state == step_attempts.DONE:
            return  # the DMS took the change before; the wait follows it
        resumed = not fresh or self.began
        try:
            made = await run._reach.patiently(lambda: change(resumed),
                                              deadline=run._deadline, before_retry=run._fence)
        except DmsScriptError as exc:
            raise ExecutionFailed(f"hop {index + 1}: the orchestrator script refused to start the upgrade to "
                                  f"{self.hop.version}: {exc}", touched=False) from exc
        outcome = {"job": key, "started": made}
        await run.host.unit(lambda session: step_attempts.finish(
            session, plan_id=run.plan_id, hop_id=row_id, hop_index=index, step=step, outcome=outcome,
            step_done=True, now=run.host.now()))


def _hop_minutes(row: PlanHop) -> float | None:
    """Wall minutes from the hop's upload to every agent back on its version (the ETA's measure)."""
    done, began = row.wait_done_at, row.upload_started_at
    return None if done is None or began is None else (done - began).total_seconds() / 60.0
