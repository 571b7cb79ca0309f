"""The orchestrator script's actions on the simulated DMS, contract 2 (``dms.script_contract``)."""

from __future__ import annotations

import pytest

from dms import script_contract as contract
from simulator import ManualClock
from tests.simulator.conftest import Api, Factory, every_agent, job_of, status_params, upgrade_params
from tests.support.polling import wait_until

PACKAGE = "DataMiner 10.5.0 CU2.dmupgrade"
VERSION = {contract.OUTPUT_CONTRACT_VERSION: contract.CONTRACT_VERSION}


async def test_inventory_lists_the_package_folder(make_sim: Factory, api: Api) -> None:
    files = ("DataMiner 10.5.0 CU2.dmupgrade", "VerifyClusterPorts.dmupgrade")
    sim = await make_sim(agents=2, packages=files)
    connection = await api.connect(sim.url)
    asked = {contract.PARAM_ACTION: contract.ACTION_INVENTORY, contract.PARAM_PACKAGE_FOLDER: r"D:\Packages"}
    expected = {**VERSION, contract.OUTPUT_FILES: "|".join(files)}
    assert await api.outputs(sim.url, connection, asked) == expected

    anything = await make_sim(agents=1)  # without a configured folder, every file asked about is there
    connection = await api.connect(anything.url)
    asked[contract.PARAM_PACKAGE] = "a.dmupgrade|b.dmupgrade"
    outputs = await api.outputs(anything.url, connection, asked)
    assert outputs[contract.OUTPUT_FILES] == "a.dmupgrade|b.dmupgrade"


async def test_verify_checks_the_file_and_nothing_else(make_sim: Factory, api: Api) -> None:
    sim = await make_sim(agents=2, packages=(PACKAGE,))
    sim.inject("prerequisite_check_fails")  # verify runs no prerequisite check: it cannot fail it
    connection = await api.connect(sim.url)

    def verify(package: str) -> dict[str, str]:
        return {contract.PARAM_ACTION: contract.ACTION_VERIFY, contract.PARAM_PACKAGE: package,
                contract.PARAM_PACKAGE_FOLDER: r"C:\DMUpgrade"}

    passed = await api.outputs(sim.url, connection, verify(PACKAGE))
    assert passed == {**VERSION, contract.OUTPUT_RESULT: contract.RESULT_PASS,
                      contract.OUTPUT_MESSAGE: rf"{PACKAGE} is in C:\DMUpgrade and readable"}
    absent = await api.outputs(sim.url, connection, verify("DataMiner 10.6.0.dmupgrade"))
    assert absent[contract.OUTPUT_RESULT] == contract.RESULT_FAIL
    assert "'DataMiner 10.6.0.dmupgrade' is not in C:\\DMUpgrade" in absent[contract.OUTPUT_MESSAGE]
    path = await api.outputs(sim.url, connection, verify(r"..\elsewhere\x.dmupgrade"))
    assert path[contract.OUTPUT_RESULT] == contract.RESULT_FAIL and "plain file name" in path["Message"]
    state = sim.state()
    assert state["uploads"] == {} and state["upgrades_triggered"] == {} and state["jobs"] == []


async def test_selftest_passes_on_the_simulator(make_sim: Factory, api: Api) -> None:
    sim = await make_sim(agents=3, failover_pairs=1)
    connection = await api.connect(sim.url)
    asked = {contract.PARAM_ACTION: contract.ACTION_SELFTEST, contract.PARAM_AGENTS: every_agent(sim)}
    outputs = await api.outputs(sim.url, connection, asked)
    checks = {key: value for key, value in outputs.items() if key.startswith(contract.OUTPUT_CHECK_PREFIX)}
    assert set(checks) == {"Check.TaskbarUtility", "Check.Help", "Check.PackageFolder", "Check.Agents"}
    assert all(value.startswith("pass: ") for value in checks.values())
    assert contract.TASKBAR_UTILITY_LOCATIONS[0] in checks["Check.TaskbarUtility"]  # the first documented
    assert outputs[contract.OUTPUT_ACCOUNT] == "SIMULATED\\DataMiner"
    assert outputs[contract.OUTPUT_RESULT] == contract.RESULT_PASS
    assert outputs[contract.OUTPUT_CONTRACT_VERSION] == contract.CONTRACT_VERSION

    asked[contract.PARAM_TASKBAR_UTILITY_PATH] = r"D:\Tools\SLTaskbarUtility.exe"
    asked[contract.PARAM_AGENTS] = "1=127.0.1.1"
    outputs = await api.outputs(sim.url, connection, asked)
    assert r"D:\Tools\SLTaskbarUtility.exe" in outputs["Check.TaskbarUtility"]
    assert outputs["Check.Agents"].startswith("fail: ") and "Fix: " in outputs["Check.Agents"]
    assert outputs[contract.OUTPUT_RESULT] == contract.RESULT_FAIL


async def test_upgrade_answers_running_then_status_follows_the_job(make_sim: Factory, api: Api) -> None:
    clock = ManualClock()
    sim = await make_sim(clock, agents=2, upload_minutes=5)
    connection = await api.connect(sim.url)
    started = await api.outputs(sim.url, connection, upgrade_params(sim, PACKAGE, "a1"))
    assert started == {**VERSION, contract.OUTPUT_STATE: contract.STATE_RUNNING,
                       contract.OUTPUT_MESSAGE: f"SLTaskbarUtility -upgrade {PACKAGE} started"}
    assert job_of(sim, "a1")["state"] == "running"  # recorded before the call returned
    status = await api.outputs(sim.url, connection, status_params("A1"))  # hex digits in any case
    assert status == started
    await clock.advance(minutes=5)  # the upload, with the prerequisite checks
    await wait_until(lambda: bool(sim.state()["upgrades_triggered"]), what="the upgrade to start")
    await clock.advance(minutes=60)
    # Every agent has been upgraded: the orchestrating agent answers again.
    connection = await api.connect(sim.url)
    status = await api.outputs(sim.url, connection, status_params("a1"))
    finished = {contract.OUTPUT_STATE: contract.STATE_FINISHED, contract.OUTPUT_EXIT_CODE: "0",
                contract.OUTPUT_MESSAGE: "SLTaskbarUtility exited with code 0"}
    assert status == {**VERSION, **finished}


async def test_status_of_an_unknown_job_is_missing(make_sim: Factory, api: Api) -> None:
    sim = await make_sim(agents=2, upload_minutes=0)
    connection = await api.connect(sim.url)
    assert await api.outputs(sim.url, connection, status_params("ffff")) == {
        **VERSION, contract.OUTPUT_STATE: contract.STATE_MISSING,
        contract.OUTPUT_MESSAGE: r"no such job in C:\Skyline DataMiner\Documents\DMUpgrade"}
    await api.outputs(sim.url, connection, upgrade_params(sim, "VerifyClusterPorts.dmupgrade", "b2",
                                                          PackageFolder=r"C:\One"))
    # A job lives in its package folder: another folder does not know it (a folder's spelling may vary).
    other = await api.outputs(sim.url, connection, status_params("b2", PackageFolder=r"C:\Two"))
    assert other[contract.OUTPUT_STATE] == contract.STATE_MISSING
    same = await api.outputs(sim.url, connection, status_params("b2", PackageFolder="c:\\one\\"))
    assert same[contract.OUTPUT_STATE] == contract.STATE_RUNNING


async def test_the_same_job_twice_starts_one_upgrade(make_sim: Factory, api: Api) -> None:
    clock = ManualClock()
    sim = await make_sim(clock, agents=3, upload_minutes=5)
    connection = await api.connect(sim.url)
    values = upgrade_params(sim, PACKAGE, "C0FFEE")
    for _ in range(2):  # a retry after a timeout, or a restarted bot
        outputs = await api.outputs(sim.url, connection, values)
        assert outputs[contract.OUTPUT_STATE] == contract.STATE_RUNNING
    await clock.advance(minutes=5)
    await wait_until(lambda: bool(sim.state()["upgrades_triggered"]), what="the upgrade to start")
    await clock.advance(minutes=60)
    connection = await api.connect(sim.url)
    outputs = await api.outputs(sim.url, connection, values)  # once more, after it ended
    assert outputs[contract.OUTPUT_STATE] == contract.STATE_FINISHED
    state = sim.state()
    assert state["uploads"] == {"10.5.0 CU2": 1} and state["upgrades_triggered"] == {"10.5.0 CU2": 1}
    assert len(state["jobs"]) == 1


async def test_mismatched_agents_are_refused_naming_them(make_sim: Factory, api: Api) -> None:
    sim = await make_sim(agents=3, upload_minutes=0)
    connection = await api.connect(sim.url)
    values = upgrade_params(sim, PACKAGE, "d4", Agents="1=127.0.1.1;2=127.0.1.2;7=10.0.0.7")
    response = await api.run(sim.url, connection, values)
    assert response.status_code == 500  # the script ends failed, as ExitFail makes it
    message = response.json()["Message"]
    assert message.startswith(f"Automation script {contract.SCRIPT_NAME} failed: ")
    assert "missing 3" in message and "not in this DMS: 7" in message
    # The job is recorded failed: status (and the same Job again) answer why, starting nothing.
    for asked in (status_params("d4"), values):
        outputs = await api.outputs(sim.url, connection, asked)
        assert outputs[contract.OUTPUT_STATE] == contract.STATE_FAILED
        assert "missing 3" in outputs[contract.OUTPUT_MESSAGE]
    state = sim.state()
    assert state["uploads"] == {} and state["upgrades_triggered"] == {}
    assert {a["version"] for a in state["agents"]} == {"10.4.0 CU3"}


async def test_a_failover_pair_listed_as_one_entry_is_every_agent(make_sim: Factory, api: Api) -> None:
    sim = await make_sim(agents=3, failover_pairs=1, pair_as_one_entry=True, upload_minutes=0)
    connection = await api.connect(sim.url)
    values = upgrade_params(sim, PACKAGE, "e5", Agents="1=127.0.1.1;3=127.0.1.3")  # as GetDataMinerAgentsInfo
    assert (await api.outputs(sim.url, connection, values))[contract.OUTPUT_STATE] == contract.STATE_RUNNING
    await wait_until(lambda: bool(sim.state()["upgrades_triggered"]), what="the upgrade to start")
    assert all(a["upgrade_started"] for a in sim.state()["agents"])  # the backup too: pairs simultaneously


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"Job": "not-hex"}, "refused its parameters: Job must be 1-64 hexadecimal digits"),
        ({"Job": "a" * 65}, "Job must be 1-64 hexadecimal digits"),
        ({"Job": ""}, "parameter Job is required"),
        ({"Package": ""}, "failed: Package is empty: name a package file in"),
        ({"Package": "DataMiner 10.5.0.zip"}, "Package must be a .dmupgrade or .dmapp file"),
        ({"Package": r"C:\Temp\DataMiner 10.5.0.dmupgrade"}, "Package must be a plain file name"),
        ({"Package": "DataMiner 10.6.0.dmupgrade"}, "is not in C:\\Skyline DataMiner\\Documents\\DMUpgrade"),
        ({"FailoverPolicy": "BackupFirst"}, "FailoverPolicy must be Simultaneously or empty"),
        ({"Agents": ""}, "Agents lists no agent"),
        ({"Agents": "1=127.0.1.1;1=127.0.1.1"}, "Agents names an agent twice"),
        ({"Agents": "all"}, "is not ID=address"),
        ({"Action": "upload"}, "Action must be one of inventory, verify, upgrade, status, selftest"),
        ({"Action": ""}, "parameter Action is required"),
        ({"UploadOnly": "true"}, "unknown parameter 'UploadOnly'"),
    ],
)
async def test_upgrade_refuses_bad_parameters(
    make_sim: Factory, api: Api, change: dict[str, str], expected: str
) -> None:
    sim = await make_sim(agents=2, upload_minutes=0, packages=(PACKAGE,))
    connection = await api.connect(sim.url)
    message = await api.fault(sim.url, "ExecuteAutomationScriptWithOutput", connection=connection, script={
        "Name": contract.SCRIPT_NAME, "Folder": contract.SCRIPT_FOLDER, "Parameters": [
            {"ParameterId": contract.PARAMETER_IDS.get(name, 99), "Name": name, "Value": value}
            for name, value in {**upgrade_params(sim, PACKAGE, "f6"), **change}.items()]})
    assert expected in message
    state = sim.state()
    assert state["uploads"] == {} and state["upgrades_triggered"] == {}
    assert all(job["state"] == "failed" for job in state["jobs"])


async def test_an_unknown_script_and_a_not_waited_refusal(make_sim: Factory, api: Api) -> None:
    sim = await make_sim(agents=2, upload_minutes=0)
    connection = await api.connect(sim.url)
    wrong = await api.post(sim.url, "ExecuteAutomationScript", Connection=connection,
                           script={"Name": "Other", "Parameters": []}, scriptOptions={"WaitForScript": True})
    assert "does not exist" in wrong.json()["Message"]
    # Not waited for, the call answers the instance before the script ends: a refusal is not seen there.
    refused = await api.script(sim.url, connection, upgrade_params(sim, PACKAGE, "17", Agents="1=x"),
                               wait=False)
    assert refused.status_code == 200 and isinstance(refused.json()["d"], int)
    assert job_of(sim, "17")["state"] == "failed"
    started = await api.script(sim.url, connection, upgrade_params(sim, PACKAGE, "18"), wait=False)
    assert started.status_code == 200 and job_of(sim, "18")["state"] == "running"
