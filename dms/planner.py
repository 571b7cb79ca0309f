"""The upgrade path planner: the rules of ``Preparing_to_upgrade_a_DataMiner_Agent``, one hop at a time.

Every hop says which rule put it there, so an operator can check the plan against the documentation.
Where the seed MOP (9.6 -> 10.0 -> 10.1 -> 10.2) and the newer page (skip 10.1) disagree, the newer rules win.
"""

from __future__ import annotations

from dms.catalog import Catalog, Line
from dms.exceptions import PathError
from dms.upgrade_path import Hop, PackageKind, UpgradePath
from dms.versions import Track, Version, VersionSpec

FIRST_STOP = Version(10, 0, 0, 19)  # rule 5
BROKER_GATEWAY_LINE: Line = (10, 6)  # rule 3: targets on this line or later need the migration
BROKER_GATEWAY_MAIN = Version(10, 5, 0, 2)
BROKER_GATEWAY_FEATURE = Version(10, 5, 5)
VERIFY_PORTS_KEY = "verify_cluster_ports"
BROKER_GATEWAY_KEY = "broker_gateway_migration"


def default_track(target: VersionSpec | Version) -> Track:
    """The target's own track when it names a build (``10.3.4`` -> feature), else main."""
    if isinstance(target, Version):
        return target.track
    return Track.FEATURE if target.build else Track.MAIN


def package_kind(previous: Version, version: Version) -> PackageKind:
    """Rule 7: the CU package only when the release stays the same (10.0.0 CU5 -> CU9)."""
    same = (previous.major, previous.minor, previous.build) == (version.major, version.minor, version.build)
    return PackageKind.CU if same else PackageKind.FULL


def migration_capable(version: Version) -> bool:
    """Rule 3: the BrokerGateway migration is possible from 10.5.0 [CU2] / 10.5.5 on."""
    if version.track is Track.FEATURE:
        return version >= BROKER_GATEWAY_FEATURE
    return version >= BROKER_GATEWAY_MAIN


class _Builder:
    def __init__(self, *, current: Version, catalog: Catalog) -> None:
        self.catalog = catalog
        self.position = current
        self.hops: list[Hop] = []
        self.baseline_given = False

    def upgrade(self, version: Version, rule: str, *, doc: str = "prepare") -> None:
        kind = package_kind(self.position, version)
        requirements = self.catalog.requirements_for(self.position, version)
        if not self.baseline_given:
            requirements = self.catalog.baseline_requirements() + requirements
            self.baseline_given = True
        label = "CU package" if kind is PackageKind.CU else "full upgrade package"
        preview = " (preview)" if self.catalog.is_preview(version) else ""
        self.hops.append(
            Hop(
                version=version,
                package=kind,
                name=f"DataMiner {version}{preview} {label} (.dmupgrade)",
                rule=rule,
                rule_url=self.catalog.doc_url(doc),
                checks=self.catalog.checks_for(version),
                requirements=requirements,
            )
        )
        self.position = version

    def helper(self, key: str, rule: str) -> None:
        helper = self.catalog.helper(key)
        self.hops.append(
            Hop(
                version=self.position,
                package=PackageKind.HELPER,
                name=helper.name,
                rule=rule,
                rule_url=self.catalog.doc_url(helper.doc),
                restarts_agents=helper.restarts_agents,
                minutes=helper.minutes,
            )
        )


def _resolve_target(target: VersionSpec | Version, track: Track, catalog: Catalog) -> Version:
    if isinstance(target, Version):
        if target.track is not track:
            raise PathError(f"{target} is a {target.track.value} release, not on the {track.value} track")
        if not catalog.contains(target):
            near = ", ".join(str(v) for v in catalog.nearest(target))
            raise PathError(f"{target} is not in the release catalog; nearest known: {near}")
        return target.with_cu(target.cu)
    return catalog.resolve(target, track)


def _refuse_backwards(current: Version, target: Version, catalog: Catalog) -> None:
    if target == current:
        raise PathError(f"the agents already run {current}: nothing to upgrade")
    if target < current:
        hint = ""
        if current.track is Track.FEATURE and target.line == current.line:
            hint = (
                f" Feature release {current} reaches the main track at "
                f"{current.major}.{current.minor + 1}.0: target that instead."
            )
        raise PathError(
            f"{target} is older than the current {current}: this procedure never downgrades (rule 8). "
            "Downgrading is a separate procedure: restore the VM snapshot (databases included) or step "
            f"down one major version at a time ({catalog.doc_url('rollback')}).{hint}"
        )


def plan_path(
    *,
    current: Version,
    target: VersionSpec | Version,
    track: Track | None = None,
    catalog: Catalog,
) -> UpgradePath:
    """Every hop from ``current`` to ``target`` under rules 1-8; ``PathError`` when there is no path."""
    track = track or default_track(target)
    current = current.with_cu(current.cu)  # the build number plays no part in planning
    if isinstance(target, VersionSpec) and target.line < current.line:
        # Say "downgrade" before "not in the catalog": 9.0 asked on 10.4 is a downgrade whatever the catalog.
        _refuse_backwards(current, Version(target.major, target.minor, target.build or 0, target.cu or 0),
                          catalog)
    goal = _resolve_target(target, track, catalog)
    _refuse_backwards(current, goal, catalog)
    plan = _Builder(current=current, catalog=catalog)

    # Rule 1 before 10.0 too (the docs only speak of 9.6): from 9.5, stop at 9.6 before rule 5.
    if current.major < 10 and goal.line >= (10, 0):
        for line in catalog.main_lines():
            if current.line < line < (10, 0):
                stop = catalog.latest_cu(line)
                plan.upgrade(stop, f"Rule 1: crossing main releases stops at every intermediate one: {stop}.")

    # Rule 5: 9.6.x, or 10.0.0 older than CU19, goes to 10.0.0 CU19 before anything newer.
    position = plan.position
    before_first_stop = position.major < 10 or (position.line == (10, 0) and position < FIRST_STOP)
    if before_first_stop and goal > FIRST_STOP:
        if not catalog.contains(FIRST_STOP):
            raise PathError(f"rule 5 needs {FIRST_STOP}, which is not in the release catalog")
        plan.upgrade(
            FIRST_STOP,
            f"Rule 5: from {position} (9.6.x or 10.0.0 older than CU19) first go to 10.0.0 [CU19].",
        )

    start_line = plan.position.line
    # Rule 2 and rule 4 by construction: the MR of the current line is never a stop (a feature release
    # skips its own line's MR), and from 10.0 (or earlier) the walk to 10.2+ skips 10.1.
    skip_10_1 = start_line <= (10, 0) and goal.line >= (10, 2)
    needs_migration = goal.line >= BROKER_GATEWAY_LINE and plan.position.line < BROKER_GATEWAY_LINE

    # Rule 3 when already on 10.5 but too old to migrate: move up inside 10.5 first.
    if needs_migration and plan.position.line == (10, 5) and not migration_capable(plan.position):
        if plan.position.track is Track.FEATURE:
            stop = catalog.latest_feature((10, 5))
        else:
            stop = catalog.latest_cu((10, 5))
        if not migration_capable(stop):
            raise PathError(f"rule 3 needs 10.5.0 [CU2] / 10.5.5 or later; the catalog's latest is {stop}")
        plan.upgrade(stop, _rule3(stop))

    intermediate = [
        line
        for line in catalog.main_lines()
        if start_line < line < goal.line and not (skip_10_1 and line == (10, 1))
    ]
    for line in intermediate:
        stop = catalog.latest_cu(line)
        _helpers_before(plan, stop)
        if line == (10, 5) and needs_migration:
            if not migration_capable(stop):
                raise PathError(f"rule 3 needs 10.5.0 [CU2] or later; the catalog's latest is {stop}")
            rule = _rule3(stop)
        elif plan.position.line == (10, 0) and skip_10_1:
            rule = f"Rule 4: from before 10.1 to 10.2 or higher, skip 10.1: go straight to {stop}."
        else:
            rule = f"Rule 1: crossing main releases stops at the latest CU of every intermediate one: {stop}."
        plan.upgrade(stop, rule)

    _helpers_before(plan, goal)
    plan.upgrade(goal, _target_rule(plan.position, goal, skip_10_1=skip_10_1))
    return UpgradePath(current=current, target=goal, track=track, hops=tuple(plan.hops))


def _helpers_before(plan: _Builder, stop: Version) -> None:
    """Helper packages that must run on the current position before the hop to ``stop``."""
    position = plan.position
    if position.line == (10, 0) and stop.line >= (10, 2):
        plan.helper(VERIFY_PORTS_KEY, _rule6(plan.catalog))
    if position.line < BROKER_GATEWAY_LINE <= stop.line:
        if not migration_capable(position):
            raise PathError(f"rule 3: {position} cannot migrate to BrokerGateway before {stop}")
        plan.helper(
            BROKER_GATEWAY_KEY,
            f"Rule 3: versions from 10.6.0/10.6.1 on need the BrokerGateway migration, done on "
            f"{position} before installing {stop}.",
        )


def _rule3(stop: Version) -> str:
    return (
        "Rule 3: targets of 10.6 and above need the BrokerGateway migration, possible only from "
        f"10.5.0 [CU2] / 10.5.5 (recommended 10.5.0 [CU11] / 10.5.12 [CU2]): stop at {stop}."
    )


def _rule6(catalog: Catalog) -> str:
    helper = catalog.helper(VERIFY_PORTS_KEY)
    validity = f"; its result stays valid {helper.valid_days} days" if helper.valid_days else ""
    restart = "no restart" if not helper.restarts_agents else "restarts DataMiner"
    return (
        f"Rule 6: from 10.0 to 10.2 or higher, run {helper.name} first or the upgrade fails "
        f"(about {helper.minutes:g} minutes, {restart}{validity})."
    )


def _target_rule(previous: Version, goal: Version, *, skip_10_1: bool) -> str:
    if package_kind(previous, goal) is PackageKind.CU:
        return (
            f"Target {goal}: inside one release no intermediate CUs are needed (rule 1); "
            "the smaller CU package does it (rule 7)."
        )
    if previous.track is Track.FEATURE and goal.track is Track.MAIN and goal.line > previous.line:
        return (
            f"Target {goal}: rule 2, from feature release {previous} go straight to the next main release, "
            f"skipping {previous.major}.{previous.minor}.0."
        )
    if skip_10_1 and previous.line <= (10, 0):
        return f"Target {goal}: rule 4, from before 10.1 to 10.2 or higher skip 10.1."
    return f"Target {goal}: the last hop, with the full upgrade package (rule 7)."
