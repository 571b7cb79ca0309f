"""The upgrade Automation script of ``dms.script_contract``, as the simulated DMS runs it.

Parameters (strings, matched by ``Name``, or by ``ParameterId`` when the name is absent):

* ``Action``: ``upload``, ``upgrade``, ``status`` or ``inventory`` (required).
* ``Package``: a package file name (required). Naming rule: the target version is the LAST substring that
  reads as a version, ``\\d+.\\d+.\\d+`` optionally followed by `` CUn`` or `` [CUn]`` (then parsed by
  ``dms.versions``): "DataMiner 10.0.0 CU19.dmupgrade" -> 10.0.0 CU19, "DataMiner 10.5.12.dmupgrade" ->
  10.5.12. A name holding no version ("VerifyClusterPorts.dmupgrade") is a helper package: it runs for
  ``helper_minutes`` and completes without a restart or a version change.
* ``Agents``: ``all`` (default) or a comma-separated list of agent ids.
* ``FailoverPolicy``: ``Simultaneously`` (default; both agents of a pair upgrade at once), ``UseDefault``,
  ``BackupFirst`` or ``BackupFirstWithSwitchback`` (the backup first, its main once the backup runs again).
* ``UploadOnly``: ``true``/``false``; must agree with ``Action`` when given.
* ``PackageFolder``: where the package files are; ``Job``: the bot's id for the job (``status`` reads it).

``upload`` waits ``upload_minutes`` (simulated), then runs the prerequisite checks; a failure answers an error
starting with ``PREREQUISITE_FAILED_PREFIX`` and the package is not kept. ``upgrade`` refuses a package that
was not uploaded, a downgrade, or agents that are not all Running; otherwise it returns as soon as the agents
begin to stop (the caller then watches them). With ``WaitForScript`` false the work runs in the background
and ``status`` reports it (``State``/``Message`` outputs of ``ExecuteAutomationScriptWithOutput``).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable
from typing import Any

from dms import script_contract as contract
from dms.exceptions import VersionError
from dms.simulator.cluster import SimCluster
from dms.simulator.errors import BadRequest, ScriptFailed
from dms.versions import Version, parse_version

_VERSION_IN_NAME = re.compile(r"\d+\.\d+\.\d+(?:\s*\[?\s*CU\s*\d+\s*\]?)?", re.IGNORECASE)
_POLICIES = ("Simultaneously", "UseDefault", "BackupFirst", "BackupFirstWithSwitchback")
_NAMES_BY_ID = {number: name for name, number in contract.PARAMETER_IDS.items()}


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
        "Description": "dm-upgrade: upload a DataMiner package and upgrade the agents (Cube's Upgrade).",
        "Parameters": [
            {"ParameterId": number, "Name": name} for name, number in contract.PARAMETER_IDS.items()
        ],
    }]


async def execute(cluster: SimCluster, *, script: object, options: object) -> int:
    """Run ``ExecuteAutomationScript``; returns the script instance id or raises an ``AsmxFault``."""
    instance, _ = await _run(cluster, script=script, options=options)
    return instance


async def execute_with_output(cluster: SimCluster, *, script: object, options: object) -> dict[str, Any]:
    """``ExecuteAutomationScriptWithOutput``: the instance id and the script's key/value outputs.

    The docs name no JSON fields for DMAAutomationOutputValue; the simulator uses ``Key``/``Value``.
    """
    instance, outputs = await _run(cluster, script=script, options=options)
    return {"ID": instance, "Output": [{"Key": key, "Value": value} for key, value in outputs.items()]}


async def _run(cluster: SimCluster, *, script: object, options: object) -> tuple[int, dict[str, str]]:
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
    instance = cluster.next_instance()
    if action == contract.ACTION_STATUS:
        state, message = cluster.jobs.get(_required(values, contract.PARAM_JOB),
                                          (contract.STATE_FAILED, "no such job"))
        return instance, {contract.OUTPUT_STATE: state, contract.OUTPUT_MESSAGE: message}
    if action == contract.ACTION_INVENTORY:
        return instance, {contract.OUTPUT_FILES: contract.FILES_SEPARATOR.join(_inventory(cluster, values))}
    work = _prepare(cluster, action, values)
    job = values.get(contract.PARAM_JOB) or str(instance)
    if wait:
        cluster.jobs[job] = (await work, "")
        return instance, {}
    cluster.jobs[job] = (contract.STATE_RUNNING, "")
    task = asyncio.create_task(_follow(cluster, job, work))
    cluster.background.add(task)  # referenced, so it is not collected; cancelled on stop
    task.add_done_callback(cluster.background.discard)
    return instance, {}


async def _follow(cluster: SimCluster, job: str, work: Awaitable[str]) -> None:
    """A job started without waiting: its outcome goes where ``Action=status`` reads it."""
    try:
        cluster.jobs[job] = (await work, "")
    except ScriptFailed as failed:
        cluster.jobs[job] = (contract.STATE_FAILED, failed.message)


def _inventory(cluster: SimCluster, values: dict[str, str]) -> list[str]:
    """The package folder: ``config.packages`` when given, else every file asked about is there."""
    if cluster.config.packages is not None:
        return list(cluster.config.packages)
    asked = values.get(contract.PARAM_PACKAGE, "")
    return [part for part in asked.split(contract.FILES_SEPARATOR) if part.strip()]


def _prepare(cluster: SimCluster, action: str, values: dict[str, str]) -> Awaitable[str]:
    """Validate the parameters now (a refusal answers at once); returns the work, not yet started."""
    package = _required(values, contract.PARAM_PACKAGE)
    agent_ids = _agents(cluster, values.get(contract.PARAM_AGENTS, contract.AGENTS_ALL))
    policy = values.get(contract.PARAM_FAILOVER_POLICY, contract.FAILOVER_SIMULTANEOUSLY)
    if policy not in _POLICIES:
        raise _bad(f"{contract.PARAM_FAILOVER_POLICY} {policy!r} is not one of {', '.join(_POLICIES)}")
    upload_only = values.get(contract.PARAM_UPLOAD_ONLY)
    if upload_only is not None and upload_only.lower() not in ("true", "false"):
        raise _bad(f"{contract.PARAM_UPLOAD_ONLY} must be true or false, got {upload_only!r}")
    if action not in (contract.ACTION_UPLOAD, contract.ACTION_UPGRADE):
        raise _bad(f"{contract.PARAM_ACTION} must be one of {', '.join(contract.ACTIONS)}, got {action!r}")
    if upload_only is not None and (upload_only.lower() == "true") != (action == contract.ACTION_UPLOAD):
        raise _bad(f"{contract.PARAM_UPLOAD_ONLY}={upload_only} contradicts {contract.PARAM_ACTION}={action}")
    if cluster.config.packages is not None and package not in cluster.config.packages:
        raise ScriptFailed(f"Automation script failed: package file {package!r} is not in "
                           f"{values.get(contract.PARAM_PACKAGE_FOLDER) or 'the package folder'}.")
    if action == contract.ACTION_UPLOAD:
        return _upload(cluster, package, agent_ids)
    return _upgrade(cluster, package, agent_ids, backup_first=policy != contract.FAILOVER_SIMULTANEOUSLY)


async def _upload(cluster: SimCluster, package: str, agent_ids: list[int]) -> str:
    target = package_version(package)
    _refuse_downgrade(cluster, target, agent_ids)
    cluster.require_running(agent_ids, doing=f"upload {package}")
    cluster.uploads[str(target) if target else package] += 1
    await cluster.clock.sleep(60.0 * cluster.config.upload_minutes)
    cluster.check_prerequisites(package, agent_ids)
    return contract.STATE_SUCCEEDED


async def upload_package(cluster: SimCluster, package: str, agent_ids: list[int]) -> None:
    """Upload only, as Cube does it (``dms.simulator.cube``); ``ScriptFailed`` when a check fails."""
    await _upload(cluster, package, agent_ids)


async def upgrade_package(cluster: SimCluster, package: str, agent_ids: list[int]) -> None:
    """Upgrade, failover pairs simultaneously, as Cube does it (``dms.simulator.cube``)."""
    await _upgrade(cluster, package, agent_ids, backup_first=False)


async def _upgrade(cluster: SimCluster, package: str, agent_ids: list[int], *, backup_first: bool) -> str:
    if package not in cluster.uploaded:
        raise ScriptFailed(f"Automation script failed: package {package!r} was not uploaded to the agents; "
                           f"run {contract.PARAM_ACTION}={contract.ACTION_UPLOAD} first.")
    target = package_version(package)
    _refuse_downgrade(cluster, target, agent_ids)
    cluster.require_running(agent_ids, doing=f"upgrade to {package}")
    if target is None:
        cluster.upgrades_triggered[package] += 1
        await cluster.clock.sleep(60.0 * cluster.config.helper_minutes)  # a helper finishes before answering
        return contract.STATE_SUCCEEDED
    cluster.start_upgrade(target, agent_ids, backup_first=backup_first)
    return contract.STATE_STARTED


def _refuse_downgrade(cluster: SimCluster, target: Version | None, agent_ids: list[int]) -> None:
    if target is None:
        return
    now = cluster.clock.now()
    for agent_id in agent_ids:
        agent = cluster.agent(agent_id)
        current = agent.running_version(now)
        if target < current:
            raise ScriptFailed(f"Automation script failed: {agent.name} runs {current}; a downgrade to "
                               f"{target} is not possible with an upgrade package.")


def _parameters(raw: object) -> dict[str, str]:
    if not isinstance(raw, list):
        raise BadRequest("script.Parameters must be a list of {ParameterId, Name, Value}.")
    values: dict[str, str] = {}
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


def _required(values: dict[str, str], name: str) -> str:
    value = values.get(name, "")
    if not value:
        raise _bad(f"parameter {name} is required")
    return value


def _agents(cluster: SimCluster, text: str) -> list[int]:
    if text.strip().lower() == contract.AGENTS_ALL:
        return sorted(cluster.agents)
    try:
        ids = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        expected = f"{contract.AGENTS_ALL!r} or agent ids"
        raise _bad(f"{contract.PARAM_AGENTS} must be {expected}, got {text!r}") from None
    unknown = [agent_id for agent_id in ids if agent_id not in cluster.agents]
    if not ids or unknown:
        raise _bad(f"{contract.PARAM_AGENTS}: no such agent(s) {unknown or text!r}")
    return ids


def _bad(text: str) -> ScriptFailed:
    return ScriptFailed(f"Automation script {contract.SCRIPT_NAME} refused its parameters: {text}.")
