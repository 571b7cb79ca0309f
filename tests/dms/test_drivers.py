"""Upgrade drivers: the script contract on the wire (MockTransport), watching until a version is reached."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

import httpx
import pytest

from dms import script_contract as contract
from dms.client import DmsClient
from dms.drivers import ScriptDriver, UpgradeDriver, WatchDriver, make_driver
from dms.exceptions import DmsProtocolError, DmsScriptError, UpgradeRefused, UpgradeTimeout
from dms.models import AgentState, CheckResult, CheckStatus, Source
from dms.packages import package_file
from dms.upgrade_path import Hop, PackageKind
from dms.versions import Version
from tests.dms.dms_fakes import PASSWORD, URL, FakeDms

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
    assert watch.name == "watch"
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


class ScriptFake(UpgradingFake):
    """The orchestrator script of contract 2 as a scripted answer: the upgrade job finishes with
    ``exit_code`` after ``status_polls`` status calls; the agents move as UpgradingFake's do."""

    def __init__(self, *, exit_code: int = 0, status_polls: int = 2, polls_until_done: int = 3,
                 contract_version: str = contract.CONTRACT_VERSION) -> None:
        super().__init__(polls_until_done=polls_until_done)
        self.exit_code = exit_code
        self.status_polls = status_polls
        self.contract_version = contract_version
        self.jobs: dict[str, int] = {}  # job -> status calls so far
        self.started: list[dict[str, str]] = []

    def answer(self, host: str, method: str, body: dict[str, object]) -> httpx.Response:
        if method != "ExecuteAutomationScriptWithOutput":
            return super().answer(host, method, body)
        script = body["script"]
        assert isinstance(script, dict)
        params = {p["Name"]: p["Value"] for p in script["Parameters"]}
        outputs = {"ContractVersion": self.contract_version}
        action = params["Action"]
        if action == "upgrade":
            if params["Job"] not in self.jobs:
                self.started.append(params)
                self.jobs[params["Job"]] = 0
            outputs["State"] = "running"
        elif action == "status":
            polls = self.jobs.get(params["Job"])
            if polls is None:
                outputs["State"] = "missing"
            else:
                self.jobs[params["Job"]] = polls + 1
                done = polls + 1 >= self.status_polls
                outputs["State"] = "finished" if done else "running"
                if done:
                    outputs["ExitCode"] = str(self.exit_code)
        elif action == "inventory":
            outputs["Files"] = ""
        elif action == "verify":
            outputs |= {"Result": "pass", "Message": f"{params['Package']} holds Update.zip"}
        return httpx.Response(200, json={"d": {"ID": 4712, "Output": [
            {"Key": key, "Value": value} for key, value in outputs.items()]}})


async def test_script_upgrade_names_every_agent_and_the_same_folder_in_every_call() -> None:
    fake = ScriptFake()
    async with client_for(fake) as client:
        driver = ScriptDriver(client, package_folder=r"D:\packages")
        await driver.start_upgrade(hop=HOP, job="ab12")
        await driver.wait_for_hop(hop=HOP, job="ab12", timeout_s=5, poll_s=0.001)
    started = {name: value for name, value in fake.started[0].items() if value}
    assert started == {"Action": "upgrade", "Package": package_file(HOP),
                       "Agents": "101=127.0.1.1;102=127.0.1.2", "FailoverPolicy": "Simultaneously",
                       "PackageFolder": r"D:\packages", "Job": "ab12"}
    statuses = [{p["Name"]: p["Value"] for p in body["script"]["Parameters"]}
                for _, _, body in fake.methods("ExecuteAutomationScriptWithOutput")][2:]
    assert statuses and all(s == {"Action": "status", "Package": "", "Agents": "", "FailoverPolicy": "",
                                  "PackageFolder": r"D:\packages", "Job": "ab12", "TaskbarUtilityPath": ""}
                            for s in statuses), "every declared parameter, the same folder in every call"
    assert not fake.methods("ExecuteAutomationScript")  # every action waits for its short answer


async def test_a_helper_hop_waits_for_the_utilitys_exit_code_not_for_a_version_already_running() -> None:
    fake = ScriptFake(status_polls=4)
    async with client_for(fake) as client:
        driver = ScriptDriver(client)
        await driver.start_upgrade(hop=HELPER, job="cd34")
        await driver.wait_for_hop(hop=HELPER, job="cd34", timeout_s=5, poll_s=0.001)
    assert fake.jobs["cd34"] == 4  # it asked until the job finished, not once


async def test_a_non_zero_exit_code_fails_the_hop_with_the_code() -> None:
    fake = ScriptFake(exit_code=3)
    async with client_for(fake) as client:
        driver = ScriptDriver(client)
        await driver.start_upgrade(hop=HOP, job="ef56")
        with pytest.raises(UpgradeRefused, match="exited with code 3") as caught:
            await driver.wait_for_hop(hop=HOP, job="ef56", timeout_s=5, poll_s=0.001)
    assert caught.value.exit_code == 3


async def test_an_orchestrating_agent_that_does_not_answer_during_the_upgrade_is_not_a_failure() -> None:
    fake = ScriptFake()
    heard: list[object] = []

    async def reachability(error: object) -> None:
        heard.append(error)

    async with client_for(fake) as client:
        driver = ScriptDriver(client)
        await driver.start_upgrade(hop=HOP, job="ab")
        fake.queue["ExecuteAutomationScriptWithOutput"] = [httpx.ConnectError("refused")] * 2
        await driver.wait_for_hop(hop=HOP, job="ab", timeout_s=5, poll_s=0.001, on_reachability=reachability)
    # The status calls went unanswered, but the agents answered: the DMS is there, nothing to report.
    assert heard and all(error is None for error in heard)
    fake.queue["ExecuteAutomationScriptWithOutput"] = [httpx.ConnectError("refused")] * 2
    fake.queue["GetDataMinerAgentsInfo"] = [httpx.ConnectError("refused")] * 2
    fake.jobs["ab"] = 0
    heard.clear()
    async with client_for(fake) as client:
        await ScriptDriver(client).wait_for_hop(hop=HOP, job="ab", timeout_s=5, poll_s=0.001,
                                                on_reachability=reachability)
    assert heard[0] is not None and heard[-1] is None  # nothing answered at first: told, then answered


async def test_a_job_the_dms_has_no_record_of_fails_instead_of_waiting_forever() -> None:
    fake = ScriptFake()
    async with client_for(fake) as client:
        with pytest.raises(DmsScriptError, match="missing"):
            await ScriptDriver(client).wait_for_hop(hop=HOP, job="99", timeout_s=5, poll_s=0.001)


async def test_an_older_installed_script_is_refused_by_name() -> None:
    fake = ScriptFake(contract_version="")
    async with client_for(fake) as client:
        with pytest.raises(DmsProtocolError, match="dm-upgrade script export"):
            await ScriptDriver(client).start_upgrade(hop=HOP, job="ab")
    assert not fake.started


async def test_an_agent_without_an_address_refuses_the_upgrade_rather_than_run_it_partly() -> None:
    fake = ScriptFake()
    fake.agents[1]["PrimaryIP"] = ""
    async with client_for(fake) as client:
        with pytest.raises(DmsProtocolError, match="every agent"):
            await ScriptDriver(client).start_upgrade(hop=HOP, job="ab")
    assert not fake.started


async def test_execute_automation_script_sends_the_session_as_its_page_spells_it() -> None:
    # WS_Methods_v1/ExecuteAutomationScript.md: "Connection"; ...WithOutput.md: "connection".
    fake = FakeDms()
    fake.extra["ExecuteAutomationScript"] = 4711
    original = fake.answer

    def answer(host: str, method: str, body: dict[str, object]) -> httpx.Response:
        if method == "ExecuteAutomationScript":
            body = {**body, "connection": body.get("Connection")}
        return original(host, method, body)

    fake.answer = answer  # type: ignore[method-assign]
    async with client_for(fake) as client:
        await client.execute_automation_script("S", "F", {"Action": "inventory"}, wait=True)
    executed = [body for _, method, body in fake.calls if method == "ExecuteAutomationScript"]
    assert "Connection" in executed[0] and "connection" not in executed[0]


class RecordingHost:
    """A ``StepHost`` that does what the execution would, minus the database: it notes how the driver
    established each step (``asked``, ``checked``, ``changed``)."""

    def __init__(self, *, resumed: bool = False) -> None:
        self.resumed = resumed
        self.asked: list[tuple[str, ...]] = []
        self.checked: list[CheckResult] = []
        self.changed: list[tuple[str, bool]] = []

    async def ask(self, instructions: Sequence[str], *, heard: Callable[[], Awaitable[None]]) -> None:
        self.asked.append(tuple(instructions))
        await heard()

    async def check(self, read: Callable[[], Awaitable[CheckResult]]) -> None:
        self.checked.append(await read())

    async def once(self, *, key: str, change: Callable[[bool], Awaitable[bool]]) -> None:
        self.changed.append((key, await change(self.resumed)))


async def test_watch_driver_asks_a_person_for_each_step_and_does_not_call_the_dms() -> None:
    fake = FakeDms()
    told: list[tuple[str, str]] = []

    async def person(step: str, package: str) -> None:
        told.append((step, package))

    host = RecordingHost()
    async with client_for(fake) as client:
        driver = WatchDriver(client, person=person)
        for step in ("upload", "upgrade"):
            await driver.run_step(hop=HOP, step=step, job="j1", host=host)
    assert host.asked == [tuple(driver.instructions(hop=HOP, step=step)) for step in ("upload", "upgrade")]
    assert told == [("upload", package_file(HOP)), ("upgrade", package_file(HOP))]
    assert not host.checked and not host.changed
    assert not fake.methods("ExecuteAutomationScript")
    assert not fake.methods("ExecuteAutomationScriptWithOutput")


async def test_script_driver_checks_the_package_then_starts_its_job_once() -> None:
    fake = ScriptFake()
    host = RecordingHost()
    async with client_for(fake) as client:
        driver = ScriptDriver(client)
        await driver.run_step(hop=HOP, step="upload", job="j2", host=host)
        await driver.run_step(hop=HOP, step="upgrade", job="j2", host=host)
    assert [r.status for r in host.checked] == [CheckStatus.PASS] and host.checked[0].source is Source.BOT
    assert host.changed == [("j2", True)] and not host.asked
    assert [params["Job"] for params in fake.started] == ["j2"]


async def test_a_resumed_script_step_follows_the_job_the_dms_already_knows() -> None:
    fake = ScriptFake()
    async with client_for(fake) as client:
        driver = ScriptDriver(client)
        await driver.run_step(hop=HOP, step="upgrade", job="j3", host=RecordingHost())
        again = RecordingHost(resumed=True)
        await driver.run_step(hop=HOP, step="upgrade", job="j3", host=again)
    assert again.changed == [("j3", False)] and len(fake.started) == 1


def test_when_the_agents_began_to_upgrade() -> None:
    asked, confirmed = datetime(2025, 1, 1, 10, tzinfo=UTC), datetime(2025, 1, 1, 12, tzinfo=UTC)
    client = client_for(FakeDms())
    assert ScriptDriver(client).upgrade_began(started_at=asked, done_at=confirmed) == asked
    assert WatchDriver(client).upgrade_began(started_at=asked, done_at=confirmed) == confirmed


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


# ---------------------------------------------------------------- against the simulated DMS, over real HTTP

SIM_HOP = Hop(version=Version(10, 4, 0, 5), package=PackageKind.CU, name="DataMiner 10.4.0 CU5.dmupdate",
              rule="r", rule_url="u")


async def test_sim_script_driver_upgrades_and_sees_every_agent_on_the_version() -> None:
    from simulator import SimulatedDms
    from tests.dms.dms_fakes import sim_client, sim_config

    changes: list[list[AgentState]] = []

    async def on_change(states: list[AgentState]) -> None:
        changes.append(states)

    async with SimulatedDms(sim_config(version="10.4.0 CU3")) as sim, sim_client(sim.url) as client:
        driver = ScriptDriver(client)
        assert (await driver.verify(hop=SIM_HOP)).status is CheckStatus.PASS
        await driver.start_upgrade(hop=SIM_HOP, job="a1")
        await driver.start_upgrade(hop=SIM_HOP, job="a1")  # repeated (a retry, a restart): started once
        states = await driver.wait_for_hop(hop=SIM_HOP, job="a1", timeout_s=20, poll_s=0.02,
                                           on_change=on_change)
        state = sim.state()
    assert all(s.status == "Running" and s.version == SIM_HOP.version for s in states)
    assert len(states) == 4
    assert any(s.status != "Running" or s.version != SIM_HOP.version for c in changes for s in c), (
        "the watcher saw the agents on their way, not only the end"
    )
    assert state["upgrades_triggered"] == {"10.4.0 CU5": 1}, "the upgrade was triggered exactly once"


async def test_sim_failing_prerequisite_check_refuses_the_upgrade_with_an_exit_code() -> None:
    from simulator import SimulatedDms
    from tests.dms.dms_fakes import sim_client, sim_config

    async with SimulatedDms(sim_config()) as sim, sim_client(sim.url) as client:
        sim.inject("prerequisite_check_fails", check="Verify NATS Cluster")
        driver = ScriptDriver(client)
        await driver.start_upgrade(hop=SIM_HOP, job="b2")
        with pytest.raises(UpgradeRefused, match="exited with code"):
            await driver.wait_for_hop(hop=SIM_HOP, job="b2", timeout_s=20, poll_s=0.02)
        assert sim.state()["upgrades_triggered"] in ({}, {"10.4.0 CU5": 1})
        assert all(s.version == Version(10, 4, 0, 3) for s in await driver.observe()), "no agent was touched"


@pytest.mark.parametrize("fault_name", ["agent_stuck_starting", "agent_fails_to_start"])
async def test_sim_watch_driver_times_out_on_an_agent_that_does_not_come_back(fault_name: str) -> None:
    from simulator import SimulatedDms
    from tests.dms.dms_fakes import sim_client, sim_config

    # From 10.6.6 the orchestrating agent answers while the others upgrade (before, it does not until all
    # are done: Upgrading_a_DataMiner_Agent_using_DataMiner_Taskbar_Utility.md): the stuck one is named.
    hop = Hop(version=Version(10, 6, 7, 0), package=PackageKind.FULL, name="DataMiner 10.6.7.dmupgrade",
              rule="r", rule_url="u")
    async with SimulatedDms(sim_config(version="10.6.6")) as sim, sim_client(sim.url) as client:
        sim.inject(fault_name, agent=4)
        await ScriptDriver(client).start_upgrade(hop=hop, job="c3")  # as a person clicking in Cube
        with pytest.raises(UpgradeTimeout, match="DMA") as caught:
            await WatchDriver(client).wait_for_version(version=hop.version, timeout_s=1.0, poll_s=0.05)
    last = {getattr(s, "id", None): s for s in caught.value.agents}
    stuck = last[4]
    assert getattr(stuck, "status", "") != "Running"
    assert all(getattr(last[i], "version", None) == hop.version for i in (1, 2, 3))


async def test_sim_helper_hop_ends_on_its_exit_code_and_changes_no_version() -> None:
    from simulator import SimulatedDms
    from tests.dms.dms_fakes import sim_client, sim_config

    helper = Hop(version=Version(10, 4, 0, 3), package=PackageKind.HELPER,
                 name="VerifyClusterPorts.dmupgrade", rule="r", rule_url="u", restarts_agents=False)
    async with SimulatedDms(sim_config(version="10.4.0 CU3")) as sim, sim_client(sim.url) as client:
        driver = ScriptDriver(client)
        await driver.start_upgrade(hop=helper, job="d4")
        assert (await driver.job_status(job="d4")).state == "running", "the helper runs for minutes"
        await driver.wait_for_hop(hop=helper, job="d4", timeout_s=5, poll_s=0.02)
        status = await driver.job_status(job="d4")
        states = await driver.observe()
    assert status.finished and status.exit_code == 0
    assert all(s.version == helper.version and s.status == "Running" for s in states)
