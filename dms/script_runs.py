"""The bot's side of the orchestrator script's actions (``dms.script_contract``): each one short call.

Every action goes through ``ExecuteAutomationScriptWithOutput`` (WS_Methods_v1/
ExecuteAutomationScriptWithOutput.md), which waits for the script and returns its outputs. None holds a
connection for long: ``upgrade`` returns once the job is recorded and the utility's waiting process started,
and the upgrade itself is followed through short ``status`` calls. Because the script starts nothing for a
``Job`` it already knows, a call retried after a timeout, or repeated after the bot restarted, never starts
a second upgrade: the job id is the idempotency key, derived from the plan and hop (``job_id``) so a
restarted bot asks about the same job instead of starting another.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from dms import script_contract as contract
from dms.client import DmsClient
from dms.exceptions import DmsProtocolError, DmsScriptError
from dms.models import AgentInfo

log = logging.getLogger(__name__)

_METHOD = "ExecuteAutomationScriptWithOutput"
MESSAGE_LIMIT = 300  # a script message is DMS text: shown cut, and escaped where it is shown


@dataclass(frozen=True)
class JobStatus:
    state: str  # one of contract.STATES
    exit_code: int | None = None  # SLTaskbarUtility's return code, once the job finished
    message: str = ""

    @property
    def finished(self) -> bool:
        return self.state == contract.STATE_FINISHED

    def describe(self) -> str:
        if self.finished:
            return f"SLTaskbarUtility exited with code {self.exit_code}"
        return self.state + (f": {self.message}" if self.message else "")


@dataclass(frozen=True)
class SelfTest:
    checks: dict[str, str]  # check name -> "pass: ..." / "fail: ... Fix: ..."
    account: str
    passed: bool


def job_id(*, plan_id: int, plan_created: str, hop_index: int) -> str:
    """The job of one hop of one plan: the same after a restart, distinct across plans and databases."""
    seed = f"dm-upgrade:{plan_id}:{plan_created}:{hop_index}".encode()
    return hashlib.sha256(seed).hexdigest()[:32]


def agents_of(infos: list[AgentInfo]) -> list[tuple[int, str]]:
    """Every agent's ID and address as ``GetDataMinerAgentsInfo`` reported them; an agent without an
    address cannot be listed in UpgradeInfo.xml, so the upgrade is refused rather than run partly."""
    missing = [info.label for info in infos if not info.primary_ip.strip()]
    if missing:
        raise DmsProtocolError(f"GetDataMinerAgentsInfo gave no PrimaryIP for {', '.join(missing)[:200]}: "
                               "the upgrade must list every agent", method="GetDataMinerAgentsInfo")
    return sorted({(info.id, info.primary_ip.strip()) for info in infos})


async def _action(client: DmsClient, parameters: dict[str, str]) -> dict[str, str]:
    # Every declared parameter, empty when unused: whether DataMiner accepts a declared parameter left out
    # of ExecuteAutomationScriptWithOutput is not documented; an empty one the script reads as absent.
    every = {name: "" for name in contract.PARAMETER_IDS} | parameters
    outputs = await client.script_output(contract.SCRIPT_NAME, contract.SCRIPT_FOLDER, every)
    version = outputs.get(contract.OUTPUT_CONTRACT_VERSION, "")
    if version != contract.CONTRACT_VERSION:
        raise DmsProtocolError(
            f"the installed {contract.SCRIPT_NAME} script speaks contract {version[:10] or 'unknown'!r}, "
            f"this bot needs {contract.CONTRACT_VERSION}: import the script that `dm-upgrade script export` "
            "writes",
            method=_METHOD)
    return outputs


def _message(outputs: dict[str, str]) -> str:
    return " ".join(outputs.get(contract.OUTPUT_MESSAGE, "").split())[:MESSAGE_LIMIT]


def _status(outputs: dict[str, str]) -> JobStatus:
    state = outputs.get(contract.OUTPUT_STATE, "").strip().lower()
    if state not in contract.STATES:
        raise DmsProtocolError(f"the script reported an unknown State {state[:40]!r}", method=_METHOD)
    code: int | None = None
    if state == contract.STATE_FINISHED:
        raw = outputs.get(contract.OUTPUT_EXIT_CODE, "").strip()
        try:
            code = int(raw)
        except ValueError:
            raise DmsProtocolError(f"the script reported a finished job without an exit code ({raw[:20]!r})",
                                   method=_METHOD) from None
    return JobStatus(state=state, exit_code=code, message=_message(outputs))


async def inventory(
    client: DmsClient, *, package_folder: str, expected: list[str] | None = None
) -> list[str]:
    """The package files in the folder. ``expected`` goes along as ``Package``: the script ignores it; the
    simulator, when told no folder contents, takes it as the folder's (every file asked about is there)."""
    parameters = {contract.PARAM_ACTION: contract.ACTION_INVENTORY,
                  contract.PARAM_PACKAGE_FOLDER: package_folder}
    if expected:
        parameters[contract.PARAM_PACKAGE] = contract.FILES_SEPARATOR.join(expected)
    outputs = await _action(client, parameters)
    files = outputs.get(contract.OUTPUT_FILES, "")
    return [name.strip() for name in files.split(contract.FILES_SEPARATOR) if name.strip()]


async def verify_package(client: DmsClient, *, package: str, package_folder: str) -> tuple[bool, str]:
    """Is the file there and readable (a ``.dmupgrade`` holding Update.zip)? Nothing is uploaded."""
    outputs = await _action(client, {contract.PARAM_ACTION: contract.ACTION_VERIFY,
                                     contract.PARAM_PACKAGE: package,
                                     contract.PARAM_PACKAGE_FOLDER: package_folder})
    result = outputs.get(contract.OUTPUT_RESULT, "").strip().lower()
    if result not in (contract.RESULT_PASS, contract.RESULT_FAIL):
        raise DmsProtocolError(f"the script reported an unknown Result {result[:40]!r}", method=_METHOD)
    return result == contract.RESULT_PASS, _message(outputs)


async def start_upgrade(
    client: DmsClient, *, job: str, package: str, agents: list[tuple[int, str]], package_folder: str,
    utility_path: str = "",
) -> JobStatus:
    """Ask the script to start ``SLTaskbarUtility -upgrade`` for every agent; a refusal (before anything
    started) raises ``DmsScriptError`` with the script's reason."""
    parameters = {
        contract.PARAM_ACTION: contract.ACTION_UPGRADE,
        contract.PARAM_PACKAGE: package,
        contract.PARAM_AGENTS: contract.agents_parameter(agents),
        contract.PARAM_FAILOVER_POLICY: contract.FAILOVER_SIMULTANEOUSLY,
        contract.PARAM_PACKAGE_FOLDER: package_folder,
        contract.PARAM_JOB: job,
    }
    if utility_path:
        parameters[contract.PARAM_TASKBAR_UTILITY_PATH] = utility_path
    status = _status(await _action(client, parameters))
    log.info("orchestrator upgrade job %s for %s: %s", job, package, status.describe())
    if status.state == contract.STATE_FAILED:
        raise DmsScriptError(status.message or "the script refused to start the upgrade", method=_METHOD)
    return status


async def job_status(client: DmsClient, *, job: str, package_folder: str) -> JobStatus:
    return _status(await _action(client, {contract.PARAM_ACTION: contract.ACTION_STATUS,
                                          contract.PARAM_JOB: job,
                                          contract.PARAM_PACKAGE_FOLDER: package_folder}))


async def selftest(
    client: DmsClient, *, package_folder: str, utility_path: str = "",
    agents: list[tuple[int, str]] | None = None,
) -> SelfTest:
    parameters = {contract.PARAM_ACTION: contract.ACTION_SELFTEST,
                  contract.PARAM_PACKAGE_FOLDER: package_folder}
    if utility_path:
        parameters[contract.PARAM_TASKBAR_UTILITY_PATH] = utility_path
    if agents:
        parameters[contract.PARAM_AGENTS] = contract.agents_parameter(agents)
    outputs = await _action(client, parameters)
    checks = {key.removeprefix(contract.OUTPUT_CHECK_PREFIX): " ".join(value.split())[:MESSAGE_LIMIT]
              for key, value in outputs.items() if key.startswith(contract.OUTPUT_CHECK_PREFIX)}
    passed = outputs.get(contract.OUTPUT_RESULT, "").strip().lower() == contract.RESULT_PASS
    return SelfTest(checks=checks, account=outputs.get(contract.OUTPUT_ACCOUNT, "")[:100],
                    passed=passed and all(value.startswith("pass") for value in checks.values()))
