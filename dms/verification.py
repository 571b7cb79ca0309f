"""Post-upgrade verification (the MOP's last step): every agent Running on the target, nothing lost.

Compares against the ``Baseline`` saved by the pre-upgrade check: active elements must not drop below it,
and no unmasked Critical alarm may be new. Reads run concurrently, like the pre-check.
"""

from __future__ import annotations

from dms.client import DmsClient
from dms.models import AgentState, AgentStatistics, AgentStatus, Alarm, Baseline, CheckResult, CheckStatus
from dms.prechecks import check_key_elements, read_cluster, result
from dms.versions import Version


def check_on_target(states: list[AgentState], *, target: Version) -> list[CheckResult]:
    title = f"Every agent is Running on {target}"
    bad = []
    for s in states:
        if not s.reachable:
            bad.append(result("on_target", title, CheckStatus.FAIL, f"{s.name} is unreachable: {s.detail}",
                               agent=s.name))
        elif s.status != AgentStatus.RUNNING or s.version != target:
            bad.append(result("on_target", title, CheckStatus.FAIL,
                               f"{s.name} is {s.status} on "
                               f"{s.version or s.detail or 'an unknown version'}",
                               agent=s.name))
    if not states:
        return [result("on_target", title, CheckStatus.FAIL, "the DMS reported no agents")]
    return bad or [result("on_target", title, CheckStatus.PASS, f"all {len(states)} agents run {target}")]


def check_elements(
    statistics: list[AgentStatistics], *, baseline: Baseline, names: dict[int, str]
) -> list[CheckResult]:
    title = "Active elements not below the baseline"
    now = {s.id: s.amount_elements_active for s in statistics}
    results = []
    for agent_id, before in sorted(baseline.elements_active.items()):
        after = now.get(agent_id, 0)
        if after < before:
            agent = names.get(agent_id, f"DMA {agent_id}")
            results.append(result("elements_active", title, CheckStatus.FAIL,
                                   f"{agent}: {after} active elements, {before} before the upgrade",
                                   agent=agent))
    total = sum(now.values())
    if not results:
        results.append(result("elements_active", title, CheckStatus.PASS,
                               f"{total} active elements (baseline {baseline.total_active})"))
    return results


def check_new_critical(
    alarms: list[Alarm], *, baseline: Baseline, names: dict[int, str]
) -> list[CheckResult]:
    title = "No new Critical alarms"
    new = [a for a in alarms
           if a.counts and a.severity.lower() == "critical" and not baseline.had_critical(a)]
    if not new:
        return [result("new_critical", title, CheckStatus.PASS,
                        "no Critical alarm appeared since the baseline")]
    return [
        result("new_critical", title, CheckStatus.FAIL,
                f"new Critical alarm on {a.element_name or a.element_id}: {a.parameter_name}",
                agent=names.get(a.dataminer_id, f"DMA {a.dataminer_id}"))
        for a in new
    ]


async def run_verification(
    client: DmsClient, *, target: Version, baseline: Baseline, key_elements: list[str] | None = None
) -> list[CheckResult]:
    keys = list(key_elements or [])
    reading = await read_cluster(client, key_elements=keys)
    names = reading.names
    return [
        *check_on_target(reading.states, target=target),
        *check_elements(reading.statistics, baseline=baseline, names=names),
        *check_new_critical(reading.alarms, baseline=baseline, names=names),
        *check_key_elements(keys, reading.key_elements),
    ]
