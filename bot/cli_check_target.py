"""``dm-upgrade check --target VERSION``: the pre-upgrade checks for one upgrade, as the day-before check
of a plan runs them: the health checks, the package inventory, then *Upload only* of the first hop's package,
which makes the DMS run that package's prerequisite checks without upgrading anything.

The first hop only, as in a plan (``workflow.precheck_runner``): a later hop's package checks the DMS it will
be installed on, so its checks run right before that hop. ``not_checked`` says so in the output, with the
rest that this command cannot see.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.settings import Settings
from dms.catalog import load_catalog
from dms.client import DmsClient
from dms.drivers import ScriptDriver
from dms.exceptions import DmsScriptError
from dms.models import CheckResult, CheckStatus
from dms.planner import plan_path
from dms.prechecks import PrecheckReport, run_prechecks
from dms.upgrade_path import UpgradePath
from dms.versions import Version, parse_spec

NOT_CHECKED_WITHOUT_TARGET = (
    "the packages' prerequisite checks: give --target VERSION to upload the first hop's package (Upload only)"
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
    if path.hops:
        results.append(await _upload_first(client, settings, path=path, healthy=report.passed, script=script,
                                           time_scale=time_scale))
    checked = PrecheckReport(results=results, baseline=report.baseline)
    return TargetCheck(report=checked, path=path, not_checked=_not_checked(path, uploaded=script))


async def _upload_first(
    client: DmsClient, settings: Settings, *, path: UpgradePath, healthy: bool, script: bool,
    time_scale: float,
) -> CheckResult:
    hop = path.hops[0]
    title = f"Hop 1: {hop.name} uploaded, prerequisite checks passed"
    if not script:
        return CheckResult(name="prerequisites", title=title, status=CheckStatus.MANUAL,
                           detail="DMS_DRIVER=watch: in Cube select the package, All Agents in cluster, "
                                  "then Upload only")
    if not healthy:
        return CheckResult(name="prerequisites", title=title, status=CheckStatus.WARN,
                           detail="not uploaded: fix the failed health checks first")
    driver = ScriptDriver(client, package_folder=settings.dms_package_folder,
                          poll_s=settings.dms_poll_seconds / time_scale)
    try:
        await driver.upload(hop=hop)
    except DmsScriptError as exc:
        return CheckResult(name="prerequisites", title=title, status=CheckStatus.FAIL, detail=str(exc))
    checks = ", ".join(hop.checks) or "none"
    return CheckResult(name="prerequisites", title=title, status=CheckStatus.PASS,
                       detail=f"uploaded to every agent; checks: {checks}")


def _not_checked(path: UpgradePath, *, uploaded: bool) -> tuple[str, ...]:
    lines: list[str] = []
    if not path.hops:
        lines.append(f"nothing to upload: the DMS already runs {path.target}")
    elif not uploaded:
        lines.append("the first hop's prerequisite checks: with the watch driver a person runs Upload only")
    later = path.hops[1:]
    if later:
        names = ", ".join(f"hop {index} ({hop.version})" for index, hop in enumerate(later, start=2))
        lines.append(f"the prerequisite checks of {names}: they check the version they start from, so they "
                     "run right before each hop during the upgrade")
    lines.append("the items marked TODO, which only a person can confirm")
    return tuple(lines)
