"""The MOP's time-estimate table (four phases) computed for one upgrade path.

The MOP gives only rough durations ("approx. 30 min", "30 min. to 2 hours", "varies"); the figures here
turn the factors it names (version difference, packages, upload time, agent startup, hotfixes) into a
low-high range. Every phase lists the factors that drove it, so a reader can see why it is long.
"""

from __future__ import annotations

from dms.upgrade_path import Estimate, PackageKind, PhaseEstimate, UpgradePath

PHASE_DETERMINE = "Determine the upgrade version and time slot"
PHASE_DETAILS = "Establish the details for the upgrade"
PHASE_PRECHECK = "Perform a pre-upgrade check on the day before the upgrade"
PHASE_EXECUTE = "Execute the DataMiner upgrade"
PHASES = (PHASE_DETERMINE, PHASE_DETAILS, PHASE_PRECHECK, PHASE_EXECUTE)

# Working figures (minutes, low/high). The MOP states phase 1 and the 30 min - 2 h span of phase 3;
# the rest are assumptions an operator can read in the factors and correct with experience.
DETERMINE = (30.0, 30.0)
DETAILS_BASE = (15.0, 30.0)
DETAILS_PER_HOP = (10.0, 20.0)  # release notes and known issues of each version passed
DETAILS_PER_REQUIREMENT = (10.0, 30.0)  # e.g. installing .NET or a hosting bundle on every agent
PRECHECK_MIN = 30.0
PRECHECK_MAX_TYPICAL = 120.0
PRECHECK_BASE = 15.0
STOP_AND_EXTRACT = (5.0, 15.0)  # services stop, files are extracted, per upgrade hop
PER_EXTRA_AGENT = (0.5, 2.0)  # agents run in parallel, but distribution and startup spread grow
STARTUP_SPREAD = 1.5  # high end of a startup relative to the typical one
REBOOT = (5.0, 10.0)  # a replaced VC++ runtime may reboot the agent
HOTFIX = (10.0, 20.0)


def _minutes(value: float) -> str:
    return f"{value:.0f} min" if value < 90 else f"{value / 60:.1f} h"


def upload_minutes(*, package_size_mb: float, upload_bandwidth_mbps: float) -> float:
    """Minutes to upload one package of ``package_size_mb`` megabytes at ``upload_bandwidth_mbps`` Mbit/s."""
    return package_size_mb * 8.0 / upload_bandwidth_mbps / 60.0


def estimate(
    *,
    path: UpgradePath,
    agents: int = 1,
    package_size_mb: float,
    upload_bandwidth_mbps: float,
    prerequisite_check_minutes: float,
    agent_startup_minutes: float,
    hotfixes: int = 0,
    learned_startup_minutes: float | None = None,
) -> Estimate:
    """The four phases of the MOP's time-estimate table for ``path``."""
    if agents < 1:
        raise ValueError(f"agents must be at least 1, got {agents}")
    if package_size_mb <= 0 or upload_bandwidth_mbps <= 0:
        raise ValueError("package size and upload bandwidth must be positive")
    if prerequisite_check_minutes < 0 or agent_startup_minutes <= 0 or hotfixes < 0:
        raise ValueError("check minutes and hotfixes cannot be negative; startup minutes must be positive")
    if learned_startup_minutes is not None and learned_startup_minutes <= 0:
        raise ValueError("a learned startup time must be positive")

    upgrades = path.upgrade_hops
    helpers = [hop for hop in path.hops if hop.package is PackageKind.HELPER]
    requirements = [req for hop in path.hops for req in hop.requirements]

    determine = PhaseEstimate(
        phase=PHASE_DETERMINE,
        low_minutes=DETERMINE[0],
        high_minutes=DETERMINE[1],
        factors=("the MOP: approx. 30 min",),
    )

    details_factors = [f"{len(upgrades)} version(s) to review (release notes, known issues)"]
    details_low = DETAILS_BASE[0] + DETAILS_PER_HOP[0] * len(upgrades)
    details_high = DETAILS_BASE[1] + DETAILS_PER_HOP[1] * len(upgrades)
    if requirements:
        details_low += DETAILS_PER_REQUIREMENT[0] * len(requirements)
        details_high += DETAILS_PER_REQUIREMENT[1] * len(requirements)
        details_factors.append(f"{len(requirements)} requirement(s) to verify or install first")
    if helpers:
        names = ", ".join(helper.name for helper in helpers)
        details_factors.append(f"{len(helpers)} helper package(s) to obtain: {names}")
    details = PhaseEstimate(
        phase=PHASE_DETAILS,
        low_minutes=details_low,
        high_minutes=details_high,
        factors=tuple(details_factors),
    )

    per_upload = upload_minutes(package_size_mb=package_size_mb, upload_bandwidth_mbps=upload_bandwidth_mbps)
    work = len(upgrades) * (per_upload + prerequisite_check_minutes)
    precheck_low = max(PRECHECK_MIN, PRECHECK_BASE + work)
    precheck_high = max(PRECHECK_MAX_TYPICAL, PRECHECK_BASE + 2 * work + 60.0)
    precheck = PhaseEstimate(
        phase=PHASE_PRECHECK,
        low_minutes=precheck_low,
        high_minutes=precheck_high,
        factors=(
            f"{len(upgrades)} package(s) x {package_size_mb:g} MB at {upload_bandwidth_mbps:g} Mbit/s: "
            f"{_minutes(per_upload)} upload each ('Upload only')",
            f"prerequisite checks: {prerequisite_check_minutes:g} min per package",
            "the MOP: 30 min to 2 h, longer when problems are found",
        ),
    )

    startup = learned_startup_minutes if learned_startup_minutes is not None else agent_startup_minutes
    startup_source = "learned from past upgrades" if learned_startup_minutes is not None else "setting"
    execute_low = execute_high = 0.0
    factors = [
        f"{len(upgrades)} upgrade hop(s): stop services and extract "
        f"{_minutes(STOP_AND_EXTRACT[0])}-{_minutes(STOP_AND_EXTRACT[1])} each",
        f"agent startup {_minutes(startup)} per hop ({startup_source})",
    ]
    for hop in upgrades:
        execute_low += STOP_AND_EXTRACT[0] + startup + PER_EXTRA_AGENT[0] * (agents - 1)
        execute_high += STOP_AND_EXTRACT[1] + startup * STARTUP_SPREAD + PER_EXTRA_AGENT[1] * (agents - 1)
        if any("C++" in requirement for requirement in hop.requirements):
            execute_low += REBOOT[0]
            execute_high += REBOOT[1]
            factors.append(f"{hop.version}: possible reboot for the new VC++ runtime")
    if agents > 1:
        factors.append(f"{agents} agents upgraded together (failover pairs simultaneously)")
    for helper in helpers:
        minutes = helper.minutes or 0.0
        execute_low += minutes
        execute_high += minutes * 2
        if helper.restarts_agents:
            execute_low += startup
            execute_high += startup * STARTUP_SPREAD
        restart = "with a restart" if helper.restarts_agents else "no restart"
        factors.append(f"{helper.name}: about {_minutes(minutes)}, {restart}")
    if hotfixes:
        execute_low += HOTFIX[0] * hotfixes
        execute_high += HOTFIX[1] * hotfixes
        factors.append(f"{hotfixes} hotfix(es) after the upgrade")
    execute = PhaseEstimate(
        phase=PHASE_EXECUTE, low_minutes=execute_low, high_minutes=execute_high, factors=tuple(factors)
    )
    return Estimate(phases=(determine, details, precheck, execute))
