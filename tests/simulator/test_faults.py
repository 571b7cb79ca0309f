from __future__ import annotations

import time

from simulator import ManualClock, SimulatedDms
from tests.simulator.conftest import Api, Factory, job_of, upgrade_params
from tests.support.polling import wait_until

PACKAGE = "DataMiner 10.5.0.dmupgrade"


async def _upgrade(api: Api, sim: SimulatedDms, job: str = "ab") -> None:
    """Start an upgrade job and wait until the utility has started the agents' upgrade."""
    connection = await api.connect(sim.url)
    assert (await api.outputs(sim.url, connection, upgrade_params(sim, PACKAGE, job)))["State"] == "running"
    await wait_until(lambda: bool(sim.state()["upgrades_triggered"]), what="the upgrade to start")


def _agent(sim: object, agent_id: int) -> tuple[str, str, str]:
    row = sim.state()["agents"][agent_id - 1]  # type: ignore[attr-defined]
    return row["status"], row["detail"], row["version"]


async def test_agent_unreachable(make_sim: Factory, api: Api) -> None:
    sim = await make_sim(agents=3)
    response = await api.http.post(f"{sim.url}/_sim/fault", json={"fault": "agent_unreachable"})
    assert response.status_code == 200 and response.json()["injected"] == {"fault": "agent_unreachable",
                                                                            "agent": 3}
    assert (await api.post(sim.agent_url(3), "ConnectApp")).status_code == 503
    connection = await api.connect(sim.url)
    info = await api.ok(sim.url, "GetDataMinerAgentsInfo", connection=connection)
    assert info[2]["Status"] == "Disconnected"
    # The script starts the utility; the upgrade cannot start with an agent away, and touches none.
    await api.outputs(sim.url, connection, upgrade_params(sim, PACKAGE, "aa"))
    await wait_until(lambda: job_of(sim, "aa")["state"] == "finished", what="the job to end")
    job = job_of(sim, "aa")
    assert job["exit_code"] == 1 and "DMA03 is Disconnected (Unreachable)" in job["message"]
    assert sim.state()["uploads"] == {} and sim.state()["upgrades_triggered"] == {}
    assert (await api.http.delete(f"{sim.url}/_sim/fault")).status_code == 200
    assert await api.connect(sim.agent_url(3))
    assert sim.state()["faults"] == []


async def test_agent_stuck_starting_during_upgrade_then_cleared(make_sim: Factory, api: Api) -> None:
    clock = ManualClock()
    sim = await make_sim(clock, agents=3, upload_minutes=0, startup_minutes=10)
    sim.inject("agent_stuck_starting", agent=2)
    await _upgrade(api, sim)
    await clock.advance(minutes=600)
    assert _agent(sim, 1) == ("Running", "", "10.5.0") and _agent(sim, 3) == ("Running", "", "10.5.0")
    assert _agent(sim, 2) == ("Starting", "Starting up (40%)", "10.5.0")
    sim.clear("agent_stuck_starting")
    await clock.advance(minutes=5)
    assert _agent(sim, 2)[:2] == ("Starting", "Starting up (90%)")  # resumes where it hung
    await clock.advance(minutes=1)
    assert _agent(sim, 2) == ("Running", "", "10.5.0")


async def test_agent_stuck_starting_with_restart_shows_now(make_sim: Factory, api: Api) -> None:
    clock = ManualClock()
    sim = await make_sim(clock, agents=2, faults=("agent_stuck_starting:restart=true",))
    await clock.advance(minutes=60)
    assert _agent(sim, 2) == ("Starting", "Starting up (40%)", "10.4.0 CU3")


async def test_agent_fails_to_start(make_sim: Factory, api: Api) -> None:
    clock = ManualClock()
    sim = await make_sim(clock, agents=2, upload_minutes=0, startup_minutes=10)
    await _upgrade(api, sim)
    sim.inject("agent_fails_to_start")  # during the upgrade: agent 2's startup will fail
    await clock.advance(minutes=16)
    assert _agent(sim, 1) == ("Running", "", "10.5.0")
    assert _agent(sim, 2)[:2] == ("Disconnected", "Failed to start")
    assert (await api.post(sim.agent_url(2), "ConnectApp")).status_code == 503
    clear = {"clear": True, "fault": "agent_fails_to_start"}
    response = await api.http.post(f"{sim.url}/_sim/fault", json=clear)
    assert response.json()["cleared"] == [{"fault": "agent_fails_to_start", "agent": 2, "restart": False}]
    assert _agent(sim, 2)[0] == "Starting"  # started again by hand
    await clock.advance(minutes=10)
    assert _agent(sim, 2) == ("Running", "", "10.5.0")


async def test_critical_alarms(make_sim: Factory, api: Api) -> None:
    sim = await make_sim(agents=2, alarms=4)
    response = await api.http.post(f"{sim.url}/_sim/fault", json={"fault": "critical_alarms", "count": 3,
                                                                  "agent": 2})
    assert response.status_code == 200
    connection = await api.connect(sim.url)
    alarms = await api.ok(sim.url, "GetActiveAlarms", connection=connection)
    raised = [a for a in alarms if a["AlarmState"] == "Critical" and not a["IsMasked"]]
    assert len(raised) == 3 and {a["DataMinerID"] for a in raised} == {2}
    assert await api.ok(sim.url, "GetActiveAlarmsCount", connection=connection) == 7
    sim.clear()
    assert await api.ok(sim.url, "GetActiveAlarmsCount", connection=connection) == 4


async def test_latency_spike_on_one_agent(make_sim: Factory, api: Api) -> None:
    sim = await make_sim(agents=2)
    sim.inject("latency_spike", agent=2, ms=300)
    began = time.monotonic()
    await api.connect(sim.agent_url(2))
    assert time.monotonic() - began >= 0.3
    began = time.monotonic()
    await api.connect(sim.url)
    assert time.monotonic() - began < 0.3


async def test_session_expiry_fault_and_idle_expiry(make_sim: Factory, api: Api) -> None:
    clock = ManualClock()
    sim = await make_sim(clock, agents=1, session_idle_minutes=5)
    connection = await api.connect(sim.url)
    await clock.advance(minutes=4)
    assert await api.ok(sim.url, "GetActiveAlarmsCount", connection=connection) == 6  # use resets idleness
    await clock.advance(minutes=4.9)
    assert await api.ok(sim.url, "GetActiveAlarmsCount", connection=connection) == 6
    await clock.advance(minutes=5.1)
    assert "No connection available" in await api.fault(sim.url, "GetActiveAlarmsCount",
                                                        connection=connection)

    connection = await api.connect(sim.url)
    sim.inject("session_expiry")
    assert "No connection available" in await api.fault(sim.url, "GetActiveAlarmsCount",
                                                        connection=connection)
    # While active, a connection id serves one call: reconnect-and-retry still works.
    fresh = await api.connect(sim.url)
    assert await api.ok(sim.url, "GetActiveAlarmsCount", connection=fresh) == 6
    assert "No connection available" in await api.fault(sim.url, "GetActiveAlarmsCount", connection=fresh)
    sim.clear("session_expiry")
    fresh = await api.connect(sim.url)
    for _ in range(3):
        assert await api.ok(sim.url, "GetActiveAlarmsCount", connection=fresh) == 6


async def test_fault_endpoint_validates_and_changes_nothing_on_bad_input(make_sim: Factory, api: Api) -> None:
    sim = await make_sim(agents=2)
    for body in ({"fault": "meteor_strike"}, {"fault": "agent_unreachable", "agent": 7},
                 {"fault": "latency_spike", "ms": "slow"}, {"fault": "session_expiry", "agent": 1}, [1]):
        response = await api.http.post(f"{sim.url}/_sim/fault", json=body)
        assert response.status_code == 400 and response.json()["error"], body
    assert sim.state()["faults"] == []
    response = await api.http.post(f"{sim.url}/_sim/fault", json={"fault": "prerequisite_check_fails"})
    assert response.json()["state"]["faults"] == [{"fault": "prerequisite_check_fails",
                                                   "check": "Verify Cluster Ports"}]
    response = await api.http.delete(f"{sim.url}/_sim/fault", params={"fault": "prerequisite_check_fails"})
    assert response.json()["state"]["faults"] == []


async def test_a_prerequisite_fault_can_name_the_package_it_fails(make_sim: Factory, api: Api) -> None:
    sim = await make_sim(agents=2)
    response = await api.http.post(f"{sim.url}/_sim/fault", json={
        "fault": "prerequisite_check_fails", "check": "Verify BrokerGateway Migration", "package": "10.6"})
    expected = {"fault": "prerequisite_check_fails", "check": "Verify BrokerGateway Migration",
                "package": "10.6"}
    assert response.json()["state"]["faults"] == [expected]
    (active,) = sim.cluster.faults
    assert active.fails_check_of("DataMiner 10.6.0 CU6 Full Upgrade.dmupgrade")
    assert not active.fails_check_of("DataMiner 10.5.0 CU18 Full Upgrade.dmupgrade")


async def test_the_cube_player_answers_only_when_asked_to_play(make_sim: Factory, api: Api) -> None:
    sim = await make_sim(agents=2)
    response = await api.http.post(f"{sim.url}/_sim/cube", json={"step": "upload", "package": "x.dmupgrade"})
    assert response.status_code == 409 and "--play-cube" in response.json()["error"]
