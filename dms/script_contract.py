"""The contract between dm-upgrade and the Automation script an operator installs on the DMS.

The Web Services API has no upgrade method, so the bot asks an Automation script to do the work. The script
ships with dm-upgrade (``dms/data/DMUpgrade_Orchestrator.xml``, exported by ``dm-upgrade script export``);
the simulator implements the same contract. Parameters are strings, as Automation script parameters are.

Long work never holds one HTTP call open (an upload with its prerequisite checks takes minutes;
VerifyClusterPorts alone about 5). ``ExecuteAutomationScript`` has ``scriptOptions.WaitForScript``
(WS_Methods_v1/ExecuteAutomationScript.md): ``upload`` and ``upgrade`` are started with it false, which
answers at once with the instance id, and carry a ``Job`` id the bot chooses. The bot then follows the job
with short ``status`` calls through ``ExecuteAutomationScriptWithOutput`` (WS_Methods_v1/
ExecuteAutomationScriptWithOutput.md), which return the script's outputs: ``State`` and ``Message``. The
Web Services API documents no method to ask about a running script instance, so the script reports its own
progress (it keeps one status file per job on the DMA).

* ``Action=upload``: check the package file in ``PackageFolder`` and the agents, then run the prerequisite
  checks; a failing check ends the job ``failed`` with a message starting with ``PREREQUISITE_FAILED_PREFIX``.
* ``Action=upgrade``: start the upgrade of all agents with ``SLTaskbarUtility.exe -upgrade <package>
  UpgradeInfo.xml`` (``IsCluster`` true, ``FailoverPolicy`` Simultaneously); the job becomes ``started``
  once the agents begin; the bot then watches each agent's status and version.
* ``Action=status``: outputs ``State`` (``running``, ``started``, ``succeeded``, ``failed``) and ``Message``.
* ``Action=inventory``: outputs ``Files``, the package files in ``PackageFolder`` separated by ``|``.
"""

from __future__ import annotations

SCRIPT_NAME = "DMUpgrade_Orchestrator"
SCRIPT_FOLDER = "dm-upgrade"

PARAM_ACTION = "Action"
PARAM_PACKAGE = "Package"
PARAM_AGENTS = "Agents"
PARAM_FAILOVER_POLICY = "FailoverPolicy"
PARAM_UPLOAD_ONLY = "UploadOnly"
PARAM_PACKAGE_FOLDER = "PackageFolder"
PARAM_JOB = "Job"

# ParameterId values, as the script's XML declares them.
PARAMETER_IDS = {
    PARAM_ACTION: 1,
    PARAM_PACKAGE: 2,
    PARAM_AGENTS: 3,
    PARAM_FAILOVER_POLICY: 4,
    PARAM_UPLOAD_ONLY: 5,
    PARAM_PACKAGE_FOLDER: 6,
    PARAM_JOB: 7,
}

ACTION_UPLOAD = "upload"
ACTION_UPGRADE = "upgrade"
ACTION_STATUS = "status"
ACTION_INVENTORY = "inventory"
ACTIONS = (ACTION_UPLOAD, ACTION_UPGRADE, ACTION_STATUS, ACTION_INVENTORY)
AGENTS_ALL = "all"
FAILOVER_SIMULTANEOUSLY = "Simultaneously"

OUTPUT_STATE = "State"
OUTPUT_MESSAGE = "Message"
OUTPUT_FILES = "Files"
FILES_SEPARATOR = "|"

STATE_RUNNING = "running"
STATE_STARTED = "started"  # the upgrade is handed to SLTaskbarUtility; the agents are going down
STATE_SUCCEEDED = "succeeded"
STATE_FAILED = "failed"
FINAL_STATES = frozenset({STATE_STARTED, STATE_SUCCEEDED, STATE_FAILED})

PREREQUISITE_FAILED_PREFIX = "Prerequisite check failed:"

# Where the script keeps its job files and UpgradeInfo.xml on the DMA (the DataMiner Documents folder).
DEFAULT_PACKAGE_FOLDER = r"C:\Skyline DataMiner\Documents\DMUpgrade"
