"""The upgrade path planner: the rules of "Preparing to upgrade a DataMiner Agent", one hop at a time.

Every hop says which rule put it there, so an operator can check the plan against the documentation
(https://docs.dataminer.services/dataminer/Administrator_guide/DataMiner_Agents/Upgrading_a_DMA/
Preparing_to_upgrade_a_DataMiner_Agent.html). Where the seed MOP (9.6 -> 10.0 -> 10.1 -> 10.2) and the
newer page (skip 10.1) disagree, the newer rules win. The path also carries its warnings: a preview target,
known issues it could not avoid, versions out of support, a stale catalog (``dms.path_warnings``).
"""

from __future__ import annotations

from datetime import date

from dms.catalog import Catalog, Line
from dms.exceptions import PathError
from dms.path_builder import PathBuilder
from dms.path_warnings import path_warnings
from dms.upgrade_path import PackageKind, UpgradePath
from dms.versions import Track, Version, VersionSpec

FIRST_STOP = Version(10, 0, 0, 19)  # rule 5
BROKER_GATEWAY_LINE: Line = (10, 6)  # rule 3: targets on this line or later need the migration
# BrokerGateway_Migration page: migrate on 10.5.0 [CU11]+ or 10.5.12 [CU2]; "avoid migrating DataMiner
# Systems using a DataMiner version lower than 10.5.0 [CU11]/10.5.12 [CU2]", "preferably, upgrade first".
BROKER_GATEWAY_MAIN = Version(10, 5, 0, 11)
BROKER_GATEWAY_FEATURE = Version(10, 5, 12, 2)
VERIFY_PORTS_KEY = "verify_cluster_ports"
BROKER_GATEWAY_KEY = "broker_gateway_migration"
VERIFY_GRPC_KEY = "verify_grpc_connection"
GRPC_CHECK = "Verify gRPC Connection"


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
    """Rule 3 as the BrokerGateway migration page words it: migrate on 10.5.0 [CU11]+ or 10.5.12 [CU2]+."""
    if version.line != (10, 5):
        return version.line > (10, 5)
    if version.track is Track.FEATURE:
        return version >= BROKER_GATEWAY_FEATURE
    return version >= BROKER_GATEWAY_MAIN


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


def _refuse_preview(goal: Version, catalog: Catalog, *, allow_preview: bool) -> None:
    # A preview is not a release for production (its release notes say "still working on this release"):
    # planning one silently would upgrade a production DMS to it. Only an explicit opt-in plans it.
    if catalog.is_preview(goal) and not allow_preview:
        raise PathError(
            f"{goal} is a preview release, not released for production: ask for it explicitly "
            "(`track preview` in Slack, `--allow-preview` on the command line) or pick a released version"
        )


def resolve_goal(
    *, current: Version, target: VersionSpec | Version, track: Track, catalog: Catalog, allow_preview: bool
) -> Version:
    """The exact release the request means, after the refusals (downgrade, equal, preview)."""
    if isinstance(target, VersionSpec) and target.line < current.line:
        # Say "downgrade" before "not in the catalog": 9.0 asked on 10.4 is a downgrade whatever the catalog.
        _refuse_backwards(current, Version(target.major, target.minor, target.build or 0, target.cu or 0),
                          catalog)
    goal = _resolve_target(target, track, catalog)
    _refuse_backwards(current, goal, catalog)
    _refuse_preview(goal, catalog, allow_preview=allow_preview)
    return goal


def plan_path(
    *,
    current: Version,
    target: VersionSpec | Version,
    track: Track | None = None,
    catalog: Catalog,
    allow_preview: bool = False,
    today: date | None = None,
) -> UpgradePath:
    """Every hop from ``current`` to ``target`` under rules 1-8; ``PathError`` when there is no path.

    ``allow_preview`` is the requester's explicit opt-in for a preview target. ``today`` adds the support
    life cycle and catalog freshness warnings (a parameter, so that tests and replays are deterministic).
    """
    track = track or default_track(target)
    current = current.with_cu(current.cu)  # the build number plays no part in planning
    goal = resolve_goal(current=current, target=target, track=track, catalog=catalog,
                        allow_preview=allow_preview)
    plan = PathBuilder(current=current, catalog=catalog)
    _walk(plan, goal)
    hops = tuple(plan.hops)
    warnings = path_warnings(current=current, goal=goal, hops=hops, issues=plan.issues, catalog=catalog,
                             today=today)
    return UpgradePath(current=current, target=goal, track=track, hops=hops, warnings=warnings)


def _walk(plan: PathBuilder, goal: Version) -> None:
    """The hops in order: before 10.0, rule 5, inside 10.5 for rule 3, every intermediate line, the goal."""
    _before_10(plan, goal)
    _first_stop(plan, goal)
    start_line = plan.position.line
    # Rule 2 and rule 4 by construction: the MR of the current line is never a stop (a feature release
    # skips its own line's MR), and from 10.0 (or earlier) the walk to 10.2+ skips 10.1.
    skip_10_1 = start_line <= (10, 0) and goal.line >= (10, 2)
    needs_migration = goal.line >= BROKER_GATEWAY_LINE and plan.position.line < BROKER_GATEWAY_LINE
    if needs_migration and plan.position.line == (10, 5) and not migration_capable(plan.position):
        _up_inside_10_5(plan)
    for line in plan.catalog.main_lines():
        if not start_line < line < goal.line or (skip_10_1 and line == (10, 1)):
            continue
        stop = plan.catalog.latest_cu(line)
        _helpers_before(plan, stop)
        migration_stop = stop.line == (10, 5) and needs_migration
        plan.upgrade(stop, _stop_rule(plan.position, stop, needs_migration=needs_migration,
                                      skip_10_1=skip_10_1),
                     doc="broker_gateway" if migration_stop else "across_major")
    _helpers_before(plan, goal)
    plan.upgrade(goal, lambda start: _target_rule(start, goal, skip_10_1=skip_10_1))


def _before_10(plan: PathBuilder, goal: Version) -> None:
    # Rule 1 before 10.0 too (the docs only speak of 9.6): from 9.5, stop at 9.6 before rule 5.
    if plan.position.major >= 10 or goal.line < (10, 0):
        return
    for line in plan.catalog.main_lines():
        if plan.position.line < line < (10, 0):
            stop = plan.catalog.latest_cu(line)
            plan.upgrade(stop, f"Rule 1: crossing main releases stops at every intermediate one: {stop}.")


def _first_stop(plan: PathBuilder, goal: Version) -> None:
    """Rule 5: 9.6.x, or 10.0.0 older than CU19, goes to 10.0.0 CU19 before anything newer."""
    position = plan.position
    before_first_stop = position.major < 10 or (position.line == (10, 0) and position < FIRST_STOP)
    # "This does not apply for upgrades within the same major version": 10.0.0 CU18 -> CU21 is one hop.
    within_10_0 = position.line == (10, 0) and goal.line == (10, 0)
    if not before_first_stop or goal <= FIRST_STOP or within_10_0:
        return
    if not plan.catalog.contains(FIRST_STOP):
        raise PathError(f"rule 5 needs {FIRST_STOP}, which is not in the release catalog")
    plan.upgrade(
        FIRST_STOP,
        f"Rule 5: from {position} (9.6.x or 10.0.0 older than CU19) first go to 10.0.0 [CU19].",
    )


def _up_inside_10_5(plan: PathBuilder) -> None:
    """Rule 3 when already on 10.5 but below 10.5.0 CU11 / 10.5.12 CU2: "preferably, upgrade first"."""
    catalog = plan.catalog
    if plan.position.track is Track.FEATURE:
        stop = catalog.latest_feature((10, 5))
    else:
        stop = catalog.latest_cu((10, 5))
    if not migration_capable(stop):
        raise PathError(f"rule 3 needs 10.5.0 [CU11] / 10.5.12 [CU2] or later; the catalog has {stop}")
    _helpers_before(plan, stop)
    plan.upgrade(stop, _rule3(stop), doc="broker_gateway")


def _stop_rule(position: Version, stop: Version, *, needs_migration: bool, skip_10_1: bool) -> str:
    if stop.line == (10, 5) and needs_migration:
        if not migration_capable(stop):
            raise PathError(f"rule 3 needs 10.5.0 [CU11] or later; the catalog's latest is {stop}")
        return _rule3(stop)
    if position.line <= (10, 0) and skip_10_1:
        return f"Rule 4: from before 10.1 to 10.2 or higher, skip 10.1: go straight to {stop}."
    return f"Rule 1: crossing main releases stops at the latest CU of every intermediate one: {stop}."


def _helpers_before(plan: PathBuilder, stop: Version) -> None:
    """Helper packages that must run on the current position before the hop to ``stop``."""
    position = plan.position
    catalog = plan.catalog
    if position.line == (10, 0) and stop.line >= (10, 2):
        plan.helper(VERIFY_PORTS_KEY, _rule6(catalog))
    if position.line < BROKER_GATEWAY_LINE <= stop.line:
        if not migration_capable(position):
            raise PathError(f"rule 3: {position} cannot migrate to BrokerGateway before {stop}")
        plan.helper(
            BROKER_GATEWAY_KEY,
            f"Rule 3: upgrading to 10.6.0/10.6.1 or higher needs the BrokerGateway migration, done on "
            f"{position} before installing {stop} (automatic migration: the agents are not restarted).",
        )
    grpc_before = GRPC_CHECK in catalog.checks_for(position)
    if GRPC_CHECK in catalog.checks_for(stop) and not grpc_before:
        helper = catalog.helper(VERIFY_GRPC_KEY)
        plan.helper(
            VERIFY_GRPC_KEY,
            f"Packages from 10.5.10/10.6.0 run the {GRPC_CHECK} prerequisite: run {helper.name} first "
            f"(about {helper.minutes:g} minute(s), no restart, whole cluster at once) so non-default network "
            f"settings or failing gRPC between agents show before the window ({catalog.doc_url('ki_grpc')}).",
        )


def _rule3(stop: Version) -> str:
    return (
        "Rule 3: targets of 10.6 and above need the BrokerGateway migration, to be run on 10.5.0 [CU11] or "
        f"later / 10.5.12 [CU2] (\"preferably, upgrade first\"): stop at {stop}."
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
    if skip_10_1 and previous.line <= (10, 0):
        # Checked before rule 2: from feature release 10.0.5 the next main release would be 10.1.0, but
        # rule 4 skips 10.1 altogether.
        feature = previous.track is Track.FEATURE
        extra = f" (and rule 2: feature release {previous} skips 10.0.0)" if feature else ""
        return f"Target {goal}: rule 4, from before 10.1 to 10.2 or higher skip 10.1{extra}."
    next_main = (previous.major, previous.minor + 1)
    if previous.track is Track.FEATURE and goal.track is Track.MAIN and goal.line == next_main:
        return (
            f"Target {goal}: rule 2, from feature release {previous} go straight to the next main release, "
            f"skipping {previous.major}.{previous.minor}.0."
        )
    return f"Target {goal}: the last hop, with the full upgrade package (rule 7)."
