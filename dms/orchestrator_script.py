"""The orchestrator Automation script that ships with dm-upgrade, and how an operator installs it.

The script (``dms/data/DMUpgrade_Orchestrator.xml``, C# inside DataMiner's Automation script XML) implements
``dms.script_contract`` version 2: ``inventory`` and ``verify`` look at the package folder, ``upgrade`` starts
``SLTaskbarUtility.exe -upgrade <package> UpgradeInfo.xml`` for every agent (IsCluster true, FailoverPolicy
Simultaneously; dataminer-docs: dataminer/DataMiner_Tools/DataMiner_Taskbar_Utility/
Taskbar_Utility_command_line_options.md) in a process that records the utility's exit code, ``status``
reports a job and ``selftest`` proves an installation without upgrading.

It has NOT been run on a real DMA by this project's CI. CI compiles the C# with mono against a stub of the
documented Automation API and runs every action with a fake SLTaskbarUtility (tests/dms/
test_orchestrator_csharp.py); what only a DMA can show (the utility's account, its saved credentials,
whether the runner outlives SLAutomation) is what ``selftest`` on a lab DMA is for. The UpgradeInfo.xml the
script writes depends on the agents, so it is checked by running the script, not read from here.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path

from dms import script_contract as contract

SCRIPT_FILE = f"{contract.SCRIPT_NAME}.xml"
INSTALL_FILE = "INSTALL.md"
_NS = {"a": "http://www.skyline.be/automation"}
_DOCS = "dataminer-docs"


def script_xml() -> str:
    """The script as DataMiner imports it."""
    return resources.files("dms").joinpath("data", SCRIPT_FILE).read_text(encoding="utf-8")


def _exe() -> ET.Element:
    exe = ET.fromstring(script_xml().encode()).find("a:Script/a:Exe", _NS)
    if exe is None:
        raise ValueError(f"{SCRIPT_FILE} holds no C# block (Script/Exe)")
    return exe


def csharp_code() -> str:
    """The C# code block of the script, exactly as DataMiner compiles it."""
    value = _exe().find("a:Value", _NS)
    if value is None or not value.text:
        raise ValueError(f"{SCRIPT_FILE} holds no C# code (Script/Exe/Value)")
    return value.text


def assembly_references() -> list[str]:
    """The DLLs the C# block references beyond DataMiner's defaults (``<Param type="ref">``)."""
    return [(param.text or "").strip() for param in _exe().findall("a:Param", _NS)
            if param.get("type") == "ref" and (param.text or "").strip()]


def declared_parameters() -> dict[str, int]:
    """The script's parameters as its XML declares them: name (Description) -> ParameterId."""
    root = ET.fromstring(script_xml().encode())
    return {(param.findtext("a:Description", namespaces=_NS) or ""): int(param.get("id", "0"))
            for param in root.findall("a:Parameters/a:ScriptParameter", _NS)}


def install_steps(*, package_folder: str = contract.DEFAULT_PACKAGE_FOLDER) -> str:
    parameters = "\n".join(f"   - {pid} `{name}`" for name, pid in contract.PARAMETER_IDS.items())
    locations = "\n".join(f"   - `{location}`" for location in contract.TASKBAR_UTILITY_LOCATIONS)
    return f"""# Installing the dm-upgrade orchestrator script (contract {contract.CONTRACT_VERSION})

NOT RUN ON A REAL DMA by dm-upgrade's CI: CI compiles its C# with mono against a stub of the documented
Automation API and runs every action with a fake SLTaskbarUtility. What only a DMA can show is what step 7,
`selftest`, checks. Do every step on a lab DMS first.

1. Import the script. In DataMiner Cube, open Apps > Automation, create the folder
   `{contract.SCRIPT_FOLDER}` and import `{SCRIPT_FILE}` into it. Name and folder must stay exactly
   as they are: the bot calls them, and it refuses a script whose answers do not carry
   `ContractVersion` {contract.CONTRACT_VERSION}.
2. Check its parameters (ParameterId and name), which the bot passes as strings:
{parameters}
3. Create the package folder on the DMA that runs the script: `{package_folder}` (the bot's
   DMS_PACKAGE_FOLDER; every call passes it as `PackageFolder`). Put there every file the plan lists, named
   exactly as the plan shows. The script keeps its job records, UpgradeInfo.xml files and runner files in its
   `jobs` subfolder, so the account of step 5 must be able to write there.
4. The DataMiner Taskbar Utility must be on that DMA. The script looks for `SLTaskbarUtility.exe` at the two
   locations the docs give, in this order (Taskbar_Utility_command_line_options.md says Program Files (x86),
   Accessing_the_DataMiner_Taskbar_Utility.md says Program Files; {_DOCS}: dataminer/DataMiner_Tools/
   DataMiner_Taskbar_Utility/):
{locations}
   If it is elsewhere, give its full path to the bot (DMS_TASKBAR_UTILITY_PATH; the script's
   `TaskbarUtilityPath`).
5. Save the slnet credentials for the account that runs the utility. The script starts the utility from the
   DataMiner Automation process (SLAutomation), so the utility runs under SLAutomation's Windows account (on a
   standard installation the account the DataMiner services run as), not under the account you log on with.
   The Taskbar Utility upgrade page asks, before upgrading a whole DMS, to right-click the utility > Options >
   slnet, enter the credentials of a DMS administrator and click Test & Save Connection ({_DOCS}:
   dataminer/Administrator_guide/DataMiner_Agents/Upgrading_a_DMA/
   Upgrading_a_DataMiner_Agent_using_DataMiner_Taskbar_Utility.md). Those credentials must be saved in THAT
   account's profile. We could not verify where the utility reads them from: `selftest` prints the account
   (`Account`); make sure the credentials are saved for it, and run one upgrade on the lab DMS.
6. The bot's DMS account needs the user permission Modules > Automation > Execute; before DataMiner 10.3.0
   CU13/10.4.0 CU1/10.4.4 also Modules > Automation > UI Available ({_DOCS}: develop/webservices/WS_v1/
   WS_Methods_v1/ExecuteAutomationScriptWithOutput.md; dataminer/Administrator_guide/Security/
   DataMiner_user_permissions.md).
7. Run `dm-upgrade script selftest` against the lab DMS. It runs the script's `selftest` action: the utility's
   `-help` started exactly as an upgrade starts the utility (same path search, same process, same account),
   the package folder listed and written, the DMS's agents read. Fix every line marked FAIL and run it again.

What the script does not do: Upload only. The command line has no such option; it exists only in Cube's
System Center and the Update Center (Upgrading_a_DataMiner_Agent_in_System_Center.md,
Upgrading_a_DataMiner_Agent_in_the_Update_Center.md), so uploading the package the day before is a person's
step there. `verify` only checks that the file is in the folder and, for a .dmupgrade, that it is a
zip holding Update.zip; DataMiner runs the package's prerequisite checks when the upgrade starts, and the
utility's exit code reports them.

While the cluster upgrades, the agent that runs the script may not answer at all: before DataMiner
10.6.6/10.7.0 the orchestrating agent "can only be accessed after all Agents in the cluster have been
upgraded" (Upgrading_a_DataMiner_Agent_using_DataMiner_Taskbar_Utility.md). The bot expects that.
"""


def export(directory: Path, *, package_folder: str = contract.DEFAULT_PACKAGE_FOLDER) -> list[Path]:
    """Write the script and its install steps into ``directory``; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / SCRIPT_FILE
    script.write_text(script_xml(), encoding="utf-8")
    steps = directory / INSTALL_FILE
    steps.write_text(install_steps(package_folder=package_folder), encoding="utf-8")
    return [script, steps]
