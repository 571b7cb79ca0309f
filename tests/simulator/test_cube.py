"""The simulator playing the person in Cube (``simulator.cube``): Upload only and Upgrade."""

from __future__ import annotations

from typing import Any

from simulator import ManualClock, SimulatedDms
from tests.simulator.conftest import Api, Factory, statuses

PACKAGE = "DataMiner 10.5.0 CU2.dmupgrade"


async def _cube(api: Api, sim: SimulatedDms, step: str, package: str = PACKAGE) -> Any:
    response = await api.http.post(f"{sim.url}/_sim/cube", json={"step": step, "package": package})
    assert response.status_code == 200, response.text
    return response.json()["error"]


async def test_upload_only_then_upgrade(make_sim: Factory, api: Api) -> None:
    clock = ManualClock()
    sim = await make_sim(clock, agents=3, upload_minutes=0, play_cube=True)
    assert await _cube(api, sim, "upload") is None
    state = sim.state()
    assert state["uploaded"] == [PACKAGE] and state["uploads"] == {"10.5.0 CU2": 1}
    assert state["upgrades_triggered"] == {}
    assert await _cube(api, sim, "upgrade") is None  # answered once the upgrade started
    state = sim.state()
    assert state["uploads"] == {"10.5.0 CU2": 1}  # uploaded before: not again
    assert state["upgrades_triggered"] == {"10.5.0 CU2": 1}
    assert {a["detail"] for a in state["agents"]} == {"Stopping"}
    await clock.advance(minutes=60)
    assert statuses(sim.state()) == [("Running", "", "10.5.0 CU2")] * 3


async def test_upgrade_without_upload_only_uploads_the_package_itself(make_sim: Factory, api: Api) -> None:
    clock = ManualClock()
    sim = await make_sim(clock, agents=2, upload_minutes=0, play_cube=True)
    assert await _cube(api, sim, "upgrade") is None
    state = sim.state()
    assert state["uploads"] == {"10.5.0 CU2": 1} and state["upgrades_triggered"] == {"10.5.0 CU2": 1}


async def test_a_failing_check_fails_upload_only_and_cancels_the_upgrade(make_sim: Factory, api: Api) -> None:
    clock = ManualClock()
    sim = await make_sim(clock, agents=2, upload_minutes=0, play_cube=True)
    sim.inject("prerequisite_check_fails", check="Verify NATS Cluster")
    error = await _cube(api, sim, "upload")
    assert "rejected" in error and "Verify NATS Cluster" in error
    assert sim.state()["uploaded"] == []

    sim.clear()
    assert await _cube(api, sim, "upload") is None
    sim.inject("prerequisite_check_fails", check="Verify NATS Cluster")  # the checks run again at the start
    error = await _cube(api, sim, "upgrade")
    assert "canceled" in error and "Verify NATS Cluster" in error
    state = sim.state()
    assert state["upgrades_triggered"] == {}
    assert statuses(state) == [("Running", "", "10.4.0 CU3")] * 2


async def test_cube_upgrade_from_before_10_6_6_holds_the_orchestrating_agent(
    make_sim: Factory, api: Api
) -> None:
    clock = ManualClock()
    sim = await make_sim(clock, agents=2, upload_minutes=0, stop_minutes=1, install_minutes=4,
                         startup_minutes=10, play_cube=True)
    sim.inject("agent_stuck_starting", agent=2)
    assert await _cube(api, sim, "upgrade") is None
    await clock.advance(minutes=30)
    assert statuses(sim.state())[0] == ("Running", "", "10.5.0 CU2")
    assert (await api.post(sim.url, "ConnectApp", login="admin", password="admin")).status_code == 503
    sim.clear()
    await clock.advance(minutes=10)
    assert await api.connect(sim.url)


async def test_a_helper_package_runs_in_cube_without_restart(make_sim: Factory, api: Api) -> None:
    sim = await make_sim(ManualClock(), agents=2, upload_minutes=0, helper_minutes=0, play_cube=True)
    assert await _cube(api, sim, "upgrade", "VerifyClusterPorts.dmupgrade") is None
    state = sim.state()
    assert state["upgrades_triggered"] == {"VerifyClusterPorts.dmupgrade": 1}
    assert statuses(state) == [("Running", "", "10.4.0 CU3")] * 2
