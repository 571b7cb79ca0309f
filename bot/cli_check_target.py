"""``dm-upgrade check --target VERSION``: the pre-upgrade checks for one upgrade, as the day-before check
of a plan runs them: the health checks, and with the script driver the package inventory and each package
file's readability. *Upload only* of the first hop's package (which runs its prerequisite checks) exists only
in Cube, so this command cannot run it: it prints it as a person's step, never as a result.

``not_checked`` lists what this command cannot see, the prerequisite checks first.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.settings import Settings
from dms.catalog import load_catalog
from dms.client import DmsClient
from dms.drivers import ScriptDriver
from dms.exceptions import DmsApiError
from dms.models import CheckResult, CheckStatus, Source
from dms.packages import package_file
from dms.planner import plan_path
from dms.prechecks import PrecheckReport, run_prechecks
from dms.upgrade_path import UpgradePath
from dms.versions import Version, parse_spec

NOT_CHECKED_WITHOUT_TARGET = (
    "the packages' prerequisite checks: they run in Cube's Upload only (a person's step) and when the "
    "upgrade starts; give --target VERSION to check the package files"
)


@dataclass(frozen=True)
class TargetCheck:
    report: PrecheckReport
    path: UpgradePath
    not_checked: tuple[str, ...]


def current_version(report_states: list[Version | None]) -> Version:
    versions = [version for version in report_states if version is not None]
    if not versions:
        raise ValueError("no agent's version could be read, so no upgrade path can be computed")
    return min(versions)  # a mixed cluster fails its own check; the path starts from the oldest agent


async def check_target(
    client: DmsClient, settings: Settings, *, target: str, key_elements: list[str], time_scale: float
) -> TargetCheck:
    """Raises ``PathError`` / ``VersionError`` (no path, bad version) before anything is uploaded."""
    states = await client.agent_states()
    path = plan_path(current=current_version([state.version for state in states]), target=parse_spec(target),
                     catalog=load_catalog(settings.release_catalog))
    script = settings.dms_driver == "script"
    report = await run_prechecks(client, path=path, blocking_severities=settings.blocking_alarm_severities,
                                 key_elements=key_elements,
                                 package_folder=settings.dms_package_folder if script else None)
    results = list(report.results)
    if path.hops and script:
        driver = ScriptDriver(client, package_folder=settings.dms_package_folder,
                              utility_path=settings.dms_taskbar_utility_path)
        try:
            results += [await driver.verify(hop=hop) for hop in path.hops]
        except DmsApiError as exc:
            results.append(CheckResult(name="package_file", title="Package files readable",
                                       status=CheckStatus.FAIL, detail=str(exc)))
    if path.hops:
        file = package_file(path.hops[0])
        results.append(CheckResult(
            name="prerequisites", title=f"Upload only of {file} in Cube (its prerequisite checks)",
            status=CheckStatus.MANUAL, source=Source.NOT_CHECKED,
            detail="a person's step: in Cube's System Center select the package and All Agents in cluster, "
                   "then Upload only (no documented automation has it)"))
    checked = PrecheckReport(results=results, baseline=report.baseline)
    return TargetCheck(report=checked, path=path, not_checked=_not_checked(path))


def _not_checked(path: UpgradePath) -> tuple[str, ...]:
    lines: list[str] = []
    if not path.hops:
        lines.append(f"nothing to upload: the DMS already runs {path.target}")
    else:
        lines.append("the first hop's prerequisite checks: Upload only is a person's step in Cube; in a plan "
                     "the bot asks for it and records who confirmed it")
    later = path.hops[1:]
    if later:
        names = ", ".join(f"hop {index} ({hop.version})" for index, hop in enumerate(later, start=2))
        lines.append(f"the prerequisite checks of {names}: they check the version they start from, so they "
                     "run when each hop's upgrade starts (SLTaskbarUtility's exit code reports them)")
    lines.append("the items marked TODO, which only a person can confirm")
    return tuple(lines)
