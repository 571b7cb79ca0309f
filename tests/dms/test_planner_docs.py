"""The planner on the documented cases, each against the documentation page it follows."""

from __future__ import annotations

from datetime import date

import pytest

from dms.catalog import Catalog, load_catalog
from dms.exceptions import PathError
from dms.planner import plan_path
from dms.upgrade_path import UpgradePath, WarningKind
from dms.versions import parse_spec, parse_version

PREPARE = ("https://docs.dataminer.services/dataminer/Administrator_guide/DataMiner_Agents/Upgrading_a_DMA/"
           "Preparing_to_upgrade_a_DataMiner_Agent.html")
TODAY = date(2026, 12, 1)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def plan(catalog: Catalog, current: str, target: str, **options: object) -> UpgradePath:
    return plan_path(current=parse_version(current), target=parse_spec(target), catalog=catalog,
                     **options)  # type: ignore[arg-type]


def stops(path: UpgradePath) -> list[tuple[str, str]]:
    return [(str(hop.version), hop.package.value) for hop in path.hops]


def test_within_10_0_no_cu19_stop(catalog: Catalog) -> None:
    # Preparing to upgrade, "Best practices when upgrading across major versions": the 10.0.0 [CU19] rule is
    # one of the exceptions to crossing major versions; "This does not apply for upgrades within the same
    # major version". 10.0.0 CU18 -> CU21 is one CU hop, not a restart at CU19 first.
    path = plan(catalog, "10.0.0 CU18", "10.0.0 CU21")
    assert stops(path) == [("10.0.0 CU21", "cu")]
    assert path.hops[0].rule_url.startswith(PREPARE)


def test_from_9_6_still_stops_at_cu19(catalog: Catalog) -> None:
    path = plan(catalog, "9.6.0 CU5", "10.0.0 CU21")
    assert stops(path) == [("10.0.0 CU19", "full"), ("10.0.0 CU21", "cu")]


def test_feature_10_0_5_to_10_2_is_rule_4(catalog: Catalog) -> None:
    # Preparing to upgrade: "from a version prior to DataMiner 10.1.x to 10.2.x or higher, skip DataMiner
    # 10.1". Rule 2 (next main release) would name 10.1.0, which is exactly what is skipped.
    path = plan(catalog, "10.0.5", "10.2")
    assert stops(path) == [("10.0.5", "helper"), ("10.2.0 CU21", "full")]
    assert path.hops[1].rule.startswith("Target 10.2.0 CU21: rule 4")
    assert "next main release" not in path.hops[1].rule


def test_mop_short_cu_form_plans(catalog: Catalog) -> None:
    # The MOP writes "10.0 CU5" / "10.1 CU1" (MOP_Upgrading_a_DMA_DMS).
    path = plan(catalog, "10.0 CU5", "10.2 CU5")
    assert str(path.current) == "10.0.0 CU5" and str(path.target) == "10.2.0 CU5"


@pytest.mark.parametrize("target", ["10.7", "10.6.10", "10.5.0 CU19"])
def test_preview_refused_without_opt_in(catalog: Catalog, target: str) -> None:
    # Release notes "General Main Release 10.7.0 - Preview": "We are still working on this release."
    with pytest.raises(PathError, match=r"preview release.*ask for it explicitly"):
        plan(catalog, "10.5.0 CU18", target)


def test_preview_with_opt_in_warns(catalog: Catalog) -> None:
    path = plan(catalog, "10.6.0 CU6", "10.7", allow_preview=True)
    assert str(path.target) == "10.7.0"
    # Besides the preview, only the Known issues pages with no fix yet ("From ... onwards":
    # VerifyClusterPorts, VerifyGRPCConnection, IDP Discovery) reach 10.7.0.
    assert path.warnings[0].kind is WarningKind.PREVIEW
    assert {warning.kind for warning in path.warnings[1:]} == {WarningKind.KNOWN_ISSUE}
    open_ended = [issue.title for issue in catalog.known_issues
                  if any(span.before is None for span in issue.to_versions)]
    assert all(any(title in warning.text for title in open_ended) for warning in path.warnings[1:])


def test_broker_gateway_hop_data(catalog: Catalog) -> None:
    path = plan(catalog, "10.4.0 CU3", "10.6")
    migration = path.hops[1]
    assert migration.name.startswith("NATSMigration.dmupgrade") and not migration.restarts_agents
    assert migration.rule_url == "https://docs.dataminer.services/dataminer/DataMiner_Tools/BrokerGateway_Migration.html"


def test_known_issue_10_4_to_10_5_0_cu3_is_avoided(catalog: Catalog) -> None:
    # KI_Prerequisites_fail_when_upgrading_from_10.4.0-to-10.5.3-CU3: upgrade to 10.5.0 [CU0]-[CU2] first.
    path = plan(catalog, "10.4.2", "10.5.0 CU3")
    assert stops(path) == [("10.5.0 CU2", "full"), ("10.5.0 CU3", "cu")]
    assert "Known issue" in path.hops[0].rule and "KI_Prerequisites_fail" in path.hops[0].rule_url
    assert "rule 7" in path.hops[1].rule
    keys = [warning.text for warning in path.warnings if warning.kind is WarningKind.KNOWN_ISSUE]
    assert not any("Prerequisites fail" in text for text in keys)


def test_known_issue_update_center_cu_package_is_a_warning(catalog: Catalog) -> None:
    # KI_Unable_to_perform_a_DataMiner_upgrade_via_Update_Center: 10.4.0 and higher, no fix; no other path.
    path = plan(catalog, "10.4.0 CU3", "10.4.0 CU8")
    issues = path.warnings_of(WarningKind.KNOWN_ISSUE)
    assert any("BPA executor" in warning.text and warning.hop == 0 for warning in issues)
    assert all(warning.url.startswith("https://docs.dataminer.services/dataminer/Troubleshooting/Known_issues/")
               for warning in issues)


def test_example_960_to_1030_hosting_bundles(catalog: Catalog) -> None:
    # Preparing to upgrade, Example upgrade path (9.6.0 -> 10.3.0): .NET 4.8, ASP.NET Core 5.0.11 and 6.0.13,
    # ports, 10.0.0 [CU19], VerifyClusterPorts, 10.2.0, 10.3.0.
    path = plan_path(current=parse_version("9.6.0"), target=parse_version("10.3.0"), catalog=catalog)
    assert stops(path) == [("10.0.0 CU19", "full"), ("10.0.0 CU19", "helper"), ("10.2.0 CU21", "full"),
                           ("10.3.0", "full")]
    needed = " ".join(req for hop in path.hops for req in hop.requirements)
    for text in (".NET Framework 4.8", "ASP.NET Core 5.0", "ASP.NET Core 6.0", "Ports 9090, 4222, 6222"):
        assert text in needed


def test_dotnet_10_on_10_5_9_to_10_6(catalog: Catalog) -> None:
    # Compute Requirements: .NET 10 from MR 10.6.0 (not for 10.5.x feature releases).
    path = plan(catalog, "10.5.9", "10.6")
    final = path.hops[-1]
    assert str(final.version) == "10.6.0 CU6"
    assert "ASP.NET Core hosting bundle (.NET 10)" in final.requirements
    assert not any(".NET 10" in req for hop in path.hops[:-1] for req in hop.requirements)


def test_support_warnings(catalog: Catalog) -> None:
    # Software support lifecycles: 10.3.0 supported until 27 Feb 2026; "Older versions are no longer
    # supported".
    path = plan(catalog, "9.6.0", "10.3", today=TODAY)
    texts = [warning.text for warning in path.warnings_of(WarningKind.SUPPORT)]
    assert texts == ["The current version: 9.6.0 is no longer supported.",
                     "The target version: 10.3.0 is out of support since 2026-02-27; limited support "
                     "(no software fixes) until 2027-02-26."]
    assert not plan(catalog, "10.5.0 CU2", "10.5.0 CU18", today=TODAY).warnings_of(WarningKind.SUPPORT)


def test_no_support_or_freshness_without_today(catalog: Catalog) -> None:
    path = plan(catalog, "9.6.0", "10.3")
    assert not path.warnings_of(WarningKind.SUPPORT) and not path.warnings_of(WarningKind.CATALOG)


def test_freshness(catalog: Catalog) -> None:
    # Counted from the documentation snapshot the catalog was synced from, not from an edit date.
    assert catalog.docs_snapshot == date(2026, 8, 21)
    fresh = plan(catalog, "10.5.0 CU2", "10.5.0 CU18", today=date(2026, 11, 19))  # 90 days
    assert not fresh.warnings_of(WarningKind.CATALOG)
    stale = plan(catalog, "10.5.0 CU2", "10.5.0 CU18", today=date(2026, 11, 20))  # 91 days
    (warning,) = stale.warnings_of(WarningKind.CATALOG)
    assert "91 days ago" in warning.text and "dm-upgrade catalog sync" in warning.text


def test_every_hop_has_a_rule_and_a_current_link(catalog: Catalog) -> None:
    cases = [("9.5.0", "10.6"), ("10.0.5", "10.2"), ("10.4.2", "10.5.0 CU3"), ("10.5.3", "10.6.5")]
    for current, target in cases:
        for hop in plan(catalog, current, target).hops:
            assert hop.rule and hop.rule_url.startswith("https://docs.dataminer.services/dataminer/")
