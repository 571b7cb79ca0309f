"""The orchestrator script's own C#, compiled with mono and run action by action (contract 2).

The code under test is the C# block of ``dms/data/DMUpgrade_Orchestrator.xml`` as it ships; the Automation API
around it is a stub of the documented signatures (tests/dms/csharp/AutomationStub.cs) and SLTaskbarUtility is
a fake that records how it was started (tests/dms/csharp/fake_SLTaskbarUtility.py). On Linux the script's
runner is its ``-run.sh`` twin of the ``-run.cmd`` it writes for Windows; the .cmd text is checked here, its
execution by cmd.exe is not (no Windows in CI).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dms import script_contract as contract
from tests.support import csharp_harness
from tests.support.csharp_harness import FakeUtility, OrchestratorScript, ScriptRun
from tests.support.polling import wait_until

orchestrator_csharp = csharp_harness.orchestrator_csharp  # the fixture: compiled once per session

JOB = "0123456789abcdef0123456789abcdef"
PACKAGE = "DataMiner 10.5.0 CU2 Full Upgrade.dmupgrade"
AGENTS = [(101, "10.0.0.11"), (102, "10.0.0.12"), (103, "dma-03.example")]
AGENT_IDS = [agent_id for agent_id, _ in AGENTS]
EMPTY_ZIP = b"PK\x05\x06" + b"\0" * 18  # an empty zip: Update.zip only has to be there


def answered(run: ScriptRun) -> ScriptRun:
    """Every answer carries the contract version; one that did not refuse did not call ExitFail."""
    assert run.get(contract.OUTPUT_CONTRACT_VERSION) == contract.CONTRACT_VERSION, run
    assert run.exit_fail is None, run
    return run


def refused(run: ScriptRun, *fragments: str) -> ScriptRun:
    """A refusal: State failed, a Message, and ExitFail with that message."""
    assert run.get(contract.OUTPUT_CONTRACT_VERSION) == contract.CONTRACT_VERSION, run
    assert run.get(contract.OUTPUT_STATE) == contract.STATE_FAILED, run
    assert run.exit_fail is not None and run.exit_fail == run.get(contract.OUTPUT_MESSAGE), run
    for fragment in fragments:
        assert fragment in run.exit_fail, (fragment, run.exit_fail)
    return run


def make_package(path: Path, entries: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in (entries if entries is not None else {"Update.zip": EMPTY_ZIP}).items():
            archive.writestr(name, data)
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A package folder (deliberately not the default one) holding one good package."""
    packages = tmp_path / "Package folder"
    packages.mkdir()
    make_package(packages / PACKAGE)
    return packages


@pytest.fixture
def utility(tmp_path: Path) -> Iterator[FakeUtility]:
    """The fake utility, held (running) until the test lets it go; always let go at the end."""
    fake = FakeUtility.install(tmp_path / "Taskbar Utility", exit_code=0, hold=True)
    yield fake
    fake.let_go()


def upgrade_params(folder: Path, utility: FakeUtility | None, **overrides: str) -> dict[str, str]:
    params = {
        contract.PARAM_ACTION: contract.ACTION_UPGRADE,
        contract.PARAM_PACKAGE: PACKAGE,
        contract.PARAM_AGENTS: contract.agents_parameter(AGENTS),
        contract.PARAM_FAILOVER_POLICY: contract.FAILOVER_SIMULTANEOUSLY,
        contract.PARAM_PACKAGE_FOLDER: str(folder),
        contract.PARAM_JOB: JOB,
    }
    if utility is not None:
        params[contract.PARAM_TASKBAR_UTILITY_PATH] = str(utility.path)
    params.update(overrides)
    return params


def status(script: OrchestratorScript, folder: Path, job: str = JOB) -> ScriptRun:
    return script.run({contract.PARAM_ACTION: contract.ACTION_STATUS, contract.PARAM_JOB: job,
                       contract.PARAM_PACKAGE_FOLDER: str(folder)})


def exit_file(folder: Path, job: str = JOB) -> Path:
    return folder / "jobs" / f"{job}.exit"


# ---------------------------------------------------------------------------------------------- inventory

def test_inventory_lists_the_package_files_of_the_folder(orchestrator_csharp: OrchestratorScript,
                                                         folder: Path) -> None:
    (folder / "VerifyClusterPorts.dmupgrade").write_bytes(b"x")
    (folder / "App.dmapp").write_bytes(b"x")
    (folder / "notes.txt").write_text("not a package")
    (folder / "sub.dmupgrade").mkdir()
    run = answered(orchestrator_csharp.run({contract.PARAM_ACTION: contract.ACTION_INVENTORY,
                                            contract.PARAM_PACKAGE_FOLDER: str(folder)}))
    assert run[contract.OUTPUT_FILES].split(contract.FILES_SEPARATOR) == sorted(
        ["App.dmapp", PACKAGE, "VerifyClusterPorts.dmupgrade"])


def test_inventory_of_a_missing_folder_lists_nothing(orchestrator_csharp: OrchestratorScript,
                                                     tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    run = answered(orchestrator_csharp.run({contract.PARAM_ACTION: contract.ACTION_INVENTORY,
                                            contract.PARAM_PACKAGE_FOLDER: str(missing)}))
    assert run[contract.OUTPUT_FILES] == ""
    assert str(missing) in run[contract.OUTPUT_MESSAGE]
    assert not missing.exists()


def test_without_package_folder_the_default_folder_is_used(orchestrator_csharp: OrchestratorScript,
                                                           tmp_path: Path) -> None:
    run = answered(orchestrator_csharp.run({contract.PARAM_ACTION: contract.ACTION_INVENTORY}, cwd=tmp_path))
    assert run[contract.OUTPUT_FILES] == ""
    assert contract.DEFAULT_PACKAGE_FOLDER in run[contract.OUTPUT_MESSAGE]


def test_an_unknown_action_is_refused(orchestrator_csharp: OrchestratorScript) -> None:
    refused(orchestrator_csharp.run({contract.PARAM_ACTION: "upload"}), "Action must be one of",
            *contract.ACTIONS)


# ------------------------------------------------------------------------------------------------- verify

def verify(script: OrchestratorScript, folder: Path, package: str) -> ScriptRun:
    return answered(script.run({contract.PARAM_ACTION: contract.ACTION_VERIFY,
                                contract.PARAM_PACKAGE: package, contract.PARAM_PACKAGE_FOLDER: str(folder)}))


def test_verify_passes_a_dmupgrade_zip_holding_update_zip(orchestrator_csharp: OrchestratorScript,
                                                          folder: Path) -> None:
    run = verify(orchestrator_csharp, folder, PACKAGE)
    assert run[contract.OUTPUT_RESULT] == contract.RESULT_PASS
    message = run[contract.OUTPUT_MESSAGE]
    assert message.startswith(f"package file readable: {PACKAGE} holds Update.zip")
    assert "not uploaded" in message and "prerequisite checks" in message
    assert not (folder / "jobs").exists()  # verify writes nothing


def test_verify_takes_update_zip_in_any_case_and_a_dmapp_as_it_is(orchestrator_csharp: OrchestratorScript,
                                                                  folder: Path) -> None:
    make_package(folder / "lower.dmupgrade", {"update.zip": b"x", "other.txt": b"y"})
    (folder / "Some App.dmapp").write_bytes(b"not even a zip: the utility takes a .dmapp as it is")
    lower = verify(orchestrator_csharp, folder, "lower.dmupgrade")
    assert lower[contract.OUTPUT_RESULT] == contract.RESULT_PASS
    dmapp = verify(orchestrator_csharp, folder, "Some App.dmapp")
    assert dmapp[contract.OUTPUT_RESULT] == contract.RESULT_PASS
    assert "not uploaded" in dmapp[contract.OUTPUT_MESSAGE]


@pytest.mark.parametrize(("package", "content", "reason"), [
    ("NoUpdate.dmupgrade", "zip-without", "holds no Update.zip"),
    ("Nested.dmupgrade", "zip-nested", "holds no Update.zip"),
    ("Broken.dmupgrade", "not-a-zip", "not a readable zip"),
    ("Absent.dmupgrade", None, "is not in"),
    ("../escape.dmupgrade", None, "must be a file name"),
    ("sub/escape.dmupgrade", None, "must be a file name"),
    ("sub\\escape.dmupgrade", None, "must be a file name"),
    ("C:escape.dmupgrade", None, "must be a file name"),
    ("a..b.dmupgrade", None, "must be a file name"),
    ("readme.txt", "text", "must be a .dmupgrade or .dmapp"),
    ("", None, "Package is empty"),
])
def test_verify_fails_what_is_not_a_readable_package_in_the_folder(
    orchestrator_csharp: OrchestratorScript, folder: Path, package: str, content: str | None, reason: str
) -> None:
    if content == "zip-without":
        make_package(folder / package, {"Prerequisites/x.dll": b"x"})
    elif content == "zip-nested":
        make_package(folder / package, {"inner/Update.zip": b"x"})
    elif content is not None:
        (folder / package).write_text("plain text, not a zip")
    run = verify(orchestrator_csharp, folder, package)
    assert run[contract.OUTPUT_RESULT] == contract.RESULT_FAIL
    assert reason in run[contract.OUTPUT_MESSAGE]


# ------------------------------------------------------------------------------------------------ upgrade

@pytest.mark.parametrize("exit_code", [0, 7])
async def test_upgrade_runs_the_utility_for_every_agent_and_status_follows_it_to_its_exit_code(
    orchestrator_csharp: OrchestratorScript, folder: Path, tmp_path: Path, exit_code: int
) -> None:
    utility = FakeUtility.install(tmp_path / "Taskbar Utility", exit_code=exit_code, hold=True)
    try:
        assert status(orchestrator_csharp, folder)[contract.OUTPUT_STATE] == contract.STATE_MISSING
        started = answered(orchestrator_csharp.run(upgrade_params(folder, utility), dms_agents=AGENT_IDS))
        assert started[contract.OUTPUT_STATE] == contract.STATE_RUNNING
        # The job record exists before the call returns: the next status is running, never missing.
        during = answered(status(orchestrator_csharp, folder))
        assert during[contract.OUTPUT_STATE] == contract.STATE_RUNNING
        assert contract.OUTPUT_EXIT_CODE not in during.outputs
        await wait_until(lambda: len(utility.runs()) == 1, what="the utility to start")
    finally:
        utility.let_go()
    await wait_until(exit_file(folder).exists, what="the runner to record the exit code")
    after = answered(status(orchestrator_csharp, folder))
    assert after[contract.OUTPUT_STATE] == contract.STATE_FINISHED
    assert after[contract.OUTPUT_EXIT_CODE] == str(exit_code)

    [run] = utility.runs()
    info_path = folder / "jobs" / f"{JOB}-UpgradeInfo.xml"
    assert run["args"] == ["-upgrade", str(folder / PACKAGE), str(info_path)]
    info = ET.fromstring(run["upgrade_info"])
    assert info.tag == "UpgradeInfo"
    assert [ip.text for ip in info.findall("Agents/IP")] == [address for _, address in AGENTS]
    assert {child.tag: child.text for child in info if child.tag != "Agents"} == {
        "IsCluster": "true", "ExtractAllFiles": "true", "DelayedStart": "true",
        "AutomaticStartServices": "true", "StopSNMP": "false", "RebootAfterUpgrade": "false",
        "FailoverPolicy": contract.FAILOVER_SIMULTANEOUSLY}


async def test_status_right_after_upgrade_is_running_or_finished_never_missing(
    orchestrator_csharp: OrchestratorScript, folder: Path, tmp_path: Path
) -> None:
    utility = FakeUtility.install(tmp_path / "quick", exit_code=0)  # not held: races the status call
    answered(orchestrator_csharp.run(upgrade_params(folder, utility), dms_agents=AGENT_IDS))
    state = answered(status(orchestrator_csharp, folder))[contract.OUTPUT_STATE]
    assert state in (contract.STATE_RUNNING, contract.STATE_FINISHED)
    await wait_until(exit_file(folder).exists, what="the runner to finish")


async def test_status_reads_the_folder_it_is_given(orchestrator_csharp: OrchestratorScript, folder: Path,
                                                   tmp_path: Path, utility: FakeUtility) -> None:
    answered(orchestrator_csharp.run(upgrade_params(folder, utility), dms_agents=AGENT_IDS))
    other = tmp_path / "other folder"
    other.mkdir()
    elsewhere = answered(status(orchestrator_csharp, other))
    assert elsewhere[contract.OUTPUT_STATE] == contract.STATE_MISSING
    assert elsewhere[contract.OUTPUT_MESSAGE] == f"no such job {JOB} in {other}"
    assert status(orchestrator_csharp, folder)[contract.OUTPUT_STATE] == contract.STATE_RUNNING
    utility.let_go()
    await wait_until(exit_file(folder).exists, what="the runner to finish")


async def test_the_same_job_twice_starts_the_utility_once(orchestrator_csharp: OrchestratorScript,
                                                          folder: Path, utility: FakeUtility) -> None:
    first = answered(orchestrator_csharp.run(upgrade_params(folder, utility), dms_agents=AGENT_IDS))
    again = answered(orchestrator_csharp.run(upgrade_params(folder, utility), dms_agents=AGENT_IDS))
    assert first[contract.OUTPUT_STATE] == again[contract.OUTPUT_STATE] == contract.STATE_RUNNING
    assert again.slnet_messages == 0  # answered from the job record, nothing checked or started again
    utility.let_go()
    await wait_until(exit_file(folder).exists, what="the runner to finish")
    later = answered(orchestrator_csharp.run(upgrade_params(folder, utility), dms_agents=AGENT_IDS))
    assert later[contract.OUTPUT_STATE] == contract.STATE_FINISHED and later[contract.OUTPUT_EXIT_CODE] == "0"
    assert len(utility.runs()) == 1


def assert_nothing_started(folder: Path, utility: FakeUtility | None, job: str = JOB) -> None:
    if utility is not None:
        assert utility.runs() == []
    jobs = folder / "jobs"
    leftovers = sorted(path.name for path in jobs.iterdir()) if jobs.exists() else []
    assert leftovers in ([], [f"{job}.txt"]), leftovers  # at most the failed job record


def assert_job_failed(script: OrchestratorScript, folder: Path, *fragments: str) -> None:
    run = answered(status(script, folder))
    assert run[contract.OUTPUT_STATE] == contract.STATE_FAILED
    for fragment in fragments:
        assert fragment in run[contract.OUTPUT_MESSAGE]


@pytest.mark.parametrize(("dms_agents", "named"), [
    ([101, 102, 103, 104], "the DMS has agent(s) 104 that Agents does not list"),
    ([101, 102], "Agents lists 103 that the DMS does not have"),
    ([101, 102, 104], "the DMS has agent(s) 104 that Agents does not list; Agents lists 103"),
])
def test_agents_that_differ_from_the_dms_are_refused_and_nothing_starts(
    orchestrator_csharp: OrchestratorScript, folder: Path, utility: FakeUtility, dms_agents: list[int],
    named: str,
) -> None:
    run = orchestrator_csharp.run(upgrade_params(folder, utility), dms_agents=dms_agents)
    refused(run, "Agents does not match the DMS", named, "rolling upgrades are not supported")
    assert_nothing_started(folder, utility)
    assert_job_failed(orchestrator_csharp, folder, named)


def test_agents_the_dms_cannot_report_are_refused(orchestrator_csharp: OrchestratorScript, folder: Path,
                                                  utility: FakeUtility) -> None:
    run = orchestrator_csharp.run(upgrade_params(folder, utility), dms_agents_error="SLNet is not running")
    refused(run, "could not read the DMS's agents", "SLNet is not running")
    assert_nothing_started(folder, utility)


@pytest.mark.parametrize(("agents", "reason"), [
    ("", "Agents lists no agent"),
    ("101", "is not ID=address"),
    ("101=", "is not ID=address"),
    ("x=10.0.0.1", "is not ID=address"),
    ("101=10.0.0.1;101=10.0.0.2", "names agent 101 twice"),
])
def test_agents_not_written_as_id_equals_address_are_refused(
    orchestrator_csharp: OrchestratorScript, folder: Path, utility: FakeUtility, agents: str, reason: str
) -> None:
    run = orchestrator_csharp.run(upgrade_params(folder, utility, Agents=agents), dms_agents=[101])
    refused(run, reason)
    assert_nothing_started(folder, utility)
    # The contract's own parser refuses the same texts.
    with pytest.raises(ValueError):
        contract.parse_agents_parameter(agents)


@pytest.mark.parametrize("job", ["", "not-hex", "0x12", "g0", "a" * 65, "../0123", "ab cd"])
@pytest.mark.parametrize("action", [contract.ACTION_UPGRADE, contract.ACTION_STATUS])
def test_a_job_that_is_not_1_to_64_hex_digits_is_refused_without_a_record(
    orchestrator_csharp: OrchestratorScript, folder: Path, utility: FakeUtility, job: str, action: str
) -> None:
    params = upgrade_params(folder, utility, Job=job, Action=action)
    refused(orchestrator_csharp.run(params, dms_agents=AGENT_IDS), "Job must be 1-64 hex digits")
    assert not (folder / "jobs").exists()
    assert utility.runs() == []


@pytest.mark.parametrize(("package", "reason"), [
    ("../escape.dmupgrade", "must be a file name"),
    ("Absent.dmupgrade", "is not in"),
    ("readme.txt", "must be a .dmupgrade or .dmapp"),
])
def test_a_bad_package_is_refused_and_recorded(orchestrator_csharp: OrchestratorScript, folder: Path,
                                               utility: FakeUtility, package: str, reason: str) -> None:
    refused(orchestrator_csharp.run(upgrade_params(folder, utility, Package=package), dms_agents=AGENT_IDS),
            reason)
    assert_nothing_started(folder, utility)
    assert_job_failed(orchestrator_csharp, folder, reason)
    # The same Job again answers the recorded refusal: State failed, without starting or refusing anew.
    again = answered(orchestrator_csharp.run(upgrade_params(folder, utility), dms_agents=AGENT_IDS))
    assert again[contract.OUTPUT_STATE] == contract.STATE_FAILED and reason in again[contract.OUTPUT_MESSAGE]
    assert utility.runs() == []


def test_a_failover_policy_other_than_simultaneously_is_refused(orchestrator_csharp: OrchestratorScript,
                                                                folder: Path, utility: FakeUtility) -> None:
    run = orchestrator_csharp.run(upgrade_params(folder, utility, FailoverPolicy="BackupFirst"),
                                  dms_agents=AGENT_IDS)
    refused(run, "FailoverPolicy must be Simultaneously")
    assert_nothing_started(folder, utility)


def test_a_missing_package_folder_is_refused_and_not_created(orchestrator_csharp: OrchestratorScript,
                                                             tmp_path: Path, utility: FakeUtility) -> None:
    missing = tmp_path / "typo"
    refused(orchestrator_csharp.run(upgrade_params(missing, utility), dms_agents=AGENT_IDS), str(missing),
            "does not exist")
    assert not missing.exists()


def test_without_the_utility_the_upgrade_is_refused_naming_where_it_looked(
    orchestrator_csharp: OrchestratorScript, folder: Path, tmp_path: Path
) -> None:
    run = orchestrator_csharp.run(upgrade_params(folder, None), dms_agents=AGENT_IDS)
    refused(run, "SLTaskbarUtility.exe not found at", *contract.TASKBAR_UTILITY_LOCATIONS,
            "TaskbarUtilityPath")
    message = run[contract.OUTPUT_MESSAGE]
    first, second = contract.TASKBAR_UTILITY_LOCATIONS
    assert message.index(first) < message.index(second)  # searched in the documented order
    assert_nothing_started(folder, None)

    absent = tmp_path / "elsewhere" / "SLTaskbarUtility.exe"
    other_job = "ab" * 16
    run = orchestrator_csharp.run(upgrade_params(folder, None, TaskbarUtilityPath=str(absent), Job=other_job),
                                  dms_agents=AGENT_IDS)
    refused(run, f"TaskbarUtilityPath {absent} does not exist")


# ------------------------------------------------------------------------------------------- the runner

def test_the_windows_runner_is_start_wait_then_the_exit_code_written_atomically(
    orchestrator_csharp: OrchestratorScript, folder: Path, utility: FakeUtility
) -> None:
    package = "100% Upgrade.dmapp"  # '%' must reach cmd.exe doubled, or it would expand a variable
    (folder / package).write_bytes(b"app")
    answered(orchestrator_csharp.run(upgrade_params(folder, utility, Package=package), dms_agents=AGENT_IDS))
    jobs = folder / "jobs"
    cmd = (jobs / f"{JOB}-run.cmd").read_bytes().decode("ascii")
    assert cmd.endswith("\r\n") and "\n" not in cmd.replace("\r\n", "")
    lines = [line for line in cmd.split("\r\n") if line and not line.startswith("rem ")]
    exit_path = str(jobs / f"{JOB}.exit")
    quoted_package = str(folder / package).replace("%", "%%")
    assert lines == [
        "@echo off",
        "setlocal DisableDelayedExpansion",
        f'start "" /wait "{utility.path}" -upgrade "{quoted_package}" "{jobs / f"{JOB}-UpgradeInfo.xml"}"',
        f'>"{exit_path}.tmp" echo %errorlevel%',
        f'move /y "{exit_path}.tmp" "{exit_path}" >nul',
    ]
    # Under mono the script runs the .sh twin, which passes the same arguments unexpanded.
    sh = (jobs / f"{JOB}-run.sh").read_text()
    assert f"'{folder / package}'" in sh and "mv -f" in sh


# --------------------------------------------------------------------------------------------- selftest

def selftest(script: OrchestratorScript, folder: Path, utility: FakeUtility | None, *,
             agents: str | None = None, dms_agents: list[int] | None = None) -> ScriptRun:
    params = {contract.PARAM_ACTION: contract.ACTION_SELFTEST, contract.PARAM_PACKAGE_FOLDER: str(folder)}
    if utility is not None:
        params[contract.PARAM_TASKBAR_UTILITY_PATH] = str(utility.path)
    if agents is not None:
        params[contract.PARAM_AGENTS] = agents
    return answered(script.run(params, dms_agents=AGENT_IDS if dms_agents is None else dms_agents))


def checks(run: ScriptRun) -> dict[str, str]:
    found = {key.removeprefix(contract.OUTPUT_CHECK_PREFIX): value for key, value in run.outputs.items()
             if key.startswith(contract.OUTPUT_CHECK_PREFIX)}
    for name, value in found.items():
        assert value.startswith(("pass: ", "fail: ")), (name, value)
        if value.startswith("fail: "):
            assert "Fix: " in value, (name, value)
    return found


def test_selftest_passes_and_runs_help_through_the_upgrade_runner(orchestrator_csharp: OrchestratorScript,
                                                                  folder: Path, tmp_path: Path) -> None:
    utility = FakeUtility.install(tmp_path / "Taskbar Utility", exit_code=0)
    run = selftest(orchestrator_csharp, folder, utility, agents=contract.agents_parameter(AGENTS))
    found = checks(run)
    assert set(found) == {"TaskbarUtility", "Help", "PackageFolder", "Agents"}
    assert all(value.startswith("pass: ") for value in found.values()), found
    assert run[contract.OUTPUT_RESULT] == contract.RESULT_PASS
    assert str(utility.path) in found["TaskbarUtility"]
    assert "code 0" in found["Help"]
    assert PACKAGE in found["PackageFolder"]
    assert "101, 102, 103" in found["Agents"] and "the same as Agents" in found["Agents"]
    assert re.fullmatch(r"[^\\]*\\[^\\]+", run[contract.OUTPUT_ACCOUNT]), run[contract.OUTPUT_ACCOUNT]
    # The same runner as an upgrade: a -run.cmd with start /wait, the detached process, the exit file.
    assert [entry["args"] for entry in utility.runs()] == [["-help"]]
    [cmd] = (folder / "jobs").glob("selftest-*-run.cmd")
    assert f'start "" /wait "{utility.path}" -help\r\n' in cmd.read_bytes().decode("ascii")
    assert cmd.with_name(cmd.name.replace("-run.cmd", ".exit")).read_text().strip() == "0"


def test_selftest_without_utility_folder_or_matching_agents_fails_each_with_a_fix(
    orchestrator_csharp: OrchestratorScript, tmp_path: Path
) -> None:
    missing = tmp_path / "no folder"
    run = selftest(orchestrator_csharp, missing, None, agents="101=a;102=b", dms_agents=[101, 102, 103])
    found = checks(run)
    assert run[contract.OUTPUT_RESULT] == contract.RESULT_FAIL
    assert all(value.startswith("fail: ") for value in found.values()), found
    for location in contract.TASKBAR_UTILITY_LOCATIONS:
        assert location in found["TaskbarUtility"]
    assert "TaskbarUtilityPath" in found["TaskbarUtility"]
    assert str(missing) in found["PackageFolder"] and not missing.exists()
    assert "103" in found["Agents"]
    assert run[contract.OUTPUT_ACCOUNT]


def test_selftest_fails_help_with_its_exit_code(orchestrator_csharp: OrchestratorScript, folder: Path,
                                                tmp_path: Path) -> None:
    utility = FakeUtility.install(tmp_path / "Taskbar Utility", exit_code=4)
    run = selftest(orchestrator_csharp, folder, utility)
    found = checks(run)
    assert found["Help"].startswith("fail: ") and "exited with code 4" in found["Help"]
    assert found["Agents"].startswith("pass: ")  # no Agents given: the DMS's are listed
    assert run[contract.OUTPUT_RESULT] == contract.RESULT_FAIL
