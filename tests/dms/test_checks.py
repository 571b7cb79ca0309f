"""Pre-upgrade checks and verification: the rules on plain data, and the whole run over MockTransport."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from dms.client import DmsClient
from dms.exceptions import DmsAuthError, DmsUnreachable
from dms.models import AgentInfo, AgentState, AgentStatistics, Alarm, Baseline, CheckStatus
from dms.prechecks import (
    check_alarms,
    check_failover,
    check_one_version,
    check_requirements,
    check_versions_recognised,
    run_prechecks,
)
from dms.upgrade_path import Hop, PackageKind, UpgradePath
from dms.verification import check_elements, check_new_critical, check_on_target, run_verification
from dms.versions import Track, Version
from tests.dms.dms_fakes import PASSWORD, URL, FakeDms, fault

V = Version(10, 4, 0, 3)
T = Version(10, 5, 0, 2)


def info(i: int, **extra: Any) -> AgentInfo:
    return AgentInfo.model_validate({"ID": i, "Name": f"DMA{i}", "PrimaryIP": f"10.0.0.{i}",
                                     "Status": "Running", **extra})


def alarm(i: int, severity: str, *, agent: int = 1, masked: bool = False) -> Alarm:
    return Alarm.model_validate({"DataMinerID": agent, "ID": i, "ElementName": "Router",
                                 "ParameterName": "CPU", "AlarmState": severity, "IsMasked": masked})


def state(
    i: int, *, status: str = "Running", version: Version | None = V, reachable: bool = True
) -> AgentState:
    return AgentState(id=i, name=f"DMA{i}", status=status, version=version, reachable=reachable)


def path_with(*requirements: str) -> UpgradePath:
    hop = Hop(version=T, package=PackageKind.FULL, name="DataMiner 10.5.0 CU2.dmupgrade", rule="r",
              rule_url="u", requirements=requirements)
    return UpgradePath(current=V, target=T, track=Track.MAIN, hops=(hop, hop))


def statuses(results: list[Any]) -> list[CheckStatus]:
    return [r.status for r in results]


def test_alarms_blocking_fail_per_agent_others_warn_masked_ignored() -> None:
    alarms = [alarm(1, "Critical"), alarm(2, "Major", agent=2), alarm(3, "Minor"),
              alarm(4, "Critical", masked=True), alarm(5, "Normal")]
    results = check_alarms(alarms, blocking=["Critical", "Major"], names={1: "DMA1", 2: "DMA2"})
    assert statuses(results) == [CheckStatus.FAIL, CheckStatus.FAIL, CheckStatus.WARN]
    assert results[0].agent == "DMA1" and "1 Critical" in results[0].detail
    assert "1 Minor" in results[2].detail
    only_critical = check_alarms(alarms[1:], blocking=["critical"], names={})
    assert statuses(only_critical) == [CheckStatus.PASS, CheckStatus.WARN]


def test_failover_pairs_are_manual_and_the_backup_version_not_readable() -> None:
    # DMAInfo.md has only IsFailOver: a pair may be one entry, and no partner is named.
    assert statuses(check_failover([info(3)])) == [CheckStatus.PASS]
    one_entry = check_failover([info(1, IsFailOver=True), info(3)], [state(1)])
    assert statuses(one_entry) == [CheckStatus.MANUAL]
    detail = one_entry[0].detail
    assert "backup agent's version is not readable" in detail and "10.4.0 CU3" in detail
    two = check_failover([info(1, IsFailOver=True), info(2, IsFailOver=True)])
    assert statuses(two) == [CheckStatus.MANUAL, CheckStatus.MANUAL]


def test_one_version_and_plan_start() -> None:
    assert statuses(check_one_version([state(1), state(2)], path=None)) == [CheckStatus.PASS]
    mixed = check_one_version([state(1), state(2, version=T)], path=None)
    assert statuses(mixed) == [CheckStatus.FAIL] and "10.5.0 CU2" in mixed[0].detail
    moved = check_one_version([state(1, version=T)], path=path_with())
    assert statuses(moved) == [CheckStatus.PASS, CheckStatus.FAIL]
    assert statuses(check_one_version([state(1, version=None)], path=None)) == [CheckStatus.FAIL]


def test_requirements_are_manual_and_deduplicated() -> None:
    results = check_requirements(path_with(".NET Framework 4.8", "ports 4222/6222 open"))
    assert statuses(results) == [CheckStatus.MANUAL, CheckStatus.MANUAL]
    assert check_requirements(None) == []


def test_verification_rules() -> None:
    baseline = Baseline(taken_at=datetime.now(UTC), elements_active={1: 5, 2: 5}, critical_alarm_ids=[7])
    assert statuses(check_on_target([state(1, version=T)], target=T)) == [CheckStatus.PASS]
    behind = check_on_target([state(1, version=T), state(2, status="Starting", version=V)], target=T)
    assert statuses(behind) == [CheckStatus.FAIL] and behind[0].agent == "DMA2"
    stats = [AgentStatistics.model_validate({"ID": 1, "AmountElementsActive": 5}),
             AgentStatistics.model_validate({"ID": 2, "AmountElementsActive": 3})]
    dropped = check_elements(stats, baseline=baseline, names={2: "DMA2"})
    assert statuses(dropped) == [CheckStatus.FAIL] and "3 active elements, 5" in dropped[0].detail
    same = check_new_critical([alarm(7, "Critical")], baseline=baseline, names={})
    assert statuses(same) == [CheckStatus.PASS]
    new = check_new_critical([alarm(7, "Critical"), alarm(8, "Critical")], baseline=baseline,
                             names={1: "DMA1"})
    assert statuses(new) == [CheckStatus.FAIL] and new[0].agent == "DMA1"


def test_a_new_critical_alarm_with_an_old_id_on_another_agent_is_new() -> None:
    # DataMiner numbers alarms per agent: agent 2's alarm 7 is not agent 1's alarm 7.
    before = Baseline(taken_at=datetime.now(UTC), critical_alarm_ids=["1/7"])
    results = check_new_critical([alarm(7, "Critical", agent=1), alarm(7, "Critical", agent=2)],
                                 baseline=before, names={2: "DMA2"})
    assert statuses(results) == [CheckStatus.FAIL] and results[0].agent == "DMA2"
    stored = Baseline.model_validate({"taken_at": "2026-01-01T00:00:00Z", "critical_alarm_ids": [7]})
    assert stored.had_critical(alarm(7, "Critical", agent=2)), "a bare stored ID still counts as known"


def client_for(fake: FakeDms, **options: Any) -> DmsClient:
    return DmsClient(url=URL, user="admin", password=PASSWORD, transport=httpx.MockTransport(fake.handler),
                     **options)


async def test_run_prechecks_healthy_cluster_passes_with_baseline_and_runs_calls_concurrently() -> None:
    fake = FakeDms(agents=4, latency_s=0.01)
    fake.extra["GetElementByName"] = {"ID": "1/5", "Name": "Core router", "State": "Active"}
    async with client_for(fake) as client:
        report = await run_prechecks(client, path=path_with(".NET 8"),
                                     blocking_severities=["Critical", "Major"], key_elements=["Core router"])
    assert report.passed, report.results
    names = [r.name for r in report.results]
    for expected in ("agents_running", "alarms_blocking", "failover_pairs", "one_version", "key_element",
                     "requirement", "backup"):
        assert expected in names
    assert report.baseline.total_active == 36 and report.baseline.versions[101] == "10.4.0 CU3"
    # info, statistics, alarms and the key element go out together, then the four agents' version reads.
    assert fake.max_in_flight >= 4


async def test_run_prechecks_reports_problems() -> None:
    fake = FakeDms(agents=3)
    fake.agents[1]["Status"] = "Starting"
    fake.versions["127.0.1.3"] = "10.3.0.0-12000-CU22"
    fake.down.add("127.0.1.1")
    fake.extra["GetActiveAlarms"] = [
        {"DataMinerID": 102, "ID": 1, "AlarmState": "Critical", "IsMasked": False, "ElementName": "E"}
    ]
    async with client_for(fake, retries=0) as client:
        report = await run_prechecks(client, path=None, blocking_severities=["Critical"],
                                     key_elements=["Gone"])
    assert not report.passed
    failed = {(r.name, r.agent) for r in report.failures}
    assert {("agents_running", "DMA1"), ("agents_running", "DMA2"), ("alarms_blocking", "DMA2"),
            ("one_version", None)} <= failed
    manual = [r for r in report.results if r.name == "key_element"]
    assert manual[0].status is CheckStatus.MANUAL, "an API without GetElementByName gives a manual check"
    assert report.baseline.critical_alarm_ids == ["102/1"]


@pytest.mark.parametrize(("response", "error"), [
    (httpx.ConnectError("down"), DmsUnreachable),
    (fault("Authentication failed: the user name or password is incorrect."), DmsAuthError),
])
async def test_run_prechecks_raises_when_the_dms_cannot_be_used(
    response: Any, error: type[Exception]
) -> None:
    fake = FakeDms()
    fake.queue["ConnectApp"] = [response] * 3
    client = client_for(fake, retries=1, backoff_s=0.0)
    with pytest.raises(error):
        await run_prechecks(client, path=None, blocking_severities=["Critical"])
    await client.close()


async def test_run_verification_against_baseline() -> None:
    fake = FakeDms(agents=2, version="10.5.0.0-15000-CU2")
    baseline = Baseline(taken_at=datetime.now(UTC), elements_active={101: 9, 102: 10})
    async with client_for(fake) as client:
        results = await run_verification(client, target=T, baseline=baseline, key_elements=[])
        assert [r.status for r in results if r.name == "on_target"] == [CheckStatus.PASS]
        failed = [r for r in results if r.status is CheckStatus.FAIL]
        assert [(r.name, r.agent) for r in failed] == [("elements_active", "DMA2")]
        fake.extra["GetActiveAlarms"] = [{"DataMinerID": 101, "ID": 9, "AlarmState": "Critical"}]
        results = await run_verification(client, target=V, baseline=baseline)
    assert {r.name for r in results if r.status is CheckStatus.FAIL} == {"on_target", "elements_active",
                                                                          "new_critical"}


# ---------------------------------------------------------------- against the simulated DMS, over real HTTP

async def sim_report(sim: Any, **options: Any) -> Any:
    from tests.dms.dms_fakes import sim_client

    async with sim_client(sim.url, **options) as client:
        return await run_prechecks(client, path=None, blocking_severities=["Critical", "Major"],
                                   key_elements=["DMA01 Element 001"])


async def test_sim_fresh_cluster_passes_and_baseline_holds_its_counts() -> None:
    from simulator import SimulatedDms
    from simulator.clock import ManualClock
    from tests.dms.dms_fakes import sim_config

    # A still simulator clock: at the test speed a session's 5 idle minutes are 50 ms of real time, which a
    # busy machine can spend between a reconnect and its retry (the check then fails for no real reason).
    async with SimulatedDms(sim_config(), clock=ManualClock()) as sim:
        names = [a["name"] for a in sim.state()["agents"]]
        report = await sim_report(sim)
    assert report.passed, [r for r in report.results if r.status is CheckStatus.FAIL]
    by_name = {r.name: r for r in report.results}
    assert by_name["failover_pairs"].status is CheckStatus.MANUAL  # the backup version is not readable
    assert by_name["key_element"].status is CheckStatus.PASS, names
    assert len(report.baseline.versions) == 4 and report.baseline.total_active > 0


@pytest.mark.parametrize(("fault_name", "options", "failing"), [
    ("agent_unreachable", {"agent": 3}, ("agents_running", "DMA03")),
    ("agent_stuck_starting", {"agent": 2, "restart": True}, ("agents_running", "DMA02")),
    ("agent_fails_to_start", {"agent": 4, "restart": True}, ("agents_running", "DMA04")),
    ("critical_alarms", {"agent": 1, "count": 2}, ("alarms_blocking", "DMA01")),
])
async def test_sim_each_fault_fails_the_matching_check(fault_name: str, options: dict[str, Any],
                                                       failing: tuple[str, str]) -> None:
    from simulator import SimulatedDms
    from tests.dms.dms_fakes import sim_config

    async with SimulatedDms(sim_config()) as sim:
        sim.inject(fault_name, **options)
        report = await asyncio.wait_for(sim_report(sim, retries=0), timeout=20)
    assert not report.passed
    assert failing in {(r.name, r.agent) for r in report.failures}


async def test_sim_session_expiry_and_latency_do_not_break_the_check() -> None:
    from simulator import SimulatedDms
    from simulator.clock import ManualClock
    from tests.dms.dms_fakes import sim_config

    # The simulator's clock stands still. On a scaled clock (x6000) the 5-minute idle timeout is 50 ms of
    # real time, so on a busy machine a session could also expire *idle* between the reconnect and the retry
    # that the session_expiry fault provokes: a second expiry the client rightly refuses to chase. The
    # test is about the fault and the latency, so simulated time must not move under it.
    async with SimulatedDms(sim_config(), clock=ManualClock()) as sim:
        sim.inject("session_expiry")
        sim.inject("latency_spike", ms=20)
        report = await asyncio.wait_for(sim_report(sim), timeout=20)
    assert report.passed


async def test_sim_verification_after_an_upgrade() -> None:
    from dms.drivers import ScriptDriver
    from simulator import SimulatedDms
    from tests.dms.dms_fakes import sim_client, sim_config

    hop = Hop(version=Version(10, 4, 0, 5), package=PackageKind.CU, name="DataMiner 10.4.0 CU5.dmupdate",
              rule="r", rule_url="u")
    async with SimulatedDms(sim_config(version="10.4.0 CU3")) as sim, sim_client(sim.url) as client:
        report = await run_prechecks(client, path=None, blocking_severities=["Critical"])
        driver = ScriptDriver(client)
        await driver.start_upgrade(hop=hop, job="e5")
        await driver.wait_for_hop(hop=hop, job="e5", timeout_s=20, poll_s=0.02)
        results = await run_verification(client, target=hop.version, baseline=report.baseline)
        assert [r for r in results if r.status is CheckStatus.FAIL] == []
        sim.inject("critical_alarms", agent=2, count=1)
        results = await run_verification(client, target=hop.version, baseline=report.baseline)
    assert {(r.name, r.agent) for r in results if r.status is CheckStatus.FAIL} == {("new_critical", "DMA02")}


async def test_sim_failover_pair_listed_as_one_entry_passes_with_the_backup_version_not_readable() -> None:
    from simulator import SimulatedDms
    from tests.dms.dms_fakes import sim_client, sim_config

    config = sim_config(agents=3, failover_pairs=1, pair_as_one_entry=True)
    async with SimulatedDms(config) as sim, sim_client(sim.url) as client:
        report = await run_prechecks(client, path=None, blocking_severities=["Critical"])
    assert report.passed
    (pair,) = [r for r in report.results if r.name == "failover_pairs"]
    assert pair.status is CheckStatus.MANUAL and "backup agent's version is not readable" in pair.detail
    running = next(r for r in report.results if r.name == "agents_running")
    assert running.status is CheckStatus.PASS and "2 agents" in running.detail


def test_an_unrecognised_version_is_one_version_and_a_manual_confirmation_not_a_failure() -> None:
    odd = [AgentState(id=i, name=f"DMA{i}", status="Running", version_text="10.6.2617.1490") for i in (1, 2)]
    (one,) = check_one_version(odd, path=path_with())
    assert one.status is CheckStatus.PASS and "10.6.2617.1490 (not recognised)" in one.detail
    mixed = check_one_version([odd[0], state(3)], path=None)
    assert statuses(mixed) == [CheckStatus.FAIL]
    asks = check_versions_recognised(odd)
    assert statuses(asks) == [CheckStatus.MANUAL] * 2
    assert "version 10.6.2617.1490 not recognised" in asks[0].detail and "from" in asks[0].detail
