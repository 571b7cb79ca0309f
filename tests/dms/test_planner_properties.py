"""Properties of every plan: never backwards, ends on the target, never skips a required stop."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dms.catalog import load_catalog
from dms.exceptions import PathError
from dms.planner import FIRST_STOP, migration_capable, package_kind, plan_path
from dms.upgrade_path import PackageKind, UpgradePath, WarningKind
from dms.versions import Version, parse_version

CATALOG = load_catalog()
KNOWN = CATALOG.versions
MAIN_LINES = CATALOG.main_lines()

# Agents may run versions the catalog never listed (older CUs, odd builds): they only have to parse.
unlisted = st.builds(
    Version,
    major=st.sampled_from([9, 10]),
    minor=st.integers(min_value=0, max_value=6),
    build=st.sampled_from([0, 0, 1, 5, 12]),
    cu=st.integers(min_value=0, max_value=25),
)
currents = st.one_of(st.sampled_from(KNOWN), unlisted)


@st.composite
def current_and_target(draw: st.DrawFn) -> tuple[Version, Version]:
    current = draw(currents)
    later = [version for version in KNOWN if version > current]
    target = draw(st.sampled_from(later)) if later else draw(st.sampled_from(KNOWN[-1:]))
    return current, target


def _plan(current: Version, target: Version) -> UpgradePath:
    # Targets are drawn from every known release, previews included: opt in so they are planned too.
    return plan_path(current=current, target=target, catalog=CATALOG, allow_preview=True)


@settings(max_examples=300, deadline=None)
@given(current_and_target())
def test_never_backwards_and_ends_on_target(pair: tuple[Version, Version]) -> None:
    current, target = pair
    if not target > current:
        return
    path = _plan(current, target)
    position = current
    for hop in path.hops:
        if hop.package is PackageKind.HELPER:
            assert hop.version == position  # helpers do not move the version
        else:
            assert hop.version > position
            assert CATALOG.contains(hop.version)
            assert hop.package is package_kind(position, hop.version)
            position = hop.version
    assert path.hops[-1].package is not PackageKind.HELPER
    assert path.hops[-1].version == target == path.target


@settings(max_examples=300, deadline=None)
@given(current_and_target())
def test_never_skips_a_required_stop(pair: tuple[Version, Version]) -> None:
    current, target = pair
    if not target > current:
        return
    path = _plan(current, target)
    position = current
    helpers_here: list[str] = []
    for hop in path.hops:
        if hop.package is PackageKind.HELPER:
            helpers_here.append(hop.name)
            continue
        # Rule 5: nothing past 10.0.0 CU19 from 9.x or an older 10.0.0 CU.
        if position.major < 10 or (position.line == (10, 0) and position < FIRST_STOP):
            assert hop.version <= FIRST_STOP or hop.version.line == (10, 0)
        # Rule 1 (with rule 4's exception): no main release line is jumped over.
        skipped = [line for line in MAIN_LINES if position.line < line < hop.version.line]
        if position.line <= (10, 0):
            skipped = [line for line in skipped if line != (10, 1)]
        assert not skipped, f"{position} -> {hop.version} skips {skipped}"
        # Rule 6: leaving 10.0 for 10.2+ needs VerifyClusterPorts right before.
        if position.line == (10, 0) and hop.version.line >= (10, 2):
            assert "VerifyClusterPorts.dmupgrade" in helpers_here
        # Rule 3: entering 10.6+ needs the BrokerGateway migration from a capable version.
        if position.line < (10, 6) <= hop.version.line:
            assert migration_capable(position)
            assert any("BrokerGateway" in name for name in helpers_here)
        helpers_here = []
        position = hop.version


@settings(max_examples=100, deadline=None)
@given(current_and_target())
@example((parse_version("10.5.0 CU19"), parse_version("10.6.0 CU7")))  # from a preview, through a migration
def test_a_preview_target_needs_the_opt_in_and_then_warns(pair: tuple[Version, Version]) -> None:
    current, target = pair
    if not target > current or not CATALOG.is_preview(target):
        return
    with pytest.raises(PathError, match="preview release"):
        plan_path(current=current, target=target, catalog=CATALOG)
    path = _plan(current, target)
    assert [warning.kind for warning in path.warnings if warning.kind is WarningKind.PREVIEW] == [
        WarningKind.PREVIEW]
    # No preview is ever an intermediate stop. A migration run on the version the DMS already runs (the
    # BrokerGateway migration on 10.5.0 CU19, itself a preview) is no stop the planner chose.
    assert not any(CATALOG.is_preview(hop.version) for hop in path.hops[:-1] if hop.version != current)
