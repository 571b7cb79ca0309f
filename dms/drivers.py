"""How a hop gets installed: one protocol, two implementations.

* ``ScriptDriver`` asks the Automation script of ``dms.script_contract`` to upload and to upgrade (each a job
  started without waiting and followed through its status, ``dms.script_runs``), then watches.
* ``WatchDriver`` tells a person what to click in DataMiner Cube (per the MOP), one step at a time, and only
  watches. ``ask_person`` is the moment the bot asks for a step; a simulator that plays the person in Cube
  (``cube_url``, see ``dms.simulator.cube``) performs the step then.

Both watch the same way: poll every agent's status and version until all run the expected version, or a
deadline passes (``UpgradeTimeout`` carries the last states, so a stuck agent can be named).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Literal, Protocol

import httpx

from dms import script_contract as contract
from dms.client import DmsClient
from dms.durations import duration_text
from dms.exceptions import DmsUnreachable, UpgradeTimeout
from dms.models import AgentState, AgentStatus
from dms.packages import package_file
from dms.script_runs import Sleep, run_job
from dms.upgrade_path import Hop, PackageKind
from dms.versions import Version

log = logging.getLogger(__name__)

Step = Literal["upload", "upgrade"]
OnChange = Callable[[list[AgentState]], Awaitable[None]]
# Hears every observation's reachability: the error of a failed one, None for an answer.
OnReachability = Callable[[DmsUnreachable | None], Awaitable[None]]


class UpgradeDriver(Protocol):
    name: str  # "script" | "watch"
    needs_person: bool

    def instructions(self, *, hop: Hop, step: Step) -> list[str]: ...

    async def upload(self, *, hop: Hop) -> None: ...

    async def start_upgrade(self, *, hop: Hop) -> None: ...

    async def ask_person(self, *, hop: Hop, step: Step) -> None: ...

    async def observe(self) -> list[AgentState]: ...

    async def wait_for_version(
        self, *, version: Version, timeout_s: float, poll_s: float, on_change: OnChange | None = None,
        on_reachability: OnReachability | None = None,
    ) -> list[AgentState]: ...


def all_running_on(states: list[AgentState], version: Version) -> bool:
    return bool(states) and all(
        s.reachable and s.status == AgentStatus.RUNNING and s.version == version for s in states
    )


def _fingerprint(states: list[AgentState]) -> tuple[tuple[object, ...], ...]:
    return tuple((s.id, s.status, s.detail, s.version, s.reachable) for s in states)


class _Watching:
    """Observation shared by both drivers."""

    def __init__(self, client: DmsClient) -> None:
        self.client = client

    async def observe(self) -> list[AgentState]:
        return await self.client.agent_states()

    async def ask_person(self, *, hop: Hop, step: Step) -> None:
        return None  # the bot's message is the question; only a simulator playing Cube hears it too

    async def wait_for_version(
        self, *, version: Version, timeout_s: float, poll_s: float, on_change: OnChange | None = None,
        on_reachability: OnReachability | None = None,
    ) -> list[AgentState]:
        deadline = time.monotonic() + timeout_s
        last: list[AgentState] = []
        seen: tuple[tuple[object, ...], ...] | None = None
        while True:
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
            await asyncio.sleep(max(0.0, min(poll_s, deadline - time.monotonic())))


class ScriptDriver(_Watching):
    """Drives the upgrade through the ``DMUpgrade_Orchestrator`` Automation script installed on the DMS.

    Each step starts a job without waiting and follows it (``dms.script_runs``). ``job_deadline_s`` bounds
    one step (upload with its prerequisite checks, or handing the upgrade to SLTaskbarUtility).
    """

    name = "script"
    needs_person = False

    def __init__(
        self, client: DmsClient, *, package_folder: str = contract.DEFAULT_PACKAGE_FOLDER,
        poll_s: float = 10.0, job_deadline_s: float = 2 * 3600.0, sleep: Sleep = asyncio.sleep,
    ) -> None:
        super().__init__(client)
        self.package_folder = package_folder
        self.poll_s = poll_s
        self.job_deadline_s = job_deadline_s
        self._sleep = sleep

    def instructions(self, *, hop: Hop, step: Step) -> list[str]:
        action = contract.ACTION_UPLOAD if step == "upload" else contract.ACTION_UPGRADE
        return [
            f"The bot runs Automation script {contract.SCRIPT_FOLDER}/{contract.SCRIPT_NAME} "
            f"with Action={action}, Package={package_file(hop)} (in {self.package_folder}), "
            f"Agents={contract.AGENTS_ALL}, FailoverPolicy={contract.FAILOVER_SIMULTANEOUSLY}.",
            "No action needed; the bot reports progress here.",
        ]

    async def upload(self, *, hop: Hop) -> None:
        """Upload only: the package's prerequisite checks run; a failing one raises ``DmsScriptError``."""
        await self._run(hop=hop, action=contract.ACTION_UPLOAD, upload_only=True)

    async def start_upgrade(self, *, hop: Hop) -> None:
        await self._run(hop=hop, action=contract.ACTION_UPGRADE, upload_only=False)

    async def _run(self, *, hop: Hop, action: str, upload_only: bool) -> None:
        parameters = {
            contract.PARAM_ACTION: action,
            contract.PARAM_PACKAGE: package_file(hop),
            contract.PARAM_AGENTS: contract.AGENTS_ALL,
            contract.PARAM_FAILOVER_POLICY: contract.FAILOVER_SIMULTANEOUSLY,
            contract.PARAM_UPLOAD_ONLY: "true" if upload_only else "false",
            contract.PARAM_PACKAGE_FOLDER: self.package_folder,
        }
        state = await run_job(self.client, parameters, poll_s=self.poll_s, deadline_s=self.job_deadline_s,
                              sleep=self._sleep)
        log.info("script %s %s for %s: %s", contract.SCRIPT_NAME, action, hop.name, state)


class WatchDriver(_Watching):
    """A person performs each step in DataMiner Cube; the bot says exactly what to select and watches."""

    name = "watch"
    needs_person = True

    def __init__(self, client: DmsClient, *, cube_url: str | None = None) -> None:
        super().__init__(client)
        self.cube_url = cube_url.rstrip("/") if cube_url else None

    async def ask_person(self, *, hop: Hop, step: Step) -> None:
        """With a simulator that plays the person in Cube, have it perform the step now."""
        if self.cube_url is None:
            return
        try:
            # The simulator answers when the step is done as far as a person would take it (an upload
            # with its checks takes simulated minutes): a long read, bounded all the same.
            async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=600.0)) as http:
                response = await http.post(f"{self.cube_url}/_sim/cube",
                                           json={"step": step, "package": package_file(hop)})
            response.raise_for_status()
        except httpx.HTTPError as exc:  # the person can still do it: the bot keeps waiting for the click
            log.warning("the simulator did not play %s of %s in Cube: %s", step, hop.name, exc)

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

    async def upload(self, *, hop: Hop) -> None:
        return None  # a person clicks Upload only in Cube

    async def start_upgrade(self, *, hop: Hop) -> None:
        return None  # a person clicks Upgrade in Cube; wait_for_version watches


def make_driver(
    kind: str, *, client: DmsClient, package_folder: str = contract.DEFAULT_PACKAGE_FOLDER,
    cube_url: str | None = None,
) -> UpgradeDriver:
    if kind == "script":
        return ScriptDriver(client, package_folder=package_folder)
    if kind == "watch":
        return WatchDriver(client, cube_url=cube_url)
    raise ValueError(f"unknown upgrade driver {kind!r}: use 'script' or 'watch'")
