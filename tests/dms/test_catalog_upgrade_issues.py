"""The shipped catalog's upgrade known issues, at CU precision, and its age, against dataminer-docs pages.

Pages followed: dataminer/Troubleshooting/Known_issues/KI_*.md (each test names its page), the 10.5.0 CU5
release notes (RN 43099), DataMiner Compute Requirements (Microsoft Visual C++) and BrokerGateway_Migration.
"""

from __future__ import annotations

from datetime import date

import pytest

from dms.catalog import load_catalog
from dms.estimate import estimate
from dms.planner import plan_path
from dms.upgrade_path import UpgradePath, WarningKind
from dms.versions import parse_spec, parse_version

CATALOG = load_catalog()


def _path(current: str, target: str, *, today: date | None = None) -> UpgradePath:
    return plan_path(current=parse_version(current), target=parse_spec(target), catalog=CATALOG, today=today)


def _issues(path: UpgradePath) -> set[str]:
    return {issue.key for issue in CATALOG.known_issues
            if any(issue.title in warning.text for warning in path.warnings_of(WarningKind.KNOWN_ISSUE))}


@pytest.mark.parametrize("uid", [
    "KI_SNMPv3_elements_broken_after_upgrade",
    "KI_Failover_configuration_cannot_be_changed_with_BrokerGateway",
    "KI_BPA_Check_Deprecated_DLL_Usage_MySql_Data_flagged", "KI_GQI_DxM_unavailable_missing_Newtonsoft_Json",
    "KI_Upgrade_fails_VerifyClusterPorts_prerequisite", "KI_LDAP_users_unable_to_log_in_after_upgrade",
    "KI_SLAutomation_memory_leak_AddScriptOutput", "KI_Upgrade_fails_VerifyGRPCConnection_prerequisite",
])
def test_every_upgrade_known_issue_is_in_the_catalog(uid: str) -> None:
    assert uid in {issue.uid for issue in CATALOG.known_issues}


def test_prerequisite_issue_fixed_only_in_10_5_0_cu5() -> None:
    # KI_Prerequisites_fail_when_upgrading_from_10.4.0-to-10.5.3-CU3: "Fix: Install DataMiner 10.5.0 [CU5]
    # or 10.5.8" (RN 43099 is in the 10.5.0 CU5 notes); 10.5.0 CU4 ships with the affected 10.5.7.
    path = _path("10.4.2", "10.5.0 CU4")
    assert [str(hop.version) for hop in path.upgrade_hops] == ["10.5.0 CU2", "10.5.0 CU4"]
    assert [str(hop.version) for hop in _path("10.4.2", "10.5.0 CU5").upgrade_hops] == ["10.5.0 CU5"]


def test_prerequisite_issue_covers_every_10_4_0_cu() -> None:
    # The same page's failing log is from "10.4.0-CU4": "10.4.0" there is the main release with its CUs,
    # so 10.3.6 -> 10.5.6 (via 10.4.0 CU21) keeps the documented workaround stop at 10.5.0 CU2.
    issue = next(i for i in CATALOG.known_issues if i.key == "prerequisites_104_to_105")
    assert issue.hit_by(start=parse_version("10.4.0 CU21"), landing=parse_version("10.5.6"), package="full")
    assert [str(hop.version) for hop in _path("10.3.6", "10.5.6").upgrade_hops] == [
        "10.4.0 CU21", "10.5.0 CU2", "10.5.6"]


def test_snmpv3_warning_from_10_4_0_cu6_to_10_4_9_through_10_4_12() -> None:
    # KI_SNMPv3_elements_broken_after_upgrade: "Feature Release versions 10.4.9 to 10.4.12, after an
    # upgrade from a 10.4.0 Main Release version starting from 10.4.0 [CU6]."
    hit = _path("10.4.0 CU6", "10.4.10")
    assert "snmpv3_elements_broken_after_upgrade" in _issues(hit)
    (warning,) = [w for w in hit.warnings_of(WarningKind.KNOWN_ISSUE) if "SNMPv3" in w.text]
    assert "MigrateSNMPv3PasswordsToElementConfig" in warning.text
    assert warning.url and warning.url.endswith("/KI_SNMPv3_elements_broken_after_upgrade.html")
    assert "snmpv3_elements_broken_after_upgrade" not in _issues(_path("10.4.0 CU5", "10.4.10"))


def test_brokergateway_failover_issue_on_10_6_1_to_10_6_7() -> None:
    # KI_Failover_configuration_cannot_be_changed_with_BrokerGateway: up to 10.6.0 [CU4]/10.6.7.
    assert "failover_configuration_brokergateway" in _issues(_path("10.6.3", "10.6.7"))
    assert "failover_configuration_brokergateway" not in _issues(_path("10.6.3", "10.6.8"))


def test_vcpp_2010_uninstall_warning_on_the_crossing_hop() -> None:
    # Compute Requirements, Microsoft Visual C++: 2010 needed below 10.3.9/10.3.0 [CU6]/10.2.0 [CU18];
    # "uninstall ... only after upgrading to 10.3.9, 10.3.0 [CU6], or 10.2.0 [CU18]".
    (hop,) = _path("10.2.0 CU5", "10.3.0 CU10").upgrade_hops
    assert any("MSVC 2010" in item and "only after the upgrade" in item for item in hop.requirements)
    assert not any("MSVC 2010" in item for item in _path("10.3.0 CU6", "10.3.0 CU10").hops[0].requirements)


def test_natsmigration_minutes_are_an_assumption() -> None:
    # BrokerGateway_Migration gives no duration for NATSMigration.dmupgrade.
    path = _path("10.5.12", "10.6.3")
    phases = estimate(path=path, agents=1, package_size_mb=700, upload_bandwidth_mbps=50,
                      prerequisite_check_minutes=5, agent_startup_minutes=15).phases
    factors = [factor for phase in phases for factor in phase.factors if "NATSMigration" in factor]
    assert any(factor.startswith("[assumption] NATSMigration") for factor in factors)
    assert not any(factor.startswith("[docs] NATSMigration") for factor in factors)


def test_catalog_age_is_the_documentation_snapshot() -> None:
    # The docs mirror the catalog is built from: commit f85ae8d..., 2026-08-21.
    assert CATALOG.docs_snapshot == date(2026, 8, 21)
    assert CATALOG.docs_commit == "f85ae8d6e6527f40e10f8c37a876f8c44066d275"
    stale = _path("10.5.0 CU2", "10.5.0 CU18", today=date(2026, 12, 7)).warnings_of(WarningKind.CATALOG)
    assert stale and "as of 2026-08-21 (108 days ago" in stale[0].text
    assert not _path("10.5.0 CU2", "10.5.0 CU18", today=date(2026, 11, 19)).warnings_of(WarningKind.CATALOG)
