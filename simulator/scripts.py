"""The orchestrator Automation script of ``dms.script_contract`` (contract 2), as the simulated DMS runs it.

The simulator does what the shipped script (``dms/data/DMUpgrade_Orchestrator.xml``) does, no more: the
actions ``inventory``, ``verify``, ``upgrade``, ``status`` and ``selftest``, each answering
``ContractVersion``. Parameters are strings, matched by ``Name``, or by ``ParameterId`` when the name is
absent.

Package names: the target version is the LAST substring that reads as a version, ``\\d+.\\d+.\\d+``
optionally followed by `` CUn`` or `` [CUn]`` (then parsed by ``dms.versions``): "DataMiner 10.0.0
CU19.dmupgrade" -> 10.0.0 CU19. A name holding no version ("VerifyClusterPorts.dmupgrade") is a helper
package: it runs ``helper_minutes`` and ends without a restart or a version change.

``upgrade`` plays ``start /wait SLTaskbarUtility.exe -upgrade <package> UpgradeInfo.xml`` (dataminer-docs:
DataMiner_Tools/DataMiner_Taskbar_Utility/Taskbar_Utility_command_line_options.md) in the background, in the
job the script recorded as ``running`` before answering. The utility has no *Upload only*: it uploads the
package (``upload_minutes``, counted in ``uploads``) and the prerequisite checks run when the upgrade starts;
"if the prerequisite checks detect that this is not the case, the upgrade will be canceled"
(Upgrading_a_DMA/Preparing_to_upgrade_a_DataMiner_Agent.md). Its return code ends the job. The docs give
no return codes beyond ``start /wait`` awaiting one; 0 for success is the Windows convention, the others are
the simulator's choice (``simulator.cluster``):

* 0 (``EXIT_SUCCESS``): every agent runs the target, or a helper package ran;
* 1 (``EXIT_CANCELLED``): the upgrade never started, no agent was touched: an agent was down or mid-upgrade,
  or a prerequisite check failed (fault ``prerequisite_check_fails``);
* 2 (``EXIT_AGENT_FAILED``): the upgrade ran and an agent failed to start (fault ``agent_fails_to_start``).

While a full or CU upgrade from before DataMiner 10.6.6/10.7.0 runs, the orchestrating agent (agent 1, the
one DMS_URL names) answers nothing until every agent is upgraded (``simulator.cluster``), so ``status``
through it gets HTTP 503 meanwhile. Cube's *Upload only* and *Upgrade* (``simulator.cube``) share
``begin_upgrade`` with the utility.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from dms import script_contract as contract
from dms.exceptions import VersionError
from dms.versions import Version, parse_version
from simulator.cluster import (
    EXIT_CANCELLED,
    EXIT_SUCCESS,
    ORCHESTRATOR,
    Job,
    SimCluster,
    Upgrade,
)
from simulator.errors import BadRequest, ScriptFailed

log = logging.getLogger(__name__)

ACCOUNT = "SIMULATED\\DataMiner"  # the account the simulated script, and so the utility, runs as
_VERSION_IN_NAME = re.compile(r"\d+\.\d+\.\d+(?:\s*\[?\s*CU\s*\d+\s*\]?)?", re.IGNORECASE)
_JOB = re.compile(r"[0-9A-Fa-f]{1,64}")
_NOT_IN_FILE_NAME = frozenset('\\/:*?"<>|')  # a path, or a character Windows refuses in a file name
_PACKAGE_TYPES = (".dmupgrade", ".dmapp")
_NAMES_BY_ID = {number: name for name, number in contract.PARAMETER_IDS.items()}

Outputs = dict[str, str]


def package_version(package: str) -> Version | None:
    """The version a package installs, or ``None`` for a helper package (see the module docstring)."""
    found = _VERSION_IN_NAME.findall(package)
    if not found:
        return None
    try:
        return parse_version(found[-1].replace("[", " ").replace("]", " ").strip())
    except VersionError:
        return None


def script_listing() -> list[dict[str, Any]]:
    """What ``GetAutomationScripts`` lists."""
    return [{
        "Name": contract.SCRIPT_NAME,
        "Folder": contract.SCRIPT_FOLDER,
        "Description": "dm-upgrade: start SLTaskbarUtility -upgrade for every agent, report its exit code.",
        "Parameters": [
            {"ParameterId": number, "Name": name} for name, number in contract.PARAMETER_IDS.items()
        ],
    }]


async def execute(cluster: SimCluster, *, script: object, options: object) -> int:
    """Run ``ExecuteAutomationScript``; returns the script instance id or raises an ``AsmxFault``."""
    instance, _ = _run(cluster, script=script, options=options)
    return instance


async def execute_with_output(cluster: SimCluster, *, script: object, options: object) -> dict[str, Any]:
    """``ExecuteAutomationScriptWithOutput``: the instance id and the script's key/value outputs.

    The docs name no JSON fields for DMAAutomationOutputValue; the simulator uses ``Key``/``Value``.
    """
    instance, outputs = _run(cluster, script=script, options=options)
    return {"ID": instance, "Output": [{"Key": key, "Value": value} for key, value in outputs.items()]}


def _run(cluster: SimCluster, *, script: object, options: object) -> tuple[int, Outputs]:
    if not isinstance(script, dict):
        raise BadRequest("Parameter 'script' must be an object with Name, Folder and Parameters.")
    name = script.get("Name")
    if name != contract.SCRIPT_NAME:
        raise ScriptFailed(f"Automation script {name!r} does not exist on this DMS "
                           f"(available: {contract.SCRIPT_NAME}).")
    wait = True
    if options is not None:
        if not isinstance(options, dict) or not isinstance(options.get("WaitForScript", True), bool):
            raise BadRequest("scriptOptions.WaitForScript must be true or false.")
        wait = bool(options.get("WaitForScript", True))
    values = _parameters(script.get("Parameters"))
    action = _required(values, contract.PARAM_ACTION)
    handler = _ACTIONS.get(action)
    if handler is None:
        raise _bad(f"{contract.PARAM_ACTION} must be one of {', '.join(contract.ACTIONS)}, got {action!r}")
    instance = cluster.next_instance()
    try:
        outputs = handler(cluster, values)
    except ScriptFailed as failed:
        if wait:
            raise
        # Not waited for, the call answered before the script ended: only the DMS's logs see the failure.
        log.info("script instance %d (not waited for) failed: %s", instance, failed.message)
        return instance, {}
    return instance, {contract.OUTPUT_CONTRACT_VERSION: contract.CONTRACT_VERSION, **outputs}


# ---------------------------------------------------------------------- actions


def _inventory(cluster: SimCluster, values: Outputs) -> Outputs:
    """The package folder: ``config.packages`` when given, else every file asked about is there."""
    if cluster.config.packages is not None:
        files = list(cluster.config.packages)
    else:
        asked = values.get(contract.PARAM_PACKAGE, "")
        files = [part.strip() for part in asked.split(contract.FILES_SEPARATOR) if part.strip()]
    return {contract.OUTPUT_FILES: contract.FILES_SEPARATOR.join(files)}


def _verify(cluster: SimCluster, values: Outputs) -> Outputs:
    """Is the file there (and readable: the simulator takes every file it has to be)? Nothing else runs."""
    package, folder = values.get(contract.PARAM_PACKAGE, ""), _folder(values)
    problem = _file_problem(cluster, package, folder)
    if problem is not None:
        return {contract.OUTPUT_RESULT: contract.RESULT_FAIL, contract.OUTPUT_MESSAGE: problem}
    return {contract.OUTPUT_RESULT: contract.RESULT_PASS,
            contract.OUTPUT_MESSAGE: f"{package} is in {folder} and readable"}


def _upgrade(cluster: SimCluster, values: Outputs) -> Outputs:
    job_id, folder = _job(values), _folder(values)
    known = cluster.jobs.get((_folder_key(folder), job_id))
    if known is not None:  # a retry or a restarted bot: the job's state, nothing started again
        cluster.settle_jobs()
        return _job_outputs(known)
    package = values.get(contract.PARAM_PACKAGE, "")
    job = Job(job=job_id, folder=folder, package=package)
    cluster.jobs[(_folder_key(folder), job_id)] = job
    reason = _refusal(cluster, values, package, folder)
    if reason is not None:
        job.state, job.message = contract.STATE_FAILED, reason
        log.info("upgrade job %s refused: %s", job_id, reason)
        # The script sets State=failed and Message, then ends with engine.ExitFail. The Web Services docs do
        # not say what ExecuteAutomationScriptWithOutput answers for a failed script; the simulator answers
        # the ASMX fault it gives every failed script (simulator.errors), whose Message is the reason,
        # so the outputs are not in that answer: ``status`` of the job reports them.
        raise ScriptFailed(f"Automation script {contract.SCRIPT_NAME} failed: {reason}")
    task = asyncio.create_task(_utility(cluster, job))
    cluster.background.add(task)  # referenced, so it is not collected; cancelled on stop
    task.add_done_callback(cluster.background.discard)
    return _job_outputs(job)


def _status(cluster: SimCluster, values: Outputs) -> Outputs:
    job = cluster.jobs.get((_folder_key(_folder(values)), _job(values)))
    if job is None:
        return {contract.OUTPUT_STATE: contract.STATE_MISSING,
                contract.OUTPUT_MESSAGE: f"no such job in {_folder(values)}"}
    cluster.settle_jobs()
    return _job_outputs(job)


def _selftest(cluster: SimCluster, values: Outputs) -> Outputs:
    """The checks a lab DMA runs before the first real upgrade; on the simulator they pass."""
    utility = values.get(contract.PARAM_TASKBAR_UTILITY_PATH) or contract.TASKBAR_UTILITY_LOCATIONS[0]
    folder = _folder(values)
    files = _inventory(cluster, values)[contract.OUTPUT_FILES]
    count = len([name for name in files.split(contract.FILES_SEPARATOR) if name])
    checks = {
        "TaskbarUtility": f"pass: found at {utility}",
        "Help": "pass: -help exited with 0, started as an upgrade would start the utility",
        "PackageFolder": f"pass: {folder} lists {count} package file(s)",
    }
    agents = values.get(contract.PARAM_AGENTS, "")
    mismatch = _agents_mismatch(cluster, agents) if agents else None
    checks["Agents"] = (f"fail: {mismatch}. Fix: pass every agent GetDataMinerAgentsInfo lists, as ID=address"
                        if mismatch else f"pass: the DMS reports {len(_reported_ids(cluster))} agent(s)")
    passed = all(value.startswith("pass") for value in checks.values())
    return {**{contract.OUTPUT_CHECK_PREFIX + name: value for name, value in checks.items()},
            contract.OUTPUT_ACCOUNT: ACCOUNT,
            contract.OUTPUT_RESULT: contract.RESULT_PASS if passed else contract.RESULT_FAIL}


_ACTIONS = {
    contract.ACTION_INVENTORY: _inventory,
    contract.ACTION_VERIFY: _verify,
    contract.ACTION_UPGRADE: _upgrade,
    contract.ACTION_STATUS: _status,
    contract.ACTION_SELFTEST: _selftest,
}


# ---------------------------------------------------------------------- the utility, and what DataMiner does


async def _utility(cluster: SimCluster, job: Job) -> None:
    """``start /wait SLTaskbarUtility.exe -upgrade``: the package file itself goes up, no prior upload."""
    started = await begin_upgrade(cluster, job.package, transfer=True)
    if isinstance(started, str):
        job.finish(EXIT_CANCELLED, started)
    elif started is None:
        job.finish(EXIT_SUCCESS)
    else:
        job.upgrade = started  # the job ends with the agents (SimCluster.settle_jobs)
    log.info("upgrade job %s: %s", job.job, job.state if job.exit_code is None else f"exit {job.exit_code}")


async def begin_upgrade(cluster: SimCluster, package: str, *, transfer: bool) -> Upgrade | str | None:
    """Upgrade every agent with ``package``: upload it first when ``transfer``, then run its prerequisite
    checks, then start. Returns why it was cancelled (nothing touched), the started full/CU upgrade, or
    None once a helper package has run."""
    agent_ids = sorted(cluster.agents)  # UpgradeInfo.xml: IsCluster true, every agent; pairs simultaneously
    target = package_version(package)
    blocked = not_ready(cluster, agent_ids)
    if blocked is not None:
        return f"the upgrade could not start: {blocked}"
    if transfer:
        await upload(cluster, package)
    failed = check_prerequisites(cluster, package, agent_ids)
    if failed is not None:
        return f"the upgrade was canceled: {failed}"
    # Every agent was reachable for the upload; only another upgrade begun meanwhile stops the start now.
    busy = [cluster.agent(agent_id).name for agent_id in agent_ids if cluster.agent(agent_id).transition]
    if busy:
        return f"the upgrade could not start: {busy[0]} has an upgrade pending"
    if target is not None:
        return cluster.start_upgrade(target, agent_ids, orchestrator=ORCHESTRATOR)
    cluster.upgrades_triggered[package] += 1
    await cluster.clock.sleep(60.0 * cluster.config.helper_minutes)
    return None


async def upload(cluster: SimCluster, package: str) -> None:
    """The package goes to every agent and its prerequisite checks run: ``upload_minutes`` in all."""
    target = package_version(package)
    cluster.uploads[str(target) if target else package] += 1
    await cluster.clock.sleep(60.0 * cluster.config.upload_minutes)


def check_prerequisites(cluster: SimCluster, package: str, agent_ids: list[int]) -> str | None:
    """The package's prerequisite checks: what failed and where, or None (the package is then kept)."""
    failing = next((f for f in cluster.faults if f.fails_check_of(package)), None)
    if failing is None:
        cluster.uploaded.add(package)
        return None
    cluster.uploaded.discard(package)  # "the upgrade package will not be accepted as a valid package"
    agent = cluster.agent(agent_ids[-1])
    return f"prerequisite check {failing.check} failed on {agent.name} ({agent.ip}) for {package}"


def not_ready(cluster: SimCluster, agent_ids: list[int]) -> str | None:
    """Why an upgrade cannot start on these agents now (one is down or mid-upgrade), or None."""
    for agent_id in agent_ids:
        agent, phase = cluster.agent(agent_id), cluster.visible_phase(agent_id)
        if phase.status != "Running":
            return f"{agent.name} is {phase.status}" + (f" ({phase.detail})" if phase.detail else "")
        if agent.transition is not None:
            return f"{agent.name} has an upgrade pending"
    return None


# ---------------------------------------------------------------------- parameters


def _refusal(cluster: SimCluster, values: Outputs, package: str, folder: str) -> str | None:
    """Why the script refuses to start the upgrade, checked in the order the script checks, or None."""
    problem = _file_problem(cluster, package, folder)
    if problem is not None:
        return problem
    policy = values.get(contract.PARAM_FAILOVER_POLICY, "")
    if policy not in ("", contract.FAILOVER_SIMULTANEOUSLY):
        expected = contract.FAILOVER_SIMULTANEOUSLY
        return f"{contract.PARAM_FAILOVER_POLICY} must be {expected} or empty, got {policy[:40]!r}"
    return _agents_mismatch(cluster, values.get(contract.PARAM_AGENTS, ""))


def _agents_mismatch(cluster: SimCluster, text: str) -> str | None:
    """The ``Agents`` parameter against the agents the DMS reports: a partial upgrade is a rolling upgrade,
    which the docs call unsupported."""
    try:
        listed = {agent_id for agent_id, _ in contract.parse_agents_parameter(text)}
    except ValueError as exc:
        return str(exc)
    reported = set(_reported_ids(cluster))
    missing, extra = sorted(reported - listed), sorted(listed - reported)
    if not missing and not extra:
        return None
    parts = ([f"missing {', '.join(map(str, missing))}"] if missing else []) + \
        ([f"not in this DMS: {', '.join(map(str, extra))}"] if extra else [])
    return (f"{contract.PARAM_AGENTS} does not list the agents this DMS reports ({'; '.join(parts)}): "
            "a partial upgrade is a rolling upgrade, which is not supported")


def _reported_ids(cluster: SimCluster) -> list[int]:
    return [int(row["ID"]) for row in cluster.agents_info()]


def _file_problem(cluster: SimCluster, package: str, folder: str) -> str | None:
    if not package:
        return f"{contract.PARAM_PACKAGE} is empty: name a package file in {folder}"
    if ".." in package or any(char in _NOT_IN_FILE_NAME or ord(char) < 32 for char in package):
        return f"{contract.PARAM_PACKAGE} must be a plain file name, got {package[:80]!r}"
    if not package.lower().endswith(_PACKAGE_TYPES):  # what -upgrade takes (Taskbar_Utility_command_line_...)
        return f"{contract.PARAM_PACKAGE} must be a .dmupgrade or .dmapp file, got {package[:80]!r}"
    if cluster.config.packages is not None and package not in cluster.config.packages:
        return f"package file {package!r} is not in {folder}"
    return None


def _job_outputs(job: Job) -> Outputs:
    """What the script can say of a job: its record and the utility's exit code, never why it exited."""
    if job.state == contract.STATE_FINISHED:
        return {contract.OUTPUT_STATE: job.state, contract.OUTPUT_EXIT_CODE: str(job.exit_code),
                contract.OUTPUT_MESSAGE: f"SLTaskbarUtility exited with code {job.exit_code}"}
    if job.state == contract.STATE_FAILED:
        return {contract.OUTPUT_STATE: job.state, contract.OUTPUT_MESSAGE: job.message}
    return {contract.OUTPUT_STATE: job.state, contract.OUTPUT_MESSAGE:
            f"SLTaskbarUtility -upgrade {job.package} started"}


def _job(values: Outputs) -> str:
    job = _required(values, contract.PARAM_JOB)
    if not _JOB.fullmatch(job):
        raise _bad(f"{contract.PARAM_JOB} must be 1-64 hexadecimal digits, got {job[:80]!r}")
    return job.lower()  # one job, however its hex digits are cased


def _folder(values: Outputs) -> str:
    return values.get(contract.PARAM_PACKAGE_FOLDER) or contract.DEFAULT_PACKAGE_FOLDER


def _folder_key(folder: str) -> str:
    return folder.rstrip("\\/").lower()  # one Windows folder, however it is spelled


def _parameters(raw: object) -> Outputs:
    if not isinstance(raw, list):
        raise BadRequest("script.Parameters must be a list of {ParameterId, Name, Value}.")
    values: Outputs = {}
    for item in raw:
        if not isinstance(item, dict) or "Value" not in item:
            raise BadRequest("Each script parameter needs a Value and a Name or ParameterId.")
        name = item.get("Name") or _NAMES_BY_ID.get(item.get("ParameterId"))  # type: ignore[arg-type]
        if name not in contract.PARAMETER_IDS:
            raise _bad(f"unknown parameter {item.get('Name') or item.get('ParameterId')!r}; the script takes "
                       f"{', '.join(contract.PARAMETER_IDS)}")
        number = item.get("ParameterId")
        if number is not None and number != contract.PARAMETER_IDS[name]:
            raise _bad(f"parameter {name} has ParameterId {contract.PARAMETER_IDS[name]}, not {number!r}")
        values[name] = str(item["Value"]).strip()
    return values


def _required(values: Outputs, name: str) -> str:
    value = values.get(name, "")
    if not value:
        raise _bad(f"parameter {name} is required")
    return value


def _bad(text: str) -> ScriptFailed:
    return ScriptFailed(f"Automation script {contract.SCRIPT_NAME} refused its parameters: {text}.")
