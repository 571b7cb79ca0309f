"""DmsClient against the simulated DMS over real HTTP: versions per agent, credentials, expiry, outages."""

from __future__ import annotations

import asyncio

import pytest

from dms.client import DmsClient
from dms.exceptions import DmsAuthError, DmsUnreachable
from dms.versions import Version
from tests.dms.dms_fakes import sim_client, sim_config


async def test_sim_reads_every_agent_version_on_its_own_address() -> None:
    from simulator import SimulatedDms

    async with SimulatedDms(sim_config(version="10.3.0 CU22")) as sim, sim_client(sim.url) as client:
        agents = await client.agents_info()
        states = await client.agent_states(agents=agents)
        assert await client.active_alarms_count() == len(await client.active_alarms())
        scripts = await client.automation_scripts()
    assert [a.primary_ip for a in agents] == ["127.0.1.1", "127.0.1.2", "127.0.1.3", "127.0.1.4"]
    assert agents[0].is_failover and agents[1].is_failover and not agents[2].is_failover
    assert all(s.version == Version(10, 3, 0, 22) and s.reachable for s in states)
    assert any(script.get("Name") == "DMUpgrade_Orchestrator" for script in scripts)


async def test_sim_refuses_bad_credentials() -> None:
    from simulator import SimulatedDms

    async with SimulatedDms(sim_config()) as sim:
        client = DmsClient(url=sim.url, user="admin", password="not-it", retries=0)
        with pytest.raises(DmsAuthError, match="ConnectApp"):
            await client.agents_info()
        await client.close()


async def test_sim_session_expiry_is_survived() -> None:
    from simulator import SimulatedDms

    async with SimulatedDms(sim_config()) as sim, sim_client(sim.url) as client:
        await client.agents_info()
        sim.inject("session_expiry")  # drops every session; each new one serves a single call
        infos, stats, alarms = await asyncio.gather(client.agents_info(), client.agents_statistics(),
                                                    client.active_alarms())
        assert len(infos) == len(stats) == 4 and isinstance(alarms, list)
        assert await client.is_connection_alive() is False


async def test_sim_unreachable_or_slow_agent_is_reported_not_hung() -> None:
    from simulator import SimulatedDms

    async with SimulatedDms(sim_config()) as sim, sim_client(sim.url, timeout_s=0.3, retries=0) as client:
        sim.inject("agent_unreachable", agent=3)
        sim.inject("latency_spike", agent=4, ms=800)
        states = await asyncio.wait_for(client.agent_states(), timeout=10)
    by_name = {s.id: s for s in states}
    assert [s.reachable for s in states] == [True, True, False, False]
    assert "HTTP 503" in by_name[3].detail and "timed out" in by_name[4].detail


async def test_sim_dms_down_is_unreachable_after_retries() -> None:
    from simulator import SimulatedDms

    async with SimulatedDms(sim_config()) as sim:
        url = sim.url
    client = sim_client(url, retries=2)
    with pytest.raises(DmsUnreachable, match=r"after 3 attempt\(s\).*ConnectApp"):
        await client.connect()
    await client.close()


