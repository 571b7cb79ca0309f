"""The MOP's time-estimate table (four phases) computed for one upgrade path.

The MOP gives only rough durations ("approx. 30 min", "30 min. to 2 hours", "varies"); the figures here
turn the factors it names (version difference, packages, upload time, agent startup, hotfixes) into a
low-high range. Every phase lists the factors that drove it, and every factor starts with where its figure
comes from (``SOURCES``), so a reader can tell the MOP's figures from our assumptions and settings.
"""

from __future__ import annotations

from dms.upgrade_path import Estimate, Hop, PackageKind, PhaseEstimate, UpgradePath

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

# Where a factor's figure comes from; each factor text starts with one of these tags.
MOP = "[MOP]"  # stated by the MOP's time-estimate table
DOCS = "[docs]"  # stated by a DataMiner documentation page (helper durations)
ASSUMPTION = "[assumption]"  # our working figure: correct it with experience
SETTING = "[setting]"  # an operator setting (package size, bandwidth, startup, hotfixes)
LEARNED = "[learned]"  # measured on this DMS in past upgrades
PATH = "[path]"  # counted from the upgrade path itself
SOURCES = (MOP, DOCS, ASSUMPTION, SETTING, LEARNED, PATH)


def _minutes(value: float) -> str:
    return f"{value:.0f} min" if value < 90 else f"{value / 60:.1f} h"


def upload_minutes(*, package_size_mb: float, upload_bandwidth_mbps: float) -> float:
    """Minutes to upload one package of ``package_size_mb`` megabytes at ``upload_bandwidth_mbps`` Mbit/s."""
    return package_size_mb * 8.0 / upload_bandwidth_mbps / 60.0


def _validate(
    *, agents: int, package_size_mb: float, upload_bandwidth_mbps: float, prerequisite_check_minutes: float,
    agent_startup_minutes: float, hotfixes: int, learned_startup_minutes: float | None,
) -> None:
    if agents < 1:
        raise ValueError(f"agents must be at least 1, got {agents}")
    if package_size_mb <= 0 or upload_bandwidth_mbps <= 0:
        raise ValueError("package size and upload bandwidth must be positive")
    if prerequisite_check_minutes < 0 or agent_startup_minutes <= 0 or hotfixes < 0:
        raise ValueError("check minutes and hotfixes cannot be negative; startup minutes must be positive")
    if learned_startup_minutes is not None and learned_startup_minutes <= 0:
        raise ValueError("a learned startup time must be positive")


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
    _validate(agents=agents, package_size_mb=package_size_mb, upload_bandwidth_mbps=upload_bandwidth_mbps,
              prerequisite_check_minutes=prerequisite_check_minutes,
              agent_startup_minutes=agent_startup_minutes, hotfixes=hotfixes,
              learned_startup_minutes=learned_startup_minutes)
    determine = PhaseEstimate(
        phase=PHASE_DETERMINE,
        low_minutes=DETERMINE[0],
        high_minutes=DETERMINE[1],
        factors=(f"{MOP} approx. 30 min",),
    )
    precheck = _precheck(path, package_size_mb=package_size_mb, upload_bandwidth_mbps=upload_bandwidth_mbps,
                         prerequisite_check_minutes=prerequisite_check_minutes)
    execute = _execute(path, agents=agents, agent_startup_minutes=agent_startup_minutes, hotfixes=hotfixes,
                       learned_startup_minutes=learned_startup_minutes)
    return Estimate(phases=(determine, _details(path), precheck, execute))


def _details(path: UpgradePath) -> PhaseEstimate:
    upgrades = path.upgrade_hops
    helpers = [hop for hop in path.hops if hop.package is PackageKind.HELPER]
    requirements = [req for hop in path.hops for req in hop.requirements]
    factors = [
        f"{PATH} {len(upgrades)} version(s) to review (release notes, known issues)",
        f"{ASSUMPTION} {DETAILS_BASE[0]:g}-{DETAILS_BASE[1]:g} min, plus {DETAILS_PER_HOP[0]:g}-"
        f"{DETAILS_PER_HOP[1]:g} min per version (the MOP says only \"varies\")",
    ]
    low = DETAILS_BASE[0] + DETAILS_PER_HOP[0] * len(upgrades)
    high = DETAILS_BASE[1] + DETAILS_PER_HOP[1] * len(upgrades)
    if requirements:
        low += DETAILS_PER_REQUIREMENT[0] * len(requirements)
        high += DETAILS_PER_REQUIREMENT[1] * len(requirements)
        factors.append(
            f"{ASSUMPTION} {len(requirements)} requirement(s) to verify or install first, "
            f"{DETAILS_PER_REQUIREMENT[0]:g}-{DETAILS_PER_REQUIREMENT[1]:g} min each"
        )
    if helpers:
        names = ", ".join(helper.name for helper in helpers)
        factors.append(f"{PATH} {len(helpers)} helper package(s) to obtain: {names}")
    return PhaseEstimate(phase=PHASE_DETAILS, low_minutes=low, high_minutes=high, factors=tuple(factors))


def _precheck(
    path: UpgradePath, *, package_size_mb: float, upload_bandwidth_mbps: float,
    prerequisite_check_minutes: float,
) -> PhaseEstimate:
    upgrades = path.upgrade_hops
    per_upload = upload_minutes(package_size_mb=package_size_mb, upload_bandwidth_mbps=upload_bandwidth_mbps)
    work = len(upgrades) * (per_upload + prerequisite_check_minutes)
    return PhaseEstimate(
        phase=PHASE_PRECHECK,
        low_minutes=max(PRECHECK_MIN, PRECHECK_BASE + work),
        high_minutes=max(PRECHECK_MAX_TYPICAL, PRECHECK_BASE + 2 * work + 60.0),
        factors=(
            f"{SETTING} {len(upgrades)} package(s) x {package_size_mb:g} MB at {upload_bandwidth_mbps:g} "
            f"Mbit/s: {_minutes(per_upload)} upload each ('Upload only')",
            f"{SETTING} prerequisite checks: {prerequisite_check_minutes:g} min per package",
            f"{MOP} 30 min to 2 h, longer when problems are found",
            f"{ASSUMPTION} {PRECHECK_BASE:g} min of health checks on top of the uploads",
        ),
    )


def _execute(
    path: UpgradePath, *, agents: int, agent_startup_minutes: float, hotfixes: int,
    learned_startup_minutes: float | None,
) -> PhaseEstimate:
    startup = learned_startup_minutes if learned_startup_minutes is not None else agent_startup_minutes
    source = f"{LEARNED} agent startup {_minutes(startup)} per hop, learned from past upgrades" \
        if learned_startup_minutes is not None else f"{SETTING} agent startup {_minutes(startup)} per hop"
    low, high, factors = 0.0, 0.0, [
        f"{ASSUMPTION} {len(path.upgrade_hops)} upgrade hop(s): stop services and extract "
        f"{_minutes(STOP_AND_EXTRACT[0])}-{_minutes(STOP_AND_EXTRACT[1])} each",
        source,
    ]
    for hop in path.upgrade_hops:
        low += STOP_AND_EXTRACT[0] + startup + PER_EXTRA_AGENT[0] * (agents - 1)
        high += STOP_AND_EXTRACT[1] + startup * STARTUP_SPREAD + PER_EXTRA_AGENT[1] * (agents - 1)
        if any("C++" in requirement for requirement in hop.requirements):
            low, high = low + REBOOT[0], high + REBOOT[1]
            factors.append(f"{ASSUMPTION} {hop.version}: possible reboot for the new VC++ runtime "
                           f"({_minutes(REBOOT[0])}-{_minutes(REBOOT[1])})")
    if agents > 1:
        factors.append(f"{ASSUMPTION} {agents} agents upgraded together (failover pairs simultaneously), "
                       f"{PER_EXTRA_AGENT[0]:g}-{PER_EXTRA_AGENT[1]:g} min per extra agent")
    for helper in (hop for hop in path.hops if hop.package is PackageKind.HELPER):
        extra_low, extra_high = _helper_minutes(helper, startup)
        low, high = low + extra_low, high + extra_high
        restart = "with a restart" if helper.restarts_agents else "no restart"
        label = DOCS if helper.minutes_documented else ASSUMPTION
        factors.append(f"{label} {helper.name}: about {_minutes(helper.minutes or 0.0)}, {restart}")
    if hotfixes:
        low, high = low + HOTFIX[0] * hotfixes, high + HOTFIX[1] * hotfixes
        factors.append(f"{SETTING} {hotfixes} hotfix(es) after the upgrade, "
                       f"{ASSUMPTION} {HOTFIX[0]:g}-{HOTFIX[1]:g} min each")
    return PhaseEstimate(phase=PHASE_EXECUTE, low_minutes=low, high_minutes=high, factors=tuple(factors))


def _helper_minutes(helper: Hop, startup: float) -> tuple[float, float]:
    """A helper's documented minutes (twice that at worst), plus a startup when it restarts the agents."""
    minutes = helper.minutes or 0.0
    if helper.restarts_agents:
        return minutes + startup, minutes * 2 + startup * STARTUP_SPREAD
    return minutes, minutes * 2
