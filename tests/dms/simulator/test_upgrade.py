from __future__ import annotations

import asyncio
from typing import Any

from dms.script_contract import PREREQUISITE_FAILED_PREFIX
from dms.simulator import ManualClock
from tests.dms.simulator.conftest import Api, Factory, upgrade_params, upload_params, wait_until

PACKAGE = "DataMiner 10.5.0 CU2.dmupgrade"


def statuses(state: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(a["status"], a["detail"], a["version"]) for a in state["agents"]]


async def test_upload_then_upgrade_at_speed_reaches_the_new_version(make_sim: Factory, api: Api) -> None:
    sim = await make_sim(agents=4, failover_pairs=1, speed=1200, stop_minutes=2, install_minutes=3,
                         startup_minutes=5, upload_minutes=2)
    connection = await api.connect(sim.url)
    response = await api.script(sim.url, connection, upload_params(PACKAGE))
    assert response.status_code == 200 and isinstance(response.json()["d"], int)
    state = await api.state(sim.url)
    assert state["uploads"] == {"10.5.0 CU2": 1} and state["uploaded"] == [PACKAGE]

    response = await api.script(sim.url, connection, upgrade_params(PACKAGE))
    assert response.status_code == 200
    first = await api.state(sim.url)
    assert {a["detail"] for a in first["agents"]} == {"Stopping"}  # the script returns once agents stop
    assert first["upgrades_triggered"] == {"10.5.0 CU2": 1}

    seen: set[str] = set()
    agent3 = sim.agent_url(3)
    answered_while_starting = False

    async def done() -> bool:
        nonlocal answered_while_starting
        state = await api.state(sim.url)
        for status, detail, _ in statuses(state):
            seen.add(detail.split(" (")[0] if detail.startswith("Starting up") else detail or status)
        if state["agents"][2]["status"] == "Starting":
            response = await api.post(agent3, "ConnectAppAndInfo", host="x", login="admin", password="admin",
                                      clientAppName="t", clientAppVersion="1", clientComputerName="c")
            answered_while_starting |= response.status_code == 200
        return all(s == ("Running", "", "10.5.0 CU2") for s in statuses(state))

    await wait_until(done, timeout=10)
    assert {"Stopping", "Upgrading to 10.5.0 CU2", "Starting up", "Running"} <= seen
    assert answered_while_starting
    info = await api.ok(agent3, "ConnectAppAndInfo", host="x", login="admin", password="admin",
                        clientAppName="t", clientAppVersion="1", clientComputerName="c")
    assert info["DMAVersion"].startswith("10.5.0.0-") and info["DMAVersion"].endswith("-CU2")
    # The agent restarted: the session from before the upgrade is gone.
    assert "No connection available" in await api.fault(sim.url, "GetActiveAlarms", connection=connection)
    assert (await api.state(sim.url))["upgrades_triggered"] == {"10.5.0 CU2": 1}


async def test_phases_follow_the_clock_exactly(make_sim: Factory, api: Api) -> None:
    clock = ManualClock()
    sim = await make_sim(clock, agents=2, stop_minutes=1, install_minutes=5, startup_minutes=10,
                         upload_minutes=5, elements_per_agent=10)
    connection = await api.connect(sim.url)
    upload = asyncio.create_task(api.script(sim.url, connection, upload_params(PACKAGE)))
    await wait_until(lambda: _uploads_started(sim))
    assert not upload.done()  # the prerequisite checks take simulated time
    await clock.advance(minutes=5)
    assert (await upload).status_code == 200

    assert (await api.script(sim.url, connection, upgrade_params(PACKAGE))).status_code == 200
    assert statuses(sim.state())[1] == ("Disconnected", "Stopping", "10.4.0 CU3")
    down = await api.post(sim.agent_url(2), "ConnectApp", login="admin", password="admin")
    assert down.status_code == 503
    await clock.advance(minutes=1)
    assert statuses(sim.state())[1] == ("Disconnected", "Upgrading to 10.5.0 CU2", "10.4.0 CU3")
    await clock.advance(minutes=9)
    assert statuses(sim.state())[1] == ("Starting", "Starting up (40%)", "10.5.0 CU2")
    connection = await api.connect(sim.url)  # a starting agent answers already
    info = await api.ok(sim.url, "GetDataMinerAgentsInfo", connection=connection)
    assert info[1]["Status"] == "Starting"  # DMAInfo has no status detail; the startup % is simulator state
    stats = await api.ok(sim.url, "GetDataMinerAgentsStatistics", connection=connection)
    assert stats[1]["AmountElementsActive"] == 3  # 40 % of the 9 active elements are up
    await clock.advance(minutes=6)
    assert statuses(sim.state()) == [("Running", "", "10.5.0 CU2")] * 2
    stats = await api.ok(sim.url, "GetDataMinerAgentsStatistics", connection=connection)
    assert [s["AmountElementsActive"] for s in stats] == [9, 9]


def _uploads_started(sim: Any) -> Any:
    async def check() -> bool:
        return bool(sim.state()["uploads"])

    return check()


async def test_failover_pairs_upgrade_together_or_backup_first(make_sim: Factory, api: Api) -> None:
    clock = ManualClock()
    sim = await make_sim(clock, agents=5, failover_pairs=2, upload_minutes=0)
    connection = await api.connect(sim.url)
    assert (await api.script(sim.url, connection, upload_params(PACKAGE))).status_code == 200
    assert (await api.script(sim.url, connection, upgrade_params(PACKAGE))).status_code == 200
    started = [a["upgrade_started"] for a in sim.state()["agents"]]
    assert len(set(started)) == 1 and started[0] is not None  # pairs 1+2 and 3+4 at once, with agent 5
    await clock.advance(minutes=60)
    assert statuses(sim.state()) == [("Running", "", "10.5.0 CU2")] * 5

    later = "DataMiner 10.5.0 CU5.dmupdate"
    connection = await api.connect(sim.url)
    assert (await api.script(sim.url, connection, upload_params(later))).status_code == 200
    assert (await api.script(sim.url, connection, upgrade_params(later, "BackupFirst"))).status_code == 200
    state = sim.state()
    # The backups (2, 4) and the single agent go first; the mains (1, 3) wait and keep running.
    assert [a["status"] for a in state["agents"]] == ["Running", "Disconnected", "Running", "Disconnected",
                                                      "Disconnected"]
    main_start, backup_start = state["agents"][0]["upgrade_started"], state["agents"][1]["upgrade_started"]
    assert main_start > backup_start
    await clock.advance(minutes=120)
    assert statuses(sim.state()) == [("Running", "", "10.5.0 CU5")] * 5
    assert sim.state()["upgrades_triggered"] == {"10.5.0 CU2": 1, "10.5.0 CU5": 1}


async def test_an_upgrade_is_never_triggered_twice_while_running(make_sim: Factory, api: Api) -> None:
    clock = ManualClock()
    sim = await make_sim(clock, agents=3, upload_minutes=0)
    connection = await api.connect(sim.url)
    await api.script(sim.url, connection, upload_params(PACKAGE))
    assert (await api.script(sim.url, connection, upgrade_params(PACKAGE))).status_code == 200
    await clock.advance(minutes=3)
    again = await api.post(sim.url, "ConnectApp", login="admin", password="admin")
    assert again.status_code == 503  # agent 1 is upgrading too: its address does not answer
    second = await api.script(sim.agent_url(2), "unused", upgrade_params(PACKAGE))
    assert second.status_code == 503
    await clock.advance(minutes=11)  # agents starting up: they answer, but refuse a new upgrade
    connection = await api.connect(sim.url)
    refused = await api.script(sim.url, connection, upgrade_params(PACKAGE))
    assert "cannot upgrade" in refused.json()["Message"] and "Starting" in refused.json()["Message"]
    assert sim.state()["upgrades_triggered"] == {"10.5.0 CU2": 1}


async def test_helper_package_runs_without_restart(make_sim: Factory, api: Api) -> None:
    clock = ManualClock()
    sim = await make_sim(clock, agents=2, version="10.0.0 CU19", upload_minutes=0, helper_minutes=5)
    connection = await api.connect(sim.url)
    helper = "VerifyClusterPorts.dmupgrade"
    assert (await api.script(sim.url, connection, upload_params(helper))).status_code == 200
    run = asyncio.create_task(api.script(sim.url, connection, upgrade_params(helper)))
    await wait_until(lambda: _triggered(sim, helper))
    assert not run.done()
    await clock.advance(minutes=5)
    assert (await run).status_code == 200
    state = sim.state()
    assert state["uploads"] == {helper: 1} and state["upgrades_triggered"] == {helper: 1}
    assert statuses(state) == [("Running", "", "10.0.0 CU19")] * 2
    assert await api.ok(sim.url, "IsConnectionAlive", connection=connection) is True  # no restart


def _triggered(sim: Any, key: str) -> Any:
    async def check() -> bool:
        return key in sim.state()["upgrades_triggered"]

    return check()


async def test_upload_without_waiting_and_prerequisite_failure(make_sim: Factory, api: Api) -> None:
    clock = ManualClock()
    sim = await make_sim(clock, agents=2, upload_minutes=5)
    connection = await api.connect(sim.url)
    response = await api.script(sim.url, connection, upload_params(PACKAGE), wait=False)
    assert response.status_code == 200 and sim.state()["uploaded"] == []
    await clock.advance(minutes=5)
    await wait_until(lambda: _uploaded(sim, PACKAGE))

    sim.inject("prerequisite_check_fails", check="Verify .NET Version")
    newer = "DataMiner 10.6.0.dmupgrade"
    failing = asyncio.create_task(api.script(sim.url, connection, upload_params(newer)))
    await wait_until(lambda: _uploads(sim, 2))
    await clock.advance(minutes=5)
    message = (await failing).json()["Message"]
    assert message.startswith(PREREQUISITE_FAILED_PREFIX) and "Verify .NET Version" in message
    refused = await api.script(sim.url, connection, upgrade_params("DataMiner 10.6.0.dmupgrade"))
    assert "was not uploaded" in refused.json()["Message"]
    assert sim.state()["upgrades_triggered"] == {}


def _uploaded(sim: Any, package: str) -> Any:
    async def check() -> bool:
        return package in sim.state()["uploaded"]

    return check()


def _uploads(sim: Any, count: int) -> Any:
    async def check() -> bool:
        return sum(sim.state()["uploads"].values()) >= count

    return check()
