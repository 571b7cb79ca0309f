"""The simulator's orchestrator script against the shipped C#: the same inputs, the same answers.

The C# runs under mono (tests/support/csharp_harness.py) with a fake SLTaskbarUtility; the simulator runs
over HTTP (``ExecuteAutomationScriptWithOutput`` through ``DmsClient.script_output``), as the bot calls it.
Compared: whether the script refused (the C# calls ExitFail; the simulator answers the fault of a failed
script), ``ContractVersion``, ``State``, ``Result``, ``ExitCode`` and the set of ``Files``, not the free text.
"""

from __future__ import annotations

import zipfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dms import script_contract as contract
from dms import script_runs
from dms.client import DmsClient
from dms.exceptions import DmsApiError
from tests.dms.dms_fakes import sim_client, sim_config
from tests.support import csharp_harness
from tests.support.csharp_harness import FakeUtility, OrchestratorScript, ScriptRun
from tests.support.polling import wait_until

orchestrator_csharp = csharp_harness.orchestrator_csharp  # the fixture: compiled once per session

PACKAGE = "DataMiner 10.4.0 CU5.dmupgrade"  # the simulated cluster runs 10.4.0 CU3 (sim_config)
HELPER = "VerifyClusterPorts.dmupgrade"
JOB = "feedc0de" * 4
COMPARED = (contract.OUTPUT_CONTRACT_VERSION, contract.OUTPUT_STATE, contract.OUTPUT_RESULT,
            contract.OUTPUT_EXIT_CODE)


@dataclass(frozen=True)
class Answer:
    refused: bool
    outputs: dict[str, str]

    def compared(self) -> dict[str, Any]:
        """What must agree. A refusal's outputs are not compared: the simulator's fault carries none."""
        if self.refused:
            return {"refused": True}
        files = self.outputs.get(contract.OUTPUT_FILES)
        return {"refused": False, **{key: self.outputs[key] for key in COMPARED if key in self.outputs},
                **({"Files": set(files.split(contract.FILES_SEPARATOR)) - {""}} if files is not None else {})}


@dataclass
class Both:
    """One orchestrator call made to the C# and to the simulator."""

    script: OrchestratorScript
    client: DmsClient
    folder: Path  # the C# side's package folder; the simulator is told the same path
    agents: list[tuple[int, str]]  # as the simulated DMS reports them
    utility: FakeUtility

    def params(self, action: str, **values: str) -> dict[str, str]:
        return {contract.PARAM_ACTION: action, contract.PARAM_PACKAGE_FOLDER: str(self.folder), **values}

    def csharp(self, params: dict[str, str]) -> Answer:
        run: ScriptRun = self.script.run(params, dms_agents=[agent_id for agent_id, _ in self.agents])
        return Answer(refused=run.exit_fail is not None, outputs=run.outputs)

    async def simulated(self, params: dict[str, str]) -> Answer:
        try:
            outputs = await self.client.script_output(contract.SCRIPT_NAME, contract.SCRIPT_FOLDER, params)
        except DmsApiError:
            return Answer(refused=True, outputs={})
        return Answer(refused=False, outputs=outputs)

    async def call(self, action: str, **values: str) -> tuple[Answer, Answer]:
        params = self.params(action, **values)
        return self.csharp(params), await self.simulated(params)

    def upgrade_values(self, **overrides: str) -> dict[str, str]:
        values = {contract.PARAM_PACKAGE: PACKAGE,
                  contract.PARAM_AGENTS: contract.agents_parameter(self.agents),
                  contract.PARAM_FAILOVER_POLICY: contract.FAILOVER_SIMULTANEOUSLY, contract.PARAM_JOB: JOB,
                  contract.PARAM_TASKBAR_UTILITY_PATH: str(self.utility.path)}
        values.update(overrides)
        return values


def make_package(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("Update.zip", b"PK\x05\x06" + b"\0" * 18)


@pytest.fixture
def utility(tmp_path: Path) -> Iterator[FakeUtility]:
    fake = FakeUtility.install(tmp_path / "Taskbar Utility", exit_code=0)
    yield fake
    fake.let_go()


@pytest.fixture
async def both(orchestrator_csharp: OrchestratorScript, tmp_path: Path,
               utility: FakeUtility) -> AsyncIterator[Both]:
    from simulator import SimulatedDms

    folder = tmp_path / "packages"
    folder.mkdir()
    for name in (PACKAGE, HELPER):
        make_package(folder / name)
    async with SimulatedDms(sim_config(packages=(PACKAGE, HELPER))) as sim, sim_client(sim.url) as client:
        agents = script_runs.agents_of(await client.agents_info())
        yield Both(script=orchestrator_csharp, client=client, folder=folder, agents=agents, utility=utility)


def same(csharp: Answer, simulated: Answer, case: str) -> None:
    assert csharp.compared() == simulated.compared(), (
        f"{case}: the simulator answers {simulated.compared()} where the shipped C# answers "
        f"{csharp.compared()}")


async def test_inventory(both: Both) -> None:
    csharp, simulated = await both.call(contract.ACTION_INVENTORY)
    same(csharp, simulated, "inventory")
    assert csharp.compared()["Files"] == {PACKAGE, HELPER}


@pytest.mark.parametrize(("package", "result"), [(PACKAGE, contract.RESULT_PASS),
                                                 ("Absent.dmupgrade", contract.RESULT_FAIL)])
async def test_verify(both: Both, package: str, result: str) -> None:
    csharp, simulated = await both.call(contract.ACTION_VERIFY, Package=package)
    same(csharp, simulated, f"verify {package}")
    assert csharp.outputs[contract.OUTPUT_RESULT] == result


async def test_status_of_a_missing_job(both: Both) -> None:
    csharp, simulated = await both.call(contract.ACTION_STATUS, Job=JOB)
    same(csharp, simulated, "status of a job never started")
    assert csharp.outputs[contract.OUTPUT_STATE] == contract.STATE_MISSING


async def test_upgrade_with_agents_that_differ_from_the_dms_is_refused_and_recorded(both: Both) -> None:
    partial = contract.agents_parameter(both.agents[:-1])
    csharp, simulated = await both.call(contract.ACTION_UPGRADE, **both.upgrade_values(Agents=partial))
    same(csharp, simulated, "upgrade with an agent left out")
    assert csharp.refused
    csharp, simulated = await both.call(contract.ACTION_STATUS, Job=JOB)
    same(csharp, simulated, "status of the refused upgrade")
    assert csharp.outputs[contract.OUTPUT_STATE] == contract.STATE_FAILED
    assert both.utility.runs() == []


@pytest.mark.parametrize("action", [contract.ACTION_UPGRADE, contract.ACTION_STATUS])
@pytest.mark.parametrize("job", ["not-hex", "a" * 65])
async def test_a_bad_job_id_is_refused(both: Both, action: str, job: str) -> None:
    csharp, simulated = await both.call(action, **both.upgrade_values(Job=job))
    same(csharp, simulated, f"{action} with Job={job[:10]}")
    assert csharp.refused


async def test_an_upgrade_that_succeeds_and_its_status_once_finished(both: Both) -> None:
    csharp, simulated = await both.call(contract.ACTION_UPGRADE, **both.upgrade_values())
    same(csharp, simulated, "upgrade start")
    assert csharp.outputs[contract.OUTPUT_STATE] == contract.STATE_RUNNING

    exit_file = both.folder / "jobs" / f"{JOB}.exit"
    await wait_until(exit_file.exists, timeout_s=30, what="the C# runner to record the exit code")
    status = both.params(contract.ACTION_STATUS, Job=JOB)

    async def simulated_finished() -> bool:
        answer = await both.simulated(status)
        return answer.outputs.get(contract.OUTPUT_STATE) == contract.STATE_FINISHED

    await wait_until(simulated_finished, timeout_s=30, what="the simulated upgrade to finish")
    csharp, simulated = both.csharp(status), await both.simulated(status)
    same(csharp, simulated, "status once finished")
    assert csharp.outputs[contract.OUTPUT_EXIT_CODE] == "0"
    assert len(both.utility.runs()) == 1


def selftest_values(both: Both, agents: list[tuple[int, str]]) -> dict[str, str]:
    return {contract.PARAM_TASKBAR_UTILITY_PATH: str(both.utility.path),
            contract.PARAM_AGENTS: contract.agents_parameter(agents)}


def check_names(answer: Answer) -> set[str]:
    return {key for key in answer.outputs if key.startswith(contract.OUTPUT_CHECK_PREFIX)}


@pytest.mark.parametrize("partial", [False, True])
async def test_selftest(both: Both, partial: bool) -> None:
    agents = both.agents[:-1] if partial else both.agents
    csharp, simulated = await both.call(contract.ACTION_SELFTEST, **selftest_values(both, agents))
    same(csharp, simulated, f"selftest with {'an agent left out' if partial else 'every agent'}")
    expected = contract.RESULT_FAIL if partial else contract.RESULT_PASS
    assert csharp.outputs[contract.OUTPUT_RESULT] == expected
    for answer in (csharp, simulated):
        assert answer.outputs[contract.OUTPUT_ACCOUNT]
        assert all(answer.outputs[name].startswith(("pass: ", "fail: ")) for name in check_names(answer))


async def test_selftest_reports_the_same_checks(both: Both) -> None:
    csharp, simulated = await both.call(contract.ACTION_SELFTEST, **selftest_values(both, both.agents))
    assert check_names(simulated) == check_names(csharp), (
        f"the simulator's selftest reports {sorted(check_names(simulated))}, the shipped C# "
        f"{sorted(check_names(csharp))}: the C# runs the utility's -help as a check of its own (Check.Help)")
