"""The exact package file each hop needs, and the check that they are all in DMS_PACKAGE_FOLDER on the DMA.

DataMiner does not document its download file names, so dm-upgrade fixes one name per release; an operator
saves (or renames) each downloaded package to that name in the folder the setting names. Helper packages keep
their documented names (VerifyClusterPorts.dmupgrade, NATSMigration.dmupgrade). The orchestrator script lists
the folder (``Action=inventory``); a missing file fails the pre-check, naming it.
"""

from __future__ import annotations

import re

from dms import script_runs
from dms.client import DmsClient
from dms.exceptions import DmsApiError
from dms.models import CheckResult, CheckStatus
from dms.upgrade_path import Hop, PackageKind, UpgradePath

# The BrokerGateway migration's package, as its documentation names it.
_HELPER_FILES = {"BrokerGateway migration (NATSMigration tool)": "NATSMigration.dmupgrade"}
_SAFE = re.compile(r"^[A-Za-z0-9 ._()\[\]-]{1,120}$")
TITLE = "Every package is in the package folder on the DMS"


def package_file(hop: Hop) -> str:
    """The file name the hop installs, e.g. "DataMiner 10.5.0 CU19 Full Upgrade.dmupgrade"."""
    if hop.package is PackageKind.HELPER:
        name = _HELPER_FILES.get(hop.name, hop.name)
        if not name.lower().endswith((".dmupgrade", ".dmapp")):
            name = f"{name}.dmupgrade"
    else:
        kind = "CU Upgrade" if hop.package is PackageKind.CU else "Full Upgrade"
        name = f"DataMiner {hop.version} {kind}.dmupgrade"
    if not _SAFE.fullmatch(name):  # it becomes a path on the DMA: no separators, no surprises
        raise ValueError(f"{name[:64]!r} cannot be a package file name")
    return name


def needed_files(path: UpgradePath) -> list[str]:
    """Every file the path installs, in order, each once."""
    return list(dict.fromkeys(package_file(hop) for hop in path.hops))


async def check_packages(client: DmsClient, *, path: UpgradePath | None, folder: str) -> list[CheckResult]:
    """Ask the orchestrator script which package files are in ``folder``; fail naming each missing one."""
    if path is None or not path.hops:
        return []
    needed = needed_files(path)
    try:
        present = {name.lower() for name in await script_runs.inventory(client, package_folder=folder,
                                                                         expected=needed)}
    except DmsApiError as exc:
        return [CheckResult(name="packages", title=TITLE, status=CheckStatus.MANUAL,
                            detail=f"the package folder could not be listed ({exc}); confirm {folder} holds: "
                                   f"{', '.join(needed)}")]
    missing = [name for name in needed if name.lower() not in present]
    if missing:
        return [CheckResult(name="packages", title=TITLE, status=CheckStatus.FAIL,
                            detail=f"missing in {folder}: {', '.join(missing)}")]
    return [CheckResult(name="packages", title=TITLE, status=CheckStatus.PASS,
                        detail=f"all {len(needed)} package(s) are in {folder} (listed by the orchestrator "
                               "script)")]
