from __future__ import annotations

import pytest

from dms import script_contract as contract
from dms.models import AgentInfo, AgentStatistics, Alarm, ConnectInfo
from dms.versions import parse_version
from simulator import SimulatedDms, SimulatorConfig, SimulatorError
from tests.simulator.conftest import Api, Factory


async def test_connect_and_every_read_method(make_sim: Factory, api: Api) -> None:
    sim = await make_sim(agents=3, failover_pairs=1, elements_per_agent=20, alarms=6, version="10.4.0 CU3")
    info = await api.ok(sim.url, "ConnectAppAndInfo", host="x", login="admin", password="admin",
                        clientAppName="t", clientAppVersion="1", clientComputerName="c")
    assert set(info) >= {"Connection", "DMAVersion", "User", "ClusterInfo"}
    assert ConnectInfo.model_validate(info).dma_version.endswith("-CU3")
    assert parse_version(info["DMAVersion"]) == parse_version("10.4.0 CU3")
    assert info["MessageType"] == "" and info["ClusterInfo"]["IsCassandraActive"] is True
    connection = await api.connect(sim.url)

    agents = [AgentInfo.model_validate(row) for row in await api.ok(sim.url, "GetDataMinerAgentsInfo",
                                                                     connection=connection)]
    assert [a.id for a in agents] == [1, 2, 3]
    assert [a.primary_ip for a in agents] == ["127.0.1.1", "127.0.1.2", "127.0.1.3"]
    assert [a.is_failover for a in agents] == [True, True, False]  # DMAInfo.md names no partner
    assert all(a.status == "Running" and isinstance(a.last_change_utc, int) for a in agents)

    stats = [AgentStatistics.model_validate(r) for r in await api.ok(sim.url, "GetDataMinerAgentsStatistics",
                                                                    connection=connection)]
    counts = [(s.amount_elements, s.amount_elements_active, s.amount_services) for s in stats]
    assert counts == [(20, 18, 5)] * 3

    rows = await api.ok(sim.url, "GetActiveAlarms", connection=connection)
    alarms = [Alarm.model_validate(a) for a in rows]
    assert len(alarms) == 6 == await api.ok(sim.url, "GetActiveAlarmsCount", connection=connection)
    blocking = [a for a in alarms if a.severity in ("Critical", "Major")]
    assert blocking and all(a.is_masked for a in blocking)  # a fresh simulator passes the pre-check
    assert all(a.time_of_arrival_utc is not None for a in alarms)

    element = await api.ok(sim.url, "GetElementByName", connection=connection,
                           elementName="DMA02 Element 003")
    assert element["State"] == "Active" and element["DataMinerID"] == 2 and element["ID"] == 3

    scripts = await api.ok(sim.url, "GetAutomationScripts", connection=connection)
    assert scripts[0]["Name"] == contract.SCRIPT_NAME and scripts[0]["Folder"] == contract.SCRIPT_FOLDER
    assert {p["Name"] for p in scripts[0]["Parameters"]} == set(contract.PARAMETER_IDS)

    assert await api.ok(sim.url, "IsConnectionAlive", connection=connection) is True
    assert await api.ok(sim.url, "LogOut", connection=connection) is None
    assert await api.ok(sim.url, "IsConnectionAlive", connection=connection) is False
    expired = await api.fault(sim.url, "GetDataMinerAgentsInfo", connection=connection)
    assert "No connection available" in expired


async def test_each_agent_answers_on_its_own_address(make_sim: Factory, api: Api) -> None:
    sim = await make_sim(agents=3)
    port = sim.url.rsplit(":", 1)[1]
    for agent_id in (1, 2, 3):
        base = f"http://127.0.1.{agent_id}:{port}"
        assert base == sim.agent_url(agent_id)
        info = await api.ok(base, "ConnectAppAndInfo", host="x", login="admin", password="admin",
                            clientAppName="t", clientAppVersion="1", clientComputerName="c")
        # DMAConnectAndInfo names no agent; the session says which agent answered.
        assert sim.cluster.sessions[info["Connection"]].agent_id == agent_id
    # A session belongs to the agent it was opened on.
    connection = await api.connect(sim.agent_url(2))
    assert "No connection available" in await api.fault(sim.url, "GetActiveAlarms", connection=connection)
    assert await api.ok(sim.agent_url(2), "GetActiveAlarmsCount", connection=connection) == 6


async def test_bad_credentials_are_refused_without_echoing_the_password(make_sim: Factory, api: Api) -> None:
    sim = await make_sim(agents=1, user="operator", password="s3cret-pass")
    for user, password in (("operator", "wrong-pass"), ("admin", "s3cret-pass"), ("admin", "admin")):
        response = await api.post(sim.url, "ConnectApp", host="x", login=user, password=password,
                                  clientAppName="t", clientAppVersion="1", clientComputerName="c")
        assert response.status_code == 500
        assert response.json()["Message"].startswith("Authentication failed")
        assert password not in response.text
    assert await api.connect(sim.url, user="operator", password="s3cret-pass")
    assert "s3cret-pass" not in repr(sim) and "s3cret-pass" not in repr(sim.config)
    assert sim.state()["sessions"] == 1


async def test_protocol_errors_answer_the_asmx_way(make_sim: Factory, api: Api) -> None:
    sim = await make_sim(agents=1)
    assert "Unknown web method NoSuchMethod" in await api.fault(sim.url, "NoSuchMethod")
    assert "missing value for parameter: 'connection'" in await api.fault(sim.url, "GetActiveAlarms")
    assert "missing value for parameter: 'password'" in await api.fault(sim.url, "ConnectApp", login="admin")
    assert "No connection available" in await api.fault(sim.url, "GetActiveAlarms", connection="made-up")
    response = await api.http.post(f"{sim.url}/API/v1/Json.asmx/ConnectApp", content=b"{not json")
    assert response.status_code == 500 and "Invalid JSON" in response.json()["Message"]
    connection = await api.connect(sim.url)
    missing = await api.fault(sim.url, "GetElementByName", connection=connection, elementName="nope")
    assert "not found" in missing
    # Method names are case-insensitive, as in ASMX.
    assert await api.ok(sim.url, "getactivealarmscount", connection=connection) == 6


async def test_wildcard_host_routes_by_local_address(make_sim: Factory, api: Api) -> None:
    sim = await make_sim(agents=2, host="0.0.0.0")
    assert sim.url.startswith("http://127.0.0.1:")
    for agent_id in (1, 2):
        info = await api.ok(sim.agent_url(agent_id), "ConnectAppAndInfo", host="x", login="admin",
                            password="admin", clientAppName="t", clientAppVersion="1", clientComputerName="c")
        assert sim.cluster.sessions[info["Connection"]].agent_id == agent_id


async def test_a_taken_port_is_a_clear_error(make_sim: Factory) -> None:
    first = await make_sim(agents=2)
    port = int(first.url.rsplit(":", 1)[1])
    second = SimulatedDms(SimulatorConfig(agents=2, port=port))
    with pytest.raises(SimulatorError, match=f"cannot listen on 127.0.0.1:{port}"):
        await second.start()
