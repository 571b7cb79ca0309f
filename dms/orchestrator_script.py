"""The orchestrator Automation script that ships with dm-upgrade, and how an operator installs it.

The script (``dms/data/DMUpgrade_Orchestrator.xml``, C# inside DataMiner's Automation script XML) implements
``dms.script_contract``: ``upload`` verifies the package file, ``upgrade`` runs
``SLTaskbarUtility.exe -upgrade <package> UpgradeInfo.xml`` with ``IsCluster`` true and ``FailoverPolicy``
Simultaneously (dataminer-docs: dataminer/DataMiner_Tools/DataMiner_Taskbar_Utility/
Taskbar_Utility_command_line_options.md), ``status`` and ``inventory`` report through script outputs.

It has NOT been run on a real DMA by this project's CI: tests check its XML, its parameters against the
contract and the UpgradeInfo.xml it writes, not its behaviour on DataMiner. Try it on a staging DMS first.
One known gap: the command line has no "Upload only", so ``upload`` can only verify the package file;
DataMiner runs the package's prerequisite checks when the upgrade starts.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from dms import script_contract as contract

SCRIPT_FILE = f"{contract.SCRIPT_NAME}.xml"
INSTALL_FILE = "INSTALL.md"
_TEMPLATE = re.compile(r"// UPGRADEINFO-BEGIN.*?@\"(?P<xml>.*?)\";\s*// UPGRADEINFO-END", re.DOTALL)


def script_xml() -> str:
    """The script as DataMiner imports it."""
    return resources.files("dms").joinpath("data", SCRIPT_FILE).read_text(encoding="utf-8")


def upgrade_info_xml() -> str:
    """The UpgradeInfo.xml the script writes before it calls SLTaskbarUtility (taken from its C# code)."""
    found = _TEMPLATE.search(script_xml())
    if found is None:
        raise ValueError(f"{SCRIPT_FILE} holds no UpgradeInfo.xml template")
    return found["xml"].replace('""', '"')  # a C# verbatim string doubles its quotes


def install_steps(*, package_folder: str = contract.DEFAULT_PACKAGE_FOLDER) -> str:
    return f"""# Installing the dm-upgrade orchestrator script

NOT RUN ON A REAL DMA by dm-upgrade's CI. Install it on a staging DMS first and run one upgrade there.

1. In DataMiner Cube, open Apps > Automation, create the folder `{contract.SCRIPT_FOLDER}` and import
   `{SCRIPT_FILE}` into it (or create a script named `{contract.SCRIPT_NAME}` and paste the C# block).
   The name and folder must stay exactly as they are: the bot calls them.
2. Check its parameters: {", ".join(f"{pid} {name}" for name, pid in contract.PARAMETER_IDS.items())}.
3. Create the package folder on the DMA that runs the script: `{package_folder}` (DMS_PACKAGE_FOLDER).
   Put there every file the plan lists (e.g. `DataMiner 10.5.0 CU2 Full Upgrade.dmupgrade`,
   `VerifyClusterPorts.dmupgrade`), renamed to exactly the name the plan shows.
4. The SLTaskbarUtility on that DMA must hold credentials of an administrator of the DMS (right-click it >
   Options > slnet > Test & Save Connection), as the Taskbar Utility upgrade page asks for cluster upgrades.
5. The bot's DMS account needs Modules > Automation > Execute.
6. Test it: `dm-upgrade check` lists the package files as present once the folder is filled.
"""


def export(directory: Path, *, package_folder: str = contract.DEFAULT_PACKAGE_FOLDER) -> list[Path]:
    """Write the script and its install steps into ``directory``; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / SCRIPT_FILE
    script.write_text(script_xml(), encoding="utf-8")
    steps = directory / INSTALL_FILE
    steps.write_text(install_steps(package_folder=package_folder), encoding="utf-8")
    return [script, steps]
