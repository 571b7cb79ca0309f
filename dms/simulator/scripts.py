"""The upgrade Automation script of ``dms.script_contract``, as the simulated DMS runs it.

Parameters (strings, matched by ``Name``, or by ``ParameterId`` when the name is absent):

* ``Action``: ``upload`` or ``upgrade`` (required).
* ``Package``: a package file name (required). Naming rule: the target version is the LAST substring that
  reads as a version, ``\\d+.\\d+.\\d+`` optionally followed by `` CUn`` or `` [CUn]`` (then parsed by
  ``dms.versions``): "DataMiner 10.0.0 CU19.dmupgrade" -> 10.0.0 CU19, "DataMiner 10.5.12.dmupgrade" ->
  10.5.12. A name holding no version ("VerifyClusterPorts.dmupgrade") is a helper package: it runs for
  ``helper_minutes`` and completes without a restart or a version change.
* ``Agents``: ``all`` (default) or a comma-separated list of agent ids.
* ``FailoverPolicy``: ``Simultaneously`` (default; both agents of a pair upgrade at once), ``UseDefault``,
  ``BackupFirst`` or ``BackupFirstWithSwitchback`` (the backup first, its main once the backup runs again).
* ``UploadOnly``: ``true``/``false``; must agree with ``Action`` when given.

``upload`` waits ``upload_minutes`` (simulated), then runs the prerequisite checks; a failure answers an error
starting with ``PREREQUISITE_FAILED_PREFIX`` and the package is not kept. ``upgrade`` refuses a package that
was not uploaded, a downgrade, or agents that are not all Running; otherwise it returns as soon as the agents
begin to stop (the caller then watches them). With ``WaitForScript`` false the upload runs in the background.
"""

from __future__ import annotations

import asyncio
import re
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
    package = _required(values, contract.PARAM_PACKAGE)
    agent_ids = _agents(cluster, values.get(contract.PARAM_AGENTS, contract.AGENTS_ALL))
    policy = values.get(contract.PARAM_FAILOVER_POLICY, contract.FAILOVER_SIMULTANEOUSLY)
    if policy not in _POLICIES:
        raise _bad(f"{contract.PARAM_FAILOVER_POLICY} {policy!r} is not one of {', '.join(_POLICIES)}")
    upload_only = values.get(contract.PARAM_UPLOAD_ONLY)
    if upload_only is not None and upload_only.lower() not in ("true", "false"):
        raise _bad(f"{contract.PARAM_UPLOAD_ONLY} must be true or false, got {upload_only!r}")
    if action not in (contract.ACTION_UPLOAD, contract.ACTION_UPGRADE):
        raise _bad(f"{contract.PARAM_ACTION} must be {contract.ACTION_UPLOAD} or {contract.ACTION_UPGRADE}, "
                   f"got {action!r}")
    if upload_only is not None and (upload_only.lower() == "true") != (action == contract.ACTION_UPLOAD):
        raise _bad(f"{contract.PARAM_UPLOAD_ONLY}={upload_only} contradicts {contract.PARAM_ACTION}={action}")
    target = package_version(package)
    instance = cluster.next_instance()
    if action == contract.ACTION_UPLOAD:
        _refuse_downgrade(cluster, target, agent_ids)
        cluster.require_running(agent_ids, doing=f"upload {package}")
        cluster.uploads[str(target) if target else package] += 1
        job = _upload(cluster, package, agent_ids)
        if wait:
            await job
        else:
            task = asyncio.create_task(job)
            cluster.background.add(task)  # referenced, so it is not collected; cancelled on stop
            task.add_done_callback(cluster.background.discard)
        return instance
    if package not in cluster.uploaded:
        raise ScriptFailed(f"Automation script failed: package {package!r} was not uploaded to the agents; "
                           f"run {contract.PARAM_ACTION}={contract.ACTION_UPLOAD} first.")
    _refuse_downgrade(cluster, target, agent_ids)
    cluster.require_running(agent_ids, doing=f"upgrade to {package}")
    if target is None:
        cluster.upgrades_triggered[package] += 1
        await cluster.clock.sleep(60.0 * cluster.config.helper_minutes)  # a helper finishes before answering
        return instance
    cluster.start_upgrade(target, agent_ids, backup_first=policy != contract.FAILOVER_SIMULTANEOUSLY)
    return instance


async def _upload(cluster: SimCluster, package: str, agent_ids: list[int]) -> None:
    await cluster.clock.sleep(60.0 * cluster.config.upload_minutes)
    cluster.check_prerequisites(package, agent_ids)


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
