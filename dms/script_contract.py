"""The contract between dm-upgrade and the Automation script an operator installs on the DMS.

The Web Services API has no upgrade method, so the bot asks an Automation script to start the one
documented command-line upgrade (dataminer-docs: dataminer/DataMiner_Tools/DataMiner_Taskbar_Utility/
Taskbar_Utility_command_line_options.md): ``start /wait SLTaskbarUtility.exe -upgrade <package>
UpgradeInfo.xml``, where "start /wait" is there "to await the return code of the command". The script ships
with dm-upgrade (``dms/data/DMUpgrade_Orchestrator.xml``, exported by ``dm-upgrade script export``); the
simulator implements the same contract, no more. Parameters are strings, as Automation script parameters are.

What the script can NOT do: *Upload only*. It exists only in Cube's System Center and the Update Center
(Upgrading_a_DataMiner_Agent_in_System_Center.md); the command line has none. So the day-before Upload only
is a person's step, and at execution the package's prerequisite checks are the ones DataMiner runs when the
upgrade starts ("if the prerequisite checks detect that this is not the case, the upgrade will be
canceled", Preparing_to_upgrade_a_DataMiner_Agent.md): the utility's exit code reports them.

Actions (every answer carries ``ContractVersion``, so a bot never drives an older installed script):

* ``inventory`` (``PackageFolder``): outputs ``Files``, the package files in the folder separated by ``|``.
* ``verify`` (``Package``, ``PackageFolder``): is the file in the folder, and is a ``.dmupgrade`` a readable
  zip holding ``Update.zip``? Outputs ``Result`` (``pass``/``fail``) and ``Message``. It uploads nothing and
  runs no prerequisite check.
* ``upgrade`` (``Package``, ``Agents``, ``FailoverPolicy``, ``PackageFolder``, ``Job``,
  ``TaskbarUtilityPath``): ``Agents`` lists every agent as ``ID=address`` separated by ``;``, as the bot read
  them from ``GetDataMinerAgentsInfo``. The script refuses when those IDs differ from the agents the DMS
  reports to it (a partial upgrade is a rolling upgrade, which the docs call unsupported), writes
  UpgradeInfo.xml with every address, ``IsCluster`` true and ``FailoverPolicy`` Simultaneously, records the
  job as ``running`` and starts, in a process that outlives the script, the utility as ``start /wait`` would;
  that process records the exit code in the job. The job record exists before the call returns, so the
  script is run waiting (``ExecuteAutomationScriptWithOutput``) and answers ``State`` at once. The same
  ``Job`` twice starts nothing the second time: it answers the job's state.
* ``status`` (``Job``, ``PackageFolder``): ``State`` is ``running``, ``finished`` (with ``ExitCode``),
  ``failed`` (refused before the utility started; ``Message`` says why) or ``missing`` (no such job in that
  folder). While the cluster upgrades, the orchestrating agent may not answer at all (before DataMiner
  10.6.6/10.7.0): that is expected, not a failure.
* ``selftest`` (``PackageFolder``, ``TaskbarUtilityPath``, ``Agents``): on a lab DMA, starts the utility's
  ``-help`` exactly the way an upgrade would (same process, same account, same path search), lists the
  package folder and reads the agents; outputs one ``Check.<name>`` per check (``pass: …`` or
  ``fail: … Fix: …``), ``Account`` and ``Result``.
"""

from __future__ import annotations

SCRIPT_NAME = "DMUpgrade_Orchestrator"
SCRIPT_FOLDER = "dm-upgrade"
CONTRACT_VERSION = "2"

PARAM_ACTION = "Action"
PARAM_PACKAGE = "Package"
PARAM_AGENTS = "Agents"
PARAM_FAILOVER_POLICY = "FailoverPolicy"
PARAM_PACKAGE_FOLDER = "PackageFolder"
PARAM_JOB = "Job"
PARAM_TASKBAR_UTILITY_PATH = "TaskbarUtilityPath"

# ParameterId values, as the script's XML declares them.
PARAMETER_IDS = {
    PARAM_ACTION: 1,
    PARAM_PACKAGE: 2,
    PARAM_AGENTS: 3,
    PARAM_FAILOVER_POLICY: 4,
    PARAM_PACKAGE_FOLDER: 5,
    PARAM_JOB: 6,
    PARAM_TASKBAR_UTILITY_PATH: 7,
}

ACTION_INVENTORY = "inventory"
ACTION_VERIFY = "verify"
ACTION_UPGRADE = "upgrade"
ACTION_STATUS = "status"
ACTION_SELFTEST = "selftest"
ACTIONS = (ACTION_INVENTORY, ACTION_VERIFY, ACTION_UPGRADE, ACTION_STATUS, ACTION_SELFTEST)
FAILOVER_SIMULTANEOUSLY = "Simultaneously"
AGENT_SEPARATOR = ";"
AGENT_ID_SEPARATOR = "="

OUTPUT_CONTRACT_VERSION = "ContractVersion"
OUTPUT_STATE = "State"
OUTPUT_MESSAGE = "Message"
OUTPUT_EXIT_CODE = "ExitCode"
OUTPUT_FILES = "Files"
OUTPUT_RESULT = "Result"
OUTPUT_ACCOUNT = "Account"
OUTPUT_CHECK_PREFIX = "Check."
FILES_SEPARATOR = "|"

STATE_RUNNING = "running"
STATE_FINISHED = "finished"
STATE_FAILED = "failed"
STATE_MISSING = "missing"
STATES = frozenset({STATE_RUNNING, STATE_FINISHED, STATE_FAILED, STATE_MISSING})

RESULT_PASS = "pass"
RESULT_FAIL = "fail"

# Where the script keeps its job files and UpgradeInfo.xml on the DMA (the DataMiner Documents folder).
DEFAULT_PACKAGE_FOLDER = r"C:\Skyline DataMiner\Documents\DMUpgrade"
# The two install folders the docs give (Taskbar_Utility_command_line_options.md says Program Files (x86),
# Accessing_the_DataMiner_Taskbar_Utility.md says Program Files); the script tries them in this order.
TASKBAR_UTILITY_LOCATIONS = (
    r"C:\Program Files (x86)\Skyline Communications\Skyline Taskbar Utility\SLTaskbarUtility.exe",
    r"C:\Program Files\Skyline Communications\Skyline Taskbar Utility\SLTaskbarUtility.exe",
)


def agents_parameter(agents: list[tuple[int, str]]) -> str:
    """``ID=address;ID=address`` for the ``Agents`` parameter, in ID order."""
    return AGENT_SEPARATOR.join(f"{agent_id}{AGENT_ID_SEPARATOR}{address}" for agent_id, address in
                                sorted(agents))


def parse_agents_parameter(text: str) -> list[tuple[int, str]]:
    """The inverse of ``agents_parameter``; ``ValueError`` naming what is wrong."""
    agents: list[tuple[int, str]] = []
    for part in text.split(AGENT_SEPARATOR):
        if not part.strip():
            continue
        raw_id, sep, address = part.partition(AGENT_ID_SEPARATOR)
        if not sep or not raw_id.strip().isdigit() or not address.strip():
            raise ValueError(f"{PARAM_AGENTS} entry {part.strip()[:60]!r} is not ID=address")
        agents.append((int(raw_id), address.strip()))
    if not agents:
        raise ValueError(f"{PARAM_AGENTS} lists no agent")
    ids = [agent_id for agent_id, _ in agents]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{PARAM_AGENTS} names an agent twice")
    return agents
