"""The pre-upgrade check of the MOP ("Perform a pre-upgrade check on the day before the upgrade").

All reads run at once (agents and each agent's version, statistics, alarms, key elements), so the whole check
takes about as long as one agent's own chain of calls. What the API cannot see becomes a ``manual`` result
that a person confirms. The baseline (element and alarm counts) is saved for the post-upgrade verification.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict

from dms.client import DmsClient
from dms.exceptions import DmsApiError
from dms.models import (
    AgentInfo,
    AgentState,
    AgentStatistics,
    AgentStatus,
    Alarm,
    Baseline,
    CheckResult,
    CheckStatus,
    ElementInfo,
)
from dms.packages import check_packages
from dms.upgrade_path import UpgradePath

# Severities that say "nothing wrong"; every other unmasked alarm is at least worth a warning.
QUIET_SEVERITIES = frozenset({"normal", "information", "clear", "cleared", "initial"})
ACTIVE_ELEMENT_STATES = frozenset({"active"})


class PrecheckReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    results: list[CheckResult]
    baseline: Baseline

    @property
    def passed(self) -> bool:
        return not any(result.status is CheckStatus.FAIL for result in self.results)

    @property
    def failures(self) -> list[CheckResult]:
        return [result for result in self.results if result.status is CheckStatus.FAIL]


def first_error(errors: BaseExceptionGroup[BaseException]) -> BaseException:
    """The error to show from a TaskGroup's group: the first DMS error, so callers catch by kind."""
    leaves: list[BaseException] = []
    pending: list[BaseException] = [errors]
    while pending:
        error = pending.pop(0)
        if isinstance(error, BaseExceptionGroup):
            pending.extend(error.exceptions)
        else:
            leaves.append(error)
    fallback: BaseException = leaves[0] if leaves else errors
    return next((error for error in leaves if isinstance(error, DmsApiError)), fallback)


def result(name: str, title: str, status: CheckStatus, detail: str, agent: str | None = None) -> CheckResult:
    return CheckResult(name=name, title=title, status=status, detail=detail, agent=agent)


async def read_key_elements(client: DmsClient, names: list[str]) -> list[ElementInfo | DmsApiError]:
    """Each key element by name, concurrently; a failed read is returned (not raised) to become manual."""

    async def one(name: str) -> ElementInfo | DmsApiError:
        try:
            return await client.element_by_name(name)
        except DmsApiError as exc:
            return exc

    return list(await asyncio.gather(*(one(name) for name in names)))


def check_key_elements(names: list[str], found: list[ElementInfo | DmsApiError]) -> list[CheckResult]:
    title = "Key elements are active"
    results = []
    for name, element in zip(names, found, strict=True):
        if isinstance(element, DmsApiError) and "not found" in str(element).lower():
            results.append(result("key_element", title, CheckStatus.FAIL,
                                   f"{name}: no element by that name"))
        elif isinstance(element, DmsApiError):
            results.append(result("key_element", title, CheckStatus.MANUAL,
                                   f"{name}: the API could not read it ({element}); "
                                   "confirm it is active in Cube"))
        elif element.state.lower() in ACTIVE_ELEMENT_STATES:
            results.append(result("key_element", title, CheckStatus.PASS, f"{name} is {element.state}"))
        else:
            results.append(result("key_element", title, CheckStatus.FAIL,
                                   f"{name} is {element.state or 'in an unknown state'}, not Active"))
    return results


def _agent_problem(state: AgentState) -> str:
    if not state.contacted:
        return f"{state.name} was not contacted: {state.detail}"
    if not state.reachable:
        return f"{state.name} is unreachable: {state.detail}"
    return f"{state.name} is {state.status}"


def check_agents_running(states: list[AgentState]) -> list[CheckResult]:
    title = "Every agent is Running"
    bad = [
        result("agents_running", title, CheckStatus.FAIL, _agent_problem(s), agent=s.name)
        for s in states
        if not s.reachable or s.status != AgentStatus.RUNNING
    ]
    if not states:
        return [result("agents_running", title, CheckStatus.FAIL, "the DMS reported no agents")]
    return bad or [result("agents_running", title, CheckStatus.PASS,
                           f"all {len(states)} agents are Running")]


def check_versions_recognised(states: list[AgentState]) -> list[CheckResult]:
    """A DMAVersion that maps to no release is shown as read: a person confirms the version (``from``)."""
    return [
        result("version_recognised", "Every agent's version is recognised", CheckStatus.MANUAL,
               f"{s.name}: version {s.version_text[:64]} not recognised; confirm the current version "
               "(e.g. plan 10.5 from 10.4.0 CU3)", agent=s.name)
        for s in states
        if s.reachable and s.version is None
    ]


def check_alarms(alarms: list[Alarm], *, blocking: list[str], names: dict[int, str]) -> list[CheckResult]:
    title = "No unmasked blocking alarms"
    blocking_lower = {severity.lower() for severity in blocking}
    # Masked alarms, alarms of masked elements and cleared alarms do not block (DMAAlarm.md).
    unmasked = [alarm for alarm in alarms if alarm.counts]
    results: list[CheckResult] = []
    per_agent: dict[int, list[Alarm]] = {}
    for alarm in unmasked:
        if alarm.severity.lower() in blocking_lower:
            per_agent.setdefault(alarm.dataminer_id, []).append(alarm)
    for agent_id, agent_alarms in sorted(per_agent.items()):
        counts = Counter(alarm.severity for alarm in agent_alarms)
        first = agent_alarms[0]
        summary = ", ".join(f"{count} {severity}" for severity, count in sorted(counts.items()))
        agent = names.get(agent_id, f"DMA {agent_id}")
        results.append(result("alarms_blocking", title, CheckStatus.FAIL,
                               f"{summary} unmasked on {agent}, "
                               f"e.g. {first.element_name}: {first.parameter_name}",
                               agent=agent))
    others = Counter(
        alarm.severity for alarm in unmasked
        if alarm.severity.lower() not in blocking_lower and alarm.severity.lower() not in QUIET_SEVERITIES
    )
    if others:
        summary = ", ".join(f"{count} {severity}" for severity, count in sorted(others.items()))
        results.append(result("alarms_other", "Other unmasked alarms", CheckStatus.WARN,
                               f"{summary} active; review them before the window"))
    if not per_agent:
        results.insert(0, result("alarms_blocking", title, CheckStatus.PASS,
                                  f"no unmasked {'/'.join(blocking) or 'blocking'} alarms"))
    return results


def check_failover(infos: list[AgentInfo], states: list[AgentState] | None = None) -> list[CheckResult]:
    """What the API can say about failover: only ``IsFailOver`` per entry (DMAInfo.md names no partner).

    A pair may be listed as two entries or as one entry that stands for both agents. Either way the API
    answers for the active agent only, so the backup's version is "not readable": a person confirms it in
    Cube. That is a manual item, never a failure of the check.
    """
    title = "Failover pairs are complete"
    failover = [info for info in infos if info.is_failover]
    if not failover:
        return [result("failover_pairs", title, CheckStatus.PASS, "no failover pairs in this DMS")]
    versions = {s.id: s.version for s in states or []}
    results = []
    for info in failover:
        version = versions.get(info.id)
        running = f"the active agent runs {version}; " if version is not None else ""
        results.append(result("failover_pairs", title, CheckStatus.MANUAL,
                              f"{info.label} is in a failover pair: {running}the backup agent's version is "
                              "not readable through the API; confirm in Cube that main and backup are "
                              "healthy and run the same version", agent=info.label))
    return results


def _version_label(state: AgentState) -> str | None:
    """The version an agent runs, as a person reads it; an unrecognised DMAVersion counts as what it says."""
    if state.version is not None:
        return str(state.version)
    if state.reachable and state.version_text:
        return f"{state.version_text[:64]} (not recognised)"
    return None


def check_one_version(states: list[AgentState], *, path: UpgradePath | None) -> list[CheckResult]:
    title = "All agents run one version"
    labels = {s.name: label for s in states if (label := _version_label(s)) is not None}
    if not labels:
        return [result("one_version", title, CheckStatus.FAIL, "no agent's version could be read")]
    if len(set(labels.values())) > 1:
        listing = "; ".join(f"{name} {label}" for name, label in labels.items())
        return [result("one_version", title, CheckStatus.FAIL, f"mixed versions: {listing}")]
    (label,) = set(labels.values())
    results = [result("one_version", title, CheckStatus.PASS, f"every readable agent runs {label}")]
    versions = {s.version for s in states if s.version is not None}
    if path is not None and versions and path.current not in versions:
        (version,) = versions
        detail = f"the cluster runs {version} but the plan starts from {path.current}; re-plan"
        results.append(result("plan_start_version", "The plan starts from the running version",
                               CheckStatus.FAIL, detail))
    return results


def check_requirements(path: UpgradePath | None) -> list[CheckResult]:
    if path is None:
        return []
    seen: set[str] = set()
    results = []
    for hop in path.hops:
        for requirement in hop.requirements:
            if requirement not in seen:
                seen.add(requirement)
                results.append(result("requirement", "Minimum requirements met", CheckStatus.MANUAL,
                                       f"confirm on every agent: {requirement} (needed for {hop.name})"))
    return results


def backup_check() -> CheckResult:
    return result("backup", "A backup or snapshot was taken", CheckStatus.MANUAL,
                   "confirm a VM snapshot (preferred) or a DataMiner backup of every agent exists")


def make_baseline(
    *, states: list[AgentState], statistics: list[AgentStatistics], alarms: list[Alarm]
) -> Baseline:
    unmasked = [alarm for alarm in alarms if alarm.counts]
    return Baseline(
        taken_at=datetime.now(UTC),
        elements={s.id: s.amount_elements for s in statistics},
        elements_active={s.id: s.amount_elements_active for s in statistics},
        alarms_by_severity=dict(Counter(alarm.severity for alarm in unmasked)),
        critical_alarm_ids=sorted(a.key for a in unmasked if a.severity.lower() == "critical"),
        versions={s.id: str(s.version) for s in states if s.version is not None},
    )


@dataclass(frozen=True)
class ClusterReading:
    """One concurrent read of everything the checks look at."""

    infos: list[AgentInfo]
    states: list[AgentState]
    statistics: list[AgentStatistics]
    alarms: list[Alarm]
    key_elements: list[ElementInfo | DmsApiError]

    @property
    def names(self) -> dict[int, str]:
        return {info.id: info.name for info in self.infos}


async def read_cluster(client: DmsClient, *, key_elements: list[str]) -> ClusterReading:
    """Agents (with each one's version), statistics, alarms and key elements, all at once.

    The whole read takes about as long as one agent's chain of calls. A TaskGroup cancels the other
    reads as soon as one fails: without a DMS there is nothing to report anyway.
    """

    async def agents() -> tuple[list[AgentInfo], list[AgentState]]:
        infos = await client.agents_info()
        return infos, await client.agent_states(agents=infos)

    try:
        async with asyncio.TaskGroup() as group:
            agents_task = group.create_task(agents())
            statistics_task = group.create_task(client.agents_statistics())
            alarms_task = group.create_task(client.active_alarms())
            keys_task = group.create_task(read_key_elements(client, key_elements))
    except BaseExceptionGroup as errors:
        raise first_error(errors) from None
    infos, states = agents_task.result()
    return ClusterReading(infos=infos, states=states, statistics=statistics_task.result(),
                          alarms=alarms_task.result(), key_elements=keys_task.result())


async def run_prechecks(
    client: DmsClient,
    *,
    path: UpgradePath | None,
    blocking_severities: list[str],
    key_elements: list[str] | None = None,
    package_folder: str | None = None,
) -> PrecheckReport:
    """Every pre-upgrade check at once.

    ``package_folder`` (DMS_PACKAGE_FOLDER): ask the orchestrator script whether every package file of
    ``path`` is there. ``DmsUnreachable`` and ``DmsAuthError`` propagate: there is no report without a DMS.
    """
    keys = list(key_elements or [])
    reading = await read_cluster(client, key_elements=keys)
    infos, states, alarms = reading.infos, reading.states, reading.alarms
    names = reading.names
    results = [
        *check_agents_running(states),
        *check_alarms(alarms, blocking=blocking_severities, names=names),
        *check_failover(infos, states),
        *check_versions_recognised(states),
        *check_one_version(states, path=path),
        *check_key_elements(keys, reading.key_elements),
        *check_requirements(path),
        *(await check_packages(client, path=path, folder=package_folder) if package_folder else []),
        backup_check(),
    ]
    baseline = make_baseline(states=states, statistics=reading.statistics, alarms=alarms)
    return PrecheckReport(results=results, baseline=baseline)
