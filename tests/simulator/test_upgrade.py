"""Upgrade jobs on the simulated DMS: the utility's run, the agents' phases and the job's exit code."""

from __future__ import annotations

from typing import Any

import pytest

from dms import script_contract as contract
from simulator import ManualClock, SimulatedDms
from tests.simulator.conftest import Api, Factory, job_of, status_params, statuses, upgrade_params
from tests.support.polling import wait_until

PACKAGE = "DataMiner 10.5.0 CU2.dmupgrade"


def _triggered(sim: SimulatedDms) -> bool:
    return bool(sim.state()["upgrades_triggered"])


def _ended(sim: SimulatedDms, job: str) -> bool:
    return bool(job_of(sim, job)["state"] != "running")


async def test_an_upgrade_job_at_speed_finishes_when_every_agent_runs_the_target(
    make_sim: Factory, api: Api
) -> None:
    sim = await make_sim(agents=4, failover_pairs=1, speed=1200, stop_minutes=2, install_minutes=3,
                         startup_minutes=5, upload_minutes=2)
    connection = await api.connect(sim.url)
    outputs = await api.outputs(sim.url, connection, upgrade_params(sim, PACKAGE, "0a"))
    assert outputs[contract.OUTPUT_STATE] == contract.STATE_RUNNING

    seen: set[str] = set()
    agent3 = sim.agent_url(3)
    answered_while_starting = False
    job_states: list[str] = []

    async def done() -> bool:
        nonlocal answered_while_starting
        state = await api.state(sim.url)
        for status, detail, _ in statuses(state):
            seen.add(detail.split(" (")[0] if detail.startswith("Starting up") else detail or status)
        if state["agents"][2]["status"] == "Starting":
            response = await api.post(agent3, "ConnectAppAndInfo", host="x", login="admin", password="admin",
                                      clientAppName="t", clientAppVersion="1", clientComputerName="c")
            answered_while_starting |= response.status_code == 200
        job_states.append(job_of(sim, "0a")["state"])
        return bool(job_states[-1] == "finished")

    await wait_until(done, timeout_s=10, what="the job to finish")
    assert job_states[0] == "running"
    assert statuses(sim.state()) == [("Running", "", "10.5.0 CU2")] * 4  # finished only once all run it
    assert job_of(sim, "0a")["exit_code"] == 0
    assert {"Stopping", "Upgrading to 10.5.0 CU2", "Starting up", "Running"} <= seen
    assert answered_while_starting
    info = await api.ok(agent3, "ConnectAppAndInfo", host="x", login="admin", password="admin",
                        clientAppName="t", clientAppVersion="1", clientComputerName="c")
    assert info["DMAVersion"].startswith("10.5.0.0-") and info["DMAVersion"].endswith("-CU2")
    # The agent restarted: the session from before the upgrade is gone.
    assert "No connection available" in await api.fault(sim.url, "GetActiveAlarms", connection=connection)
    state = await api.state(sim.url)
    assert state["upgrades_triggered"] == {"10.5.0 CU2": 1} and state["uploads"] == {"10.5.0 CU2": 1}


async def test_phases_follow_the_clock_exactly(make_sim: Factory, api: Api) -> None:
    clock = ManualClock()
    sim = await make_sim(clock, agents=2, stop_minutes=1, install_minutes=5, startup_minutes=10,
                         upload_minutes=5, elements_per_agent=10)
    connection = await api.connect(sim.url)
    await api.outputs(sim.url, connection, upgrade_params(sim, PACKAGE, "1b"))
    await wait_until(lambda: bool(sim.state()["uploads"]), what="the upload to begin")
    assert statuses(sim.state())[1] == ("Running", "", "10.4.0 CU3")  # the upload takes simulated time
    await clock.advance(minutes=5)
    await wait_until(lambda: _triggered(sim), what="the upgrade to start")

    assert statuses(sim.state())[1] == ("Disconnected", "Stopping", "10.4.0 CU3")
    down = await api.post(sim.agent_url(2), "ConnectApp", login="admin", password="admin")
    assert down.status_code == 503
    await clock.advance(minutes=1)
    assert statuses(sim.state())[1] == ("Disconnected", "Upgrading to 10.5.0 CU2", "10.4.0 CU3")
    await clock.advance(minutes=9)
    assert statuses(sim.state())[1] == ("Starting", "Starting up (40%)", "10.5.0 CU2")
    connection = await api.connect(sim.agent_url(2))  # a starting agent answers already
    info = await api.ok(sim.agent_url(2), "GetDataMinerAgentsInfo", connection=connection)
    assert info[1]["Status"] == "Starting"  # DMAInfo has no status detail; the startup % is simulator state
    stats = await api.ok(sim.agent_url(2), "GetDataMinerAgentsStatistics", connection=connection)
    assert stats[1]["AmountElementsActive"] == 3  # 40 % of the 9 active elements are up
    await clock.advance(minutes=6)
    assert statuses(sim.state()) == [("Running", "", "10.5.0 CU2")] * 2
    stats = await api.ok(sim.agent_url(2), "GetDataMinerAgentsStatistics", connection=connection)
    assert [s["AmountElementsActive"] for s in stats] == [9, 9]


async def test_failover_pairs_upgrade_simultaneously(make_sim: Factory, api: Api) -> None:
    clock = ManualClock()
    sim = await make_sim(clock, agents=5, failover_pairs=2, upload_minutes=0)
    connection = await api.connect(sim.url)
    await api.outputs(sim.url, connection, upgrade_params(sim, PACKAGE, "2c"))
    await wait_until(lambda: _triggered(sim), what="the upgrade to start")
    started = [a["upgrade_started"] for a in sim.state()["agents"]]
    assert len(set(started)) == 1 and started[0] is not None  # pairs 1+2 and 3+4 at once, with agent 5
    await clock.advance(minutes=60)
    assert statuses(sim.state()) == [("Running", "", "10.5.0 CU2")] * 5
    assert job_of(sim, "2c")["exit_code"] == 0


async def test_a_failing_prerequisite_check_ends_the_job_non_zero_with_agents_untouched(
    make_sim: Factory, api: Api
) -> None:
    clock = ManualClock()
    sim = await make_sim(clock, agents=3, upload_minutes=5)
    sim.inject("prerequisite_check_fails", check="Verify .NET Version")
    connection = await api.connect(sim.url)
    await api.outputs(sim.url, connection, upgrade_params(sim, PACKAGE, "3d"))
    await wait_until(lambda: bool(sim.state()["uploads"]), what="the upload to begin")
    await clock.advance(minutes=5)
    await wait_until(lambda: _ended(sim, "3d"), what="the job to end")
    outputs = await api.outputs(sim.url, connection, status_params("3d"))  # agent 1 never went down
    assert outputs == {contract.OUTPUT_CONTRACT_VERSION: contract.CONTRACT_VERSION,
                       contract.OUTPUT_STATE: contract.STATE_FINISHED, contract.OUTPUT_EXIT_CODE: "1",
                       contract.OUTPUT_MESSAGE: "SLTaskbarUtility exited with code 1"}
    job = job_of(sim, "3d")
    assert "Verify .NET Version" in job["message"]  # the simulator's state says why; the script cannot
    state = sim.state()
    assert state["uploads"] == {"10.5.0 CU2": 1} and state["upgrades_triggered"] == {}
    assert state["uploaded"] == []  # the package was not accepted
    assert statuses(state) == [("Running", "", "10.4.0 CU3")] * 3
    assert all(a["upgrade_started"] is None for a in state["agents"])


async def test_a_helper_job_finishes_with_zero_without_a_version_change(make_sim: Factory, api: Api) -> None:
    clock = ManualClock()
    sim = await make_sim(clock, agents=2, version="10.0.0 CU19", upload_minutes=0, helper_minutes=5)
    connection = await api.connect(sim.url)
    helper = "VerifyClusterPorts.dmupgrade"
    await api.outputs(sim.url, connection, upgrade_params(sim, helper, "4e"))
    await wait_until(lambda: _triggered(sim), what="the helper to start")
    assert job_of(sim, "4e")["state"] == "running"
    await clock.advance(minutes=5)
    await wait_until(lambda: _ended(sim, "4e"), what="the helper to end")
    outputs = await api.outputs(sim.url, connection, status_params("4e"))
    assert outputs[contract.OUTPUT_STATE] == contract.STATE_FINISHED and outputs["ExitCode"] == "0"
    state = sim.state()
    assert state["uploads"] == {helper: 1} and state["upgrades_triggered"] == {helper: 1}
    assert statuses(state) == [("Running", "", "10.0.0 CU19")] * 2
    assert await api.ok(sim.url, "IsConnectionAlive", connection=connection) is True  # no restart


async def test_an_agent_that_fails_to_start_ends_the_job_non_zero(make_sim: Factory, api: Api) -> None:
    clock = ManualClock()
    sim = await make_sim(clock, agents=3, upload_minutes=0, startup_minutes=10)
    connection = await api.connect(sim.url)
    await api.outputs(sim.url, connection, upgrade_params(sim, PACKAGE, "5f"))
    await wait_until(lambda: _triggered(sim), what="the upgrade to start")
    sim.inject("agent_fails_to_start")  # agent 3's startup will fail
    await clock.advance(minutes=16)
    assert job_of(sim, "5f")["exit_code"] == 2
    sim.clear()  # a person starts it again: the job's code stays what the utility returned
    await clock.advance(minutes=10)
    assert statuses(sim.state())[2] == ("Running", "", "10.5.0 CU2")
    connection = await api.connect(sim.url)
    assert (await api.outputs(sim.url, connection, status_params("5f")))["ExitCode"] == "2"


async def test_an_upgrade_is_never_started_twice_while_one_runs(make_sim: Factory, api: Api) -> None:
    clock = ManualClock()
    sim = await make_sim(clock, agents=3, upload_minutes=0)
    connection = await api.connect(sim.url)
    await api.outputs(sim.url, connection, upgrade_params(sim, PACKAGE, "60"))
    await wait_until(lambda: _triggered(sim), what="the upgrade to start")
    await clock.advance(minutes=14)  # agents starting up: they answer, but cannot take a new upgrade
    connection = await api.connect(sim.agent_url(2))
    later = await api.outputs(sim.agent_url(2), connection, upgrade_params(sim, PACKAGE, "61"))
    assert later[contract.OUTPUT_STATE] == contract.STATE_RUNNING
    await wait_until(lambda: _ended(sim, "61"), what="the second job to end")
    second = job_of(sim, "61")
    assert second["exit_code"] == 1 and "Starting" in second["message"]
    assert sim.state()["upgrades_triggered"] == {"10.5.0 CU2": 1}


@pytest.mark.parametrize(
    ("version", "package", "held"),
    [
        ("10.5.0 CU3", "DataMiner 10.5.0 CU5.dmupgrade", True),
        ("10.6.5", "DataMiner 10.6.6.dmupgrade", True),
        ("10.6.6", "DataMiner 10.6.7.dmupgrade", False),
        ("10.7.0", "DataMiner 10.7.0 CU1.dmupgrade", False),
    ],
)
async def test_the_orchestrating_agent_answers_only_after_every_agent_is_upgraded_before_10_6_6(
    make_sim: Factory, api: Api, version: str, package: str, held: bool
) -> None:
    clock = ManualClock()
    sim = await make_sim(clock, agents=3, version=version, upload_minutes=0, stop_minutes=1,
                         install_minutes=4, startup_minutes=10)
    sim.inject("agent_stuck_starting", agent=3)
    connection = await api.connect(sim.url)
    await api.outputs(sim.url, connection, upgrade_params(sim, package, "7a"))
    await wait_until(lambda: _triggered(sim), what="the upgrade to start")
    await clock.advance(minutes=8)  # agents 1 and 2 are starting up
    assert [s[0] for s in statuses(sim.state())] == ["Starting"] * 3

    async def answers(agent_id: int) -> bool:
        response = await api.post(sim.agent_url(agent_id), "ConnectApp", login="admin", password="admin")
        return response.status_code == 200

    assert await answers(2)
    assert await answers(1) is not held
    await clock.advance(minutes=60)  # agents 1 and 2 run the target; agent 3 hangs at 40 %
    assert [s[0] for s in statuses(sim.state())] == ["Running", "Running", "Starting"]
    assert await answers(2) and await answers(3)
    assert await answers(1) is not held  # "only after all Agents in the cluster have been upgraded"
    sim.clear("agent_stuck_starting")
    await clock.advance(minutes=10)
    assert await answers(1)
    connection = await api.connect(sim.url)
    outputs: dict[str, Any] = await api.outputs(sim.url, connection, status_params("7a"))
    assert outputs[contract.OUTPUT_STATE] == contract.STATE_FINISHED and outputs["ExitCode"] == "0"


async def test_of_two_jobs_uploading_at_once_only_the_first_starts(make_sim: Factory, api: Api) -> None:
    clock = ManualClock()
    sim = await make_sim(clock, agents=2, upload_minutes=5)
    connection = await api.connect(sim.url)
    for job in ("80", "81"):  # two bots, or a person and a bot: both find every agent Running
        await api.outputs(sim.url, connection, upgrade_params(sim, PACKAGE, job))
    await wait_until(lambda: sum(sim.state()["uploads"].values()) == 2, what="both uploads to begin")
    await clock.advance(minutes=5)
    await wait_until(lambda: _ended(sim, "81"), what="the second job to end")
    second = job_of(sim, "81")
    assert second["exit_code"] == 1 and "has an upgrade pending" in second["message"]
    assert job_of(sim, "80")["state"] == "running"
    assert sim.state()["upgrades_triggered"] == {"10.5.0 CU2": 1}
