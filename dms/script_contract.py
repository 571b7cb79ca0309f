"""The contract between dm-upgrade and the Automation script an operator installs on the DMS.

The Web Services API has no upgrade method, so the bot asks an Automation script to do what a person
would do in Cube (System Center > Agents > Manage > Upgrade). The simulator implements the same script,
and the README documents it for operators. Parameters are strings, as Automation script parameters are.

``ExecuteAutomationScript`` is called with ``scriptOptions.WaitForScript`` true:

* ``Action=upload``: upload the package to every agent ("Upload only") and run its prerequisite checks.
  A failing check makes the script exit with failure; the API then answers with an error whose message
  starts with ``PREREQUISITE_FAILED_PREFIX``.
* ``Action=upgrade``: start the upgrade of the agents with the failover policy. The script returns once
  the agents have begun (they are stopping); the bot then watches each agent's status and version.
"""

from __future__ import annotations

SCRIPT_NAME = "DMUpgrade_Orchestrator"
SCRIPT_FOLDER = "dm-upgrade"

PARAM_ACTION = "Action"
PARAM_PACKAGE = "Package"
PARAM_AGENTS = "Agents"
PARAM_FAILOVER_POLICY = "FailoverPolicy"
PARAM_UPLOAD_ONLY = "UploadOnly"

# ParameterId values, as the script's XML declares them.
PARAMETER_IDS = {
    PARAM_ACTION: 1,
    PARAM_PACKAGE: 2,
    PARAM_AGENTS: 3,
    PARAM_FAILOVER_POLICY: 4,
    PARAM_UPLOAD_ONLY: 5,
}

ACTION_UPLOAD = "upload"
ACTION_UPGRADE = "upgrade"
AGENTS_ALL = "all"
FAILOVER_SIMULTANEOUSLY = "Simultaneously"

PREREQUISITE_FAILED_PREFIX = "Prerequisite check failed:"
