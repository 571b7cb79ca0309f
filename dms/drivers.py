"""How a hop gets installed: one protocol, two implementations.

* ``ScriptDriver`` asks the Automation script of ``dms.script_contract`` to check the package file and to
  start SLTaskbarUtility's upgrade of every agent, then follows the job to its exit code and the agents to
  their version (``dms.script_runs``). *Upload only* is not among its steps: no documented automation has it.
* ``WatchDriver`` tells a person what to click in DataMiner Cube (per the MOP), one step at a time, and only
  watches. When the bot first asks for a step, whoever plays the person in Cube (only a simulator does,
  wired in by the composition root) performs it.

Each performs a hop's step through ``run_step`` and the ``StepHost`` the execution hands it: the driver says
what establishes the step (a person's confirmation, the bot's check, the bot's change on the DMS) and the
host records it the same for every driver, so the execution never asks which driver it runs.

Both watch the same way: poll every agent's status and version until all run the expected version, or a
deadline passes (``UpgradeTimeout`` carries the last states, so a stuck agent can be named).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Literal, Protocol

from dms import script_contract as contract
from dms import script_runs
from dms.client import DmsClient
from dms.durations import duration_text
from dms.exceptions import DmsScriptError, DmsUnreachable, UpgradeRefused, UpgradeTimeout
from dms.models import AgentInfo, AgentState, AgentStatus, CheckResult, CheckStatus, Source
from dms.packages import package_file
from dms.script_runs import JobStatus
from dms.upgrade_path import Hop, PackageKind
from dms.versions import Version

log = logging.getLogger(__name__)

Step = Literal["upload", "upgrade"]
OnChange = Callable[[list[AgentState]], Awaitable[None]]
# Hears every observation's reachability: the error of a failed one, None for an answer.
OnReachability = Callable[[DmsUnreachable | None], Awaitable[None]]
# Someone playing the person in Cube, told each step (``step``, package file) when the bot asks for it.
AskPerson = Callable[[str, str], Awaitable[None]]


class StepHost(Protocol):
    """The execution's side of one hop's step, for the driver performing it. Each way of establishing a step
    comes with its record: started before anything acts, done once the outcome was observed, and a question
    to a person or a change on the DMS made at most once, whatever restarts in between."""

    async def ask(self, instructions: Sequence[str], *, heard: Callable[[], Awaitable[None]]) -> None:
        """A person does the step: ask them with ``instructions`` and wait for their confirmation.
        ``heard`` runs once, when the question is first asked (someone playing Cube does the step then)."""
        ...

    async def check(self, read: Callable[[], Awaitable[CheckResult]]) -> None:
        """The bot establishes the step by reading the DMS, asked until it answers; a failed check fails the
        plan."""
        ...

    async def once(self, *, key: str, change: Callable[[bool], Awaitable[bool]]) -> None:
        """The bot changes the DMS, at most once: ``key`` (the id the DMS knows the change by) is recorded
        before ``change(resumed)`` runs and its answer after. ``resumed``: an earlier attempt may have reached
        the DMS, so ask it by ``key`` before changing anything; ``change`` answers whether it made the change
        now (False: it had been made before)."""
        ...


class UpgradeDriver(Protocol):
    name: str  # "script" | "watch"

    async def run_step(self, *, hop: Hop, step: Step, job: str, host: StepHost) -> None:
        """Perform ``step`` of ``hop`` through ``host``; ``job`` is the hop's id for a change on the DMS."""
        ...

    def upgrade_began(self, *, started_at: datetime | None, done_at: datetime | None) -> datetime | None:
        """When the agents began to upgrade, from the times the upgrade step was recorded started and done
        (the hop's deadline counts from then)."""
        ...

    def remember(self, agents: list[dict[str, object]]) -> None: ...

    async def observe(self) -> list[AgentState]: ...

    async def wait_for_version(
        self, *, version: Version, timeout_s: float, poll_s: float, on_change: OnChange | None = None,
        on_reachability: OnReachability | None = None,
    ) -> list[AgentState]: ...

    async def wait_for_hop(
        self, *, hop: Hop, job: str, timeout_s: float, poll_s: float, on_change: OnChange | None = None,
        on_reachability: OnReachability | None = None,
    ) -> list[AgentState]: ...


def all_running_on(states: list[AgentState], version: Version) -> bool:
    return bool(states) and all(
        s.reachable and s.status == AgentStatus.RUNNING and s.version == version for s in states
    )


async def _next_beat(beat: float, *, poll_s: float, deadline: float) -> None:
    """Sleep until one poll interval after ``beat`` (when this round's reads began), never past the deadline:
    on a fixed beat, the reads' own time is not added to every interval (with a 10 s poll and slow reads, the
    last agent running was noticed up to 11 s late)."""
    now = time.monotonic()
    await asyncio.sleep(max(0.0, min(beat + poll_s, deadline) - now))


def _fingerprint(states: list[AgentState]) -> tuple[tuple[object, ...], ...]:
    return tuple((s.id, s.status, s.detail, s.version, s.reachable) for s in states)


class _Watching:
    """Observation shared by both drivers."""

    def __init__(self, client: DmsClient) -> None:
        self.client = client
        self._known: list[AgentInfo] = []  # the last agent list DMS_URL gave
        self._through_others = False

    def remember(self, agents: list[dict[str, object]]) -> None:
        """Agents as stored on a plan (``id``, ``name``, ``address``): where to ask while DMS_URL's agent does
        not answer, for a watcher that has not read the list itself (after a restart, on another replica)."""
        if not self._known:
            self._known = [AgentInfo.model_validate({"ID": a["id"], "Name": a.get("name") or "",
                                                     "PrimaryIP": a["address"]})
                           for a in agents if a.get("address") and isinstance(a.get("id"), int)]

    async def observe(self) -> list[AgentState]:
        """Every agent's state; while DMS_URL's agent does not answer (it may be orchestrating the upgrade),
        through the other agents (``DmsClient.agent_states_through_others``)."""
        if self._through_others:  # DMS_URL's agent did not answer last time: ask the others first
            try:
                return await self.client.agent_states_through_others(self._known)
            except DmsUnreachable:
                self._through_others = False
        try:
            infos = await self.client.agents_info()
        except DmsUnreachable:
            if not self._known:
                raise
            states = await self.client.agent_states_through_others(self._known)
            self._through_others = True
            return states
        self._known = infos
        return await self.client.agent_states(agents=infos)

    async def wait_for_hop(
        self, *, hop: Hop, job: str, timeout_s: float, poll_s: float, on_change: OnChange | None = None,
        on_reachability: OnReachability | None = None,
    ) -> list[AgentState]:
        """Watching only: the hop is done when every agent runs its version (``job`` is the script's)."""
        return await self.wait_for_version(version=hop.version, timeout_s=timeout_s, poll_s=poll_s,
                                           on_change=on_change, on_reachability=on_reachability)

    async def wait_for_version(
        self, *, version: Version, timeout_s: float, poll_s: float, on_change: OnChange | None = None,
        on_reachability: OnReachability | None = None,
    ) -> list[AgentState]:
        deadline = time.monotonic() + timeout_s
        last: list[AgentState] = []
        seen: tuple[tuple[object, ...], ...] | None = None
        while True:
            beat = time.monotonic()
            try:
                states = await self.observe()
            except DmsUnreachable as exc:  # the DMS_URL agent itself may be restarting
                if on_reachability is not None:
                    await on_reachability(exc)
                if time.monotonic() >= deadline:
                    raise UpgradeTimeout(
                        f"agents did not all run {version} within {duration_text(timeout_s)}; "
                        f"last error: {exc}",
                        agents=list(last),
                    ) from exc
                log.info("observing agents failed (%s); retrying until the deadline", exc)
            else:
                if on_reachability is not None:
                    await on_reachability(None)
                last = states
                fingerprint = _fingerprint(states)
                if fingerprint != seen:
                    seen = fingerprint
                    if on_change is not None:
                        await on_change(states)
                if all_running_on(states, version):
                    return states
                if time.monotonic() >= deadline:
                    lagging = ", ".join(
                        f"{s.name}: {s.status} {s.version or '?'}" for s in states
                        if not (s.status == AgentStatus.RUNNING and s.version == version)
                    )
                    raise UpgradeTimeout(
                        f"agents did not all run {version} within {duration_text(timeout_s)} ({lagging})",
                        agents=list(states),
                    )
            await _next_beat(beat, poll_s=poll_s, deadline=deadline)


class ScriptDriver(_Watching):
    """Drives the upgrade through the ``DMUpgrade_Orchestrator`` Automation script installed on the DMS.

    What it can establish, and so claim: the package file is readable (``verify``), the upgrade of every
    agent was started (``start_upgrade``), and how it ended (SLTaskbarUtility's exit code, read through
    ``status``) plus every agent's version. It cannot run *Upload only*: that is a person's step in Cube.
    """

    name = "script"

    def __init__(
        self, client: DmsClient, *, package_folder: str = contract.DEFAULT_PACKAGE_FOLDER,
        utility_path: str = "",
    ) -> None:
        super().__init__(client)
        self.package_folder = package_folder
        self.utility_path = utility_path
        self._contract_checked = False

    async def run_step(self, *, hop: Hop, step: Step, job: str, host: StepHost) -> None:
        """Upload: the bot checks the package file (it uploads nothing: the utility takes the file itself, and
        DataMiner runs the prerequisite checks when the upgrade starts). Upgrade: the bot starts job ``job``,
        once."""
        if step == "upload":
            await host.check(lambda: self.verify(hop=hop))
        else:
            await host.once(key=job, change=lambda resumed: self.ensure_started(hop=hop, job=job,
                                                                                 resumed=resumed))

    def upgrade_began(self, *, started_at: datetime | None, done_at: datetime | None) -> datetime | None:
        return started_at  # the bot recorded the start just before asking the DMS to upgrade

    async def verify(self, *, hop: Hop) -> CheckResult:
        """The package file is in the folder and readable: checked by the bot through the script."""
        name = package_file(hop)
        ok, message = await script_runs.verify_package(self.client, package=name,
                                                       package_folder=self.package_folder)
        return CheckResult(name="package_file", title=f"Package file {name} readable",
                           status=CheckStatus.PASS if ok else CheckStatus.FAIL, detail=message,
                           source=Source.BOT)

    async def start_upgrade(self, *, hop: Hop, job: str = "") -> None:
        """Start the upgrade of every agent the DMS reports, as job ``job``; a refusal raises
        ``DmsScriptError``. Started twice with one job, the script starts nothing the second time."""
        if not self._contract_checked:
            # A harmless action first: an older installed script must never see Action=upgrade, whose
            # meaning it does not share (it would start the upgrade its own way, or half of it).
            await script_runs.inventory(self.client, package_folder=self.package_folder)
            self._contract_checked = True
        agents = script_runs.agents_of(await self.client.agents_info())
        await script_runs.start_upgrade(self.client, job=job or _fresh_job(), package=package_file(hop),
                                        agents=agents, package_folder=self.package_folder,
                                        utility_path=self.utility_path)

    async def ensure_started(self, *, hop: Hop, job: str, resumed: bool) -> bool:
        """Start the job unless, ``resumed`` after a restart, the DMS already knows it; True when started."""
        if resumed and (await self.job_status(job=job)).state != contract.STATE_MISSING:
            log.info("job %s of %s was started before a restart; following it", job, hop.name)
            return False
        await self.start_upgrade(hop=hop, job=job)
        return True

    async def job_status(self, *, job: str) -> JobStatus:
        return await script_runs.job_status(self.client, job=job, package_folder=self.package_folder)

    async def wait_for_hop(
        self, *, hop: Hop, job: str, timeout_s: float, poll_s: float, on_change: OnChange | None = None,
        on_reachability: OnReachability | None = None,
    ) -> list[AgentState]:
        """Until the utility's exit code is known and, for a package that installs a version, every agent
        runs it. A non-zero exit code raises ``UpgradeRefused``; the deadline ``UpgradeTimeout``.

        While the cluster upgrades, the orchestrating agent may not answer at all (before 10.6.6/10.7.0,
        Upgrading_a_DataMiner_Agent_using_DataMiner_Taskbar_Utility.md): that is expected, so an
        unanswered status call is reported as reachability and asked again, never taken as a failure.
        """
        deadline = time.monotonic() + timeout_s
        last: list[AgentState] = []
        seen: tuple[tuple[object, ...], ...] | None = None
        status: JobStatus | None = None
        while True:
            beat = time.monotonic()
            fresh: JobStatus | None = None
            problem: DmsUnreachable | None = None
            try:
                fresh = status = await self.job_status(job=job)
            except DmsUnreachable as exc:  # the orchestrating agent, while the cluster upgrades
                problem = exc
            states: list[AgentState] = []
            if hop.restarts_agents:
                try:
                    states = await self.observe()
                    problem = None  # other agents answer: the DMS is there
                except DmsUnreachable as exc:
                    problem = exc
            if on_reachability is not None:
                await on_reachability(problem)
            if states:
                last = states
                fingerprint = _fingerprint(states)
                if fingerprint != seen and on_change is not None:
                    seen = fingerprint
                    await on_change(states)
            if fresh is not None:
                if fresh.state in (contract.STATE_FAILED, contract.STATE_MISSING):
                    raise DmsScriptError(f"job {job}: {fresh.describe()}", method="status")
                if fresh.finished and fresh.exit_code != 0:
                    raise UpgradeRefused(exit_code=fresh.exit_code, package=package_file(hop),
                                         agents=list(last))
                if fresh.finished and (not hop.restarts_agents or all_running_on(states, hop.version)):
                    return states
            if time.monotonic() >= deadline:
                waiting = "the utility's exit code" if status is None or not status.finished else \
                    f"every agent on {hop.version}"
                raise UpgradeTimeout(f"{hop.name}: still waiting for {waiting} after "
                                     f"{duration_text(timeout_s)} "
                                     f"(job {job}: {status.describe() if status else 'no answer'})",
                                     agents=list(last))
            await _next_beat(beat, poll_s=poll_s, deadline=deadline)


def _fresh_job() -> str:
    return uuid.uuid4().hex


class WatchDriver(_Watching):
    """A person performs each step in DataMiner Cube; the bot says exactly what to select and watches."""

    name = "watch"

    def __init__(self, client: DmsClient, *, person: AskPerson | None = None) -> None:
        super().__init__(client)
        self._person = person

    async def run_step(self, *, hop: Hop, step: Step, job: str, host: StepHost) -> None:
        """Every step is a person's in Cube, asked with what to select and confirmed with Done in Cube."""
        await host.ask(self.instructions(hop=hop, step=step),
                       heard=lambda: self._tell_person(hop=hop, step=step))

    def upgrade_began(self, *, started_at: datetime | None, done_at: datetime | None) -> datetime | None:
        return done_at  # the person clicks Upgrade after the bot asked, maybe hours later, then confirms

    async def _tell_person(self, *, hop: Hop, step: Step) -> None:
        """Tell whoever plays the person in Cube (only a simulator does) to do the step now."""
        if self._person is not None:
            await self._person(step, package_file(hop))

    def instructions(self, *, hop: Hop, step: Step) -> list[str]:
        if hop.package is PackageKind.HELPER:
            return [
                "In DataMiner Cube, open System Center > Agents > Manage > Upgrade.",
                f"Select the helper package {hop.name} and All Agents in cluster.",
                "Click Upgrade; the helper runs its checks without restarting DataMiner.",
                "When Cube reports it done, click Done in Cube below.",
            ]
        lines = [
            "In DataMiner Cube, open System Center > Agents > Manage > Upgrade.",
            f"Select the package {hop.name} (add it as a new package if it is not in the list).",
            "Select All Agents in cluster.",
            "Under Advanced Failover, select Upgrade main and backup Agent simultaneously.",
        ]
        if step == "upload":
            lines += [
                "Click Upload only: this uploads the package and runs its prerequisite checks.",
                "When the upload succeeded on every agent and no prerequisite check failed, click Done in"
                " Cube below. (If a check failed, cancel the plan: the package is rejected.)",
            ]
        else:
            lines += [
                "Click Upgrade (the package was uploaded and verified before).",
                f"When Cube shows the upgrade running, click Done in Cube below; the bot then watches every "
                f"agent until all run {hop.version}.",
            ]
        return lines


def make_driver(
    kind: str, *, client: DmsClient, package_folder: str = contract.DEFAULT_PACKAGE_FOLDER,
    person: AskPerson | None = None, utility_path: str = "",
) -> UpgradeDriver:
    if kind == "script":
        return ScriptDriver(client, package_folder=package_folder, utility_path=utility_path)
    if kind == "watch":
        return WatchDriver(client, person=person)
    raise ValueError(f"unknown upgrade driver {kind!r}: use 'script' or 'watch'")
