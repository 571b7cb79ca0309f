"""Upgrade drivers: the script contract on the wire (MockTransport), watching until a version is reached."""

from __future__ import annotations

import httpx
import pytest

from dms import script_contract as contract
from dms.client import DmsClient
from dms.drivers import ScriptDriver, UpgradeDriver, WatchDriver, make_driver
from dms.exceptions import DmsScriptError, UpgradeTimeout
from dms.models import AgentState
from dms.packages import package_file
from dms.upgrade_path import Hop, PackageKind
from dms.versions import Version
from tests.dms.dms_fakes import PASSWORD, URL, FakeDms, fault

V_OLD = Version(10, 4, 0, 3)
V_NEW = Version(10, 5, 0, 2)
HOP = Hop(version=V_NEW, package=PackageKind.FULL, name="DataMiner 10.5.0 CU2.dmupgrade", rule="r",
          rule_url="https://docs.dataminer.services/x.html")
HELPER = Hop(version=V_OLD, package=PackageKind.HELPER, name="VerifyClusterPorts.dmupgrade", rule="r",
             rule_url="u", restarts_agents=False)


def client_for(fake: FakeDms) -> DmsClient:
    return DmsClient(url=URL, user="admin", password=PASSWORD, transport=httpx.MockTransport(fake.handler),
                     retries=0)


class UpgradingFake(FakeDms):
    """Agents move to the new version after a number of GetDataMinerAgentsInfo polls; one may never start."""

    def __init__(self, *, polls_until_done: int, stuck: str | None = None) -> None:
        super().__init__(agents=2, version="10.4.0.0-14000-CU3")
        self.polls = 0
        self.polls_until_done = polls_until_done
        self.stuck = stuck

    def answer(self, host: str, method: str, body: dict[str, object]) -> httpx.Response:
        if method == "GetDataMinerAgentsInfo":
            self.polls += 1
            starting = self.polls < self.polls_until_done
            for agent in self.agents:
                stuck = agent["Name"] == self.stuck
                agent["Status"] = "Starting" if starting or stuck else "Running"
                if not starting and not stuck:
                    self.versions[str(agent["PrimaryIP"])] = "10.5.0.0-15000-CU2"
        return super().answer(host, method, body)


def test_make_driver() -> None:
    fake = FakeDms()
    client = client_for(fake)
    assert isinstance(make_driver("script", client=client), ScriptDriver)
    watch: UpgradeDriver = make_driver("watch", client=client)
    assert watch.name == "watch" and watch.needs_person
    with pytest.raises(ValueError, match="unknown upgrade driver"):
        make_driver("magic", client=client)


def test_watch_instructions_follow_the_mop() -> None:
    driver = WatchDriver(client_for(FakeDms()))
    upload = "\n".join(driver.instructions(hop=HOP, step="upload"))
    for needle in ("System Center > Agents > Manage > Upgrade", HOP.name, "All Agents in cluster",
                   "Upgrade main and backup Agent simultaneously", "Upload only"):
        assert needle in upload
    upgrade = "\n".join(driver.instructions(hop=HOP, step="upgrade"))
    assert "Click Upgrade" in upgrade and str(V_NEW) in upgrade and "Upload only" not in upgrade


def status(state: str, message: str = "") -> dict[str, object]:
    # WS_Methods_v1/ExecuteAutomationScriptWithOutput.md: the instance id and key/value outputs.
    return {"ID": 4712, "Output": [{"Key": "State", "Value": state}, {"Key": "Message", "Value": message}]}


async def test_script_driver_starts_jobs_without_waiting_and_follows_their_status() -> None:
    fake = FakeDms()
    fake.extra["ExecuteAutomationScriptWithOutput"] = status("succeeded")
    async with client_for(fake) as client:
        driver = ScriptDriver(client, package_folder=r"D:\packages")
        await driver.upload(hop=HOP)
        fake.extra["ExecuteAutomationScriptWithOutput"] = status("started")
        await driver.start_upgrade(hop=HOP)
    bodies = [body for _, _, body in fake.methods("ExecuteAutomationScript")]
    assert all(body["scriptOptions"]["WaitForScript"] is False for body in bodies)
    params = [{p["Name"]: p["Value"] for p in body["script"]["Parameters"]} for body in bodies]
    job = params[0].pop("Job")
    assert params[0] == {"Action": "upload", "Package": package_file(HOP), "Agents": "all",
                         "FailoverPolicy": "Simultaneously", "UploadOnly": "true",
                         "PackageFolder": r"D:\packages"}
    assert params[1]["Action"] == "upgrade" and params[1]["UploadOnly"] == "false" and params[1]["Job"] != job
    assert all(body["script"]["Name"] == contract.SCRIPT_NAME for body in bodies)
    asked = [{p["Name"]: p["Value"] for p in body["script"]["Parameters"]}
             for _, _, body in fake.methods("ExecuteAutomationScriptWithOutput")]
    assert asked[0] == {"Action": "status", "Job": job}


async def test_failing_prerequisite_raises_script_error_with_the_check() -> None:
    fake = FakeDms()
    message = f"{contract.PREREQUISITE_FAILED_PREFIX} Verify OS Version"
    fake.extra["ExecuteAutomationScriptWithOutput"] = status("failed", message)
    async with client_for(fake) as client:
        with pytest.raises(DmsScriptError, match="Verify OS Version"):
            await ScriptDriver(client).upload(hop=HOP)
    fake.queue["ExecuteAutomationScript"] = [fault("Automation script failed: no such package")]
    async with client_for(fake) as client:
        with pytest.raises(DmsScriptError, match="no such package"):
            await ScriptDriver(client).upload(hop=HOP)


async def test_watch_driver_does_not_call_the_dms_for_steps() -> None:
    fake = FakeDms()
    async with client_for(fake) as client:
        driver = WatchDriver(client)
        await driver.upload(hop=HOP)
        await driver.start_upgrade(hop=HOP)
    assert not fake.methods("ExecuteAutomationScript")


async def test_wait_for_version_reports_changes_until_all_run_it() -> None:
    fake = UpgradingFake(polls_until_done=3)
    seen: list[list[AgentState]] = []

    async def on_change(states: list[AgentState]) -> None:
        seen.append(states)

    async with client_for(fake) as client:
        states = await ScriptDriver(client).wait_for_version(version=V_NEW, timeout_s=5, poll_s=0.001,
                                                             on_change=on_change)
    assert [s.version for s in states] == [V_NEW, V_NEW]
    assert fake.polls == 3
    assert len(seen) == 2, "two distinct observations: starting, then running on the new version"
    assert seen[0][0].status == "Starting"


async def test_wait_for_version_times_out_with_the_last_states() -> None:
    fake = UpgradingFake(polls_until_done=1, stuck="DMA2")
    async with client_for(fake) as client:
        with pytest.raises(UpgradeTimeout, match="DMA2") as caught:
            await WatchDriver(client).wait_for_version(version=V_NEW, timeout_s=0.05, poll_s=0.01)
    last = caught.value.agents
    assert [getattr(s, "status", None) for s in last] == ["Running", "Starting"]


async def test_helper_hop_waits_for_no_version_change() -> None:
    fake = FakeDms(agents=2)
    fake.extra["ExecuteAutomationScriptWithOutput"] = status("succeeded")
    async with client_for(fake) as client:
        driver = ScriptDriver(client)
        await driver.upload(hop=HELPER)
        await driver.start_upgrade(hop=HELPER)
        states = await driver.wait_for_version(version=HELPER.version, timeout_s=1, poll_s=0.01)
    assert all(s.version == V_OLD and s.status == "Running" for s in states)


# ---------------------------------------------------------------- against the simulated DMS, over real HTTP

SIM_HOP = Hop(version=Version(10, 4, 0, 5), package=PackageKind.CU, name="DataMiner 10.4.0 CU5.dmupdate",
              rule="r", rule_url="u")


async def test_sim_script_driver_uploads_upgrades_and_sees_every_agent_on_the_version() -> None:
    from dms.simulator import SimulatedDms
    from tests.dms.dms_fakes import sim_client, sim_config

    changes: list[list[AgentState]] = []

    async def on_change(states: list[AgentState]) -> None:
        changes.append(states)

    async with SimulatedDms(sim_config(version="10.4.0 CU3")) as sim, sim_client(sim.url) as client:
        driver = make_driver("script", client=client)
        await driver.upload(hop=SIM_HOP)
        await driver.start_upgrade(hop=SIM_HOP)
        states = await driver.wait_for_version(version=SIM_HOP.version, timeout_s=20, poll_s=0.02,
                                               on_change=on_change)
        state = sim.state()
    assert all(s.status == "Running" and s.version == SIM_HOP.version for s in states)
    assert len(states) == 4
    assert any(s.status != "Running" or s.version != SIM_HOP.version for s in changes[0] + changes[1]), (
        "the watcher saw the agents on their way, not only the end"
    )
    assert state["upgrades_triggered"] == {"10.4.0 CU5": 1}, "the upgrade was triggered exactly once"


async def test_sim_failing_prerequisite_check_stops_the_upload() -> None:
    from dms.simulator import SimulatedDms
    from tests.dms.dms_fakes import sim_client, sim_config

    async with SimulatedDms(sim_config()) as sim, sim_client(sim.url) as client:
        sim.inject("prerequisite_check_fails", check="Verify NATS Cluster")
        with pytest.raises(DmsScriptError, match="Verify NATS Cluster"):
            await ScriptDriver(client).upload(hop=SIM_HOP)
        assert sim.state()["upgrades_triggered"] == {}


@pytest.mark.parametrize("fault_name", ["agent_stuck_starting", "agent_fails_to_start"])
async def test_sim_watch_driver_times_out_on_an_agent_that_does_not_come_back(fault_name: str) -> None:
    from dms.simulator import SimulatedDms
    from tests.dms.dms_fakes import sim_client, sim_config

    async with SimulatedDms(sim_config()) as sim, sim_client(sim.url) as client:
        sim.inject(fault_name, agent=4)
        await ScriptDriver(client).upload(hop=SIM_HOP)
        await ScriptDriver(client).start_upgrade(hop=SIM_HOP)  # as a person clicking Upgrade in Cube
        with pytest.raises(UpgradeTimeout, match="DMA") as caught:
            await WatchDriver(client).wait_for_version(version=SIM_HOP.version, timeout_s=1.0, poll_s=0.05)
    last = {getattr(s, "id", None): s for s in caught.value.agents}
    stuck = last[4]
    assert getattr(stuck, "status", "") != "Running"
    assert all(getattr(last[i], "version", None) == SIM_HOP.version for i in (1, 2, 3))


async def test_sim_helper_hop_changes_no_version() -> None:
    from dms.simulator import SimulatedDms
    from tests.dms.dms_fakes import sim_client, sim_config

    helper = Hop(version=Version(10, 4, 0, 3), package=PackageKind.HELPER,
                 name="VerifyClusterPorts.dmupgrade", rule="r", rule_url="u", restarts_agents=False)
    async with SimulatedDms(sim_config(version="10.4.0 CU3")) as sim, sim_client(sim.url) as client:
        driver = ScriptDriver(client)
        await driver.upload(hop=helper)
        await driver.start_upgrade(hop=helper)
        states = await driver.wait_for_version(version=helper.version, timeout_s=5, poll_s=0.02)
    assert all(s.version == helper.version and s.status == "Running" for s in states)
