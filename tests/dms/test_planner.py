"""The planner on the documented cases of ``Preparing_to_upgrade_a_DataMiner_Agent`` (rules 1-8)."""

from __future__ import annotations

import pytest

from dms.catalog import Catalog, load_catalog
from dms.exceptions import PathError
from dms.planner import default_track, plan_path
from dms.upgrade_path import PackageKind, UpgradePath
from dms.versions import Track, parse_spec, parse_version


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def plan(catalog: Catalog, current: str, target: str, track: Track | None = None) -> UpgradePath:
    return plan_path(current=parse_version(current), target=parse_spec(target), track=track, catalog=catalog)


def stops(path: UpgradePath) -> list[tuple[str, str]]:
    return [(str(hop.version), hop.package.value) for hop in path.hops]


def test_documented_example_96_to_103(catalog: Catalog) -> None:
    path = plan(catalog, "9.6.0.0-8538", "10.3")
    assert (str(path.current), str(path.target), path.track) == ("9.6.0", "10.3.0 CU22", Track.MAIN)
    assert stops(path) == [
        ("10.0.0 CU19", "full"), ("10.0.0 CU19", "helper"), ("10.2.0 CU21", "full"), ("10.3.0 CU22", "full")
    ]
    first, ports, mr102, mr103 = path.hops
    assert first.rule.startswith("Rule 5")
    assert ports.name == "VerifyClusterPorts.dmupgrade" and ports.rule.startswith("Rule 6")
    assert not ports.restarts_agents and ports.minutes == 5
    assert mr102.rule.startswith("Rule 4") and "skip 10.1" in mr102.rule
    assert mr103.rule.startswith("Target")
    assert "Ports 9090, 4222, 6222 and 8222 open between agents (NATS)" in first.requirements
    assert ".NET Framework 4.8" in mr102.requirements
    assert "ASP.NET Core hosting bundle (.NET 8)" in mr103.requirements
    assert "Verify Cluster Ports" in mr102.checks
    assert all(hop.rule_url.startswith("https://docs.dataminer.services/") for hop in path.hops)
    assert not any(hop.version.line == (10, 1) for hop in path.hops)


def test_cu_inside_one_main_release_is_direct(catalog: Catalog) -> None:
    path = plan(catalog, "10.4.0 CU6", "10.4.0 CU8")
    assert stops(path) == [("10.4.0 CU8", "cu")]
    assert "rule 7" in path.hops[0].rule


def test_feature_to_main_skips_own_main_release(catalog: Catalog) -> None:
    path = plan(catalog, "10.4.12", "10.5")
    assert stops(path) == [("10.5.0 CU18", "full")]
    assert "rule 2" in path.hops[0].rule and "10.4.0" in path.hops[0].rule


def test_crossing_main_releases_stops_at_each_latest_cu(catalog: Catalog) -> None:
    path = plan(catalog, "10.2.0 CU3", "10.4")
    assert stops(path) == [("10.3.0 CU22", "full"), ("10.4.0 CU21", "full")]
    assert path.hops[0].rule.startswith("Rule 1")


def test_target_106_from_104_passes_broker_gateway(catalog: Catalog) -> None:
    path = plan(catalog, "10.4.0 CU3", "10.6")
    assert stops(path) == [("10.5.0 CU18", "full"), ("10.5.0 CU18", "helper"), ("10.5.0 CU18", "helper"),
                           ("10.6.0 CU6", "full")]
    assert path.hops[0].rule.startswith("Rule 3")
    assert path.hops[0].rule_url.endswith("/dataminer/DataMiner_Tools/BrokerGateway_Migration.html")
    assert "BrokerGateway" in path.hops[1].name and path.hops[1].rule.startswith("Rule 3")
    assert path.hops[2].name == "VerifyGRPCConnection.dmupgrade"


def test_target_106_from_1050_cu1_moves_up_inside_105(catalog: Catalog) -> None:
    path = plan(catalog, "10.5.0 CU1", "10.6")
    assert stops(path)[:2] == [("10.5.0 CU18", "cu"), ("10.5.0 CU18", "helper")]
    assert stops(path)[-1] == ("10.6.0 CU6", "full")


def test_target_106_feature_from_early_105_feature(catalog: Catalog) -> None:
    path = plan(catalog, "10.5.3", "10.6.5")
    assert path.track is Track.FEATURE
    assert stops(path) == [("10.5.3", "helper"), ("10.5.12 CU2", "full"), ("10.5.12 CU2", "helper"),
                           ("10.6.5", "full")]
    assert path.hops[0].name == "VerifyGRPCConnection.dmupgrade"


@pytest.mark.parametrize("current", ["10.5.0 CU2", "10.5.6", "10.5.9", "10.5.0 CU10", "10.5.12 CU1"])
def test_broker_gateway_migration_not_below_10_5_0_cu11(catalog: Catalog, current: str) -> None:
    # BrokerGateway_Migration: "Avoid migrating DataMiner Systems using a DataMiner version lower than
    # 10.5.0 [CU11]/10.5.12 [CU2]" and "Preferably, upgrade to DataMiner 10.5.0 [CU11] or 10.5.12 [CU2]
    # first": https://docs.dataminer.services/dataminer/DataMiner_Tools/BrokerGateway_Migration.html
    path = plan(catalog, current, "10.6")
    migration = next(index for index, hop in enumerate(path.hops) if "BrokerGateway" in hop.name)
    assert path.hops[migration].version in (parse_version("10.5.0 CU18"), parse_version("10.5.12 CU2"))
    assert path.hops[0].package is not PackageKind.HELPER or path.hops[0].name.startswith("VerifyGRPC")
    assert not path.hops[migration].restarts_agents  # "The DataMiner Agents will not be restarted."


@pytest.mark.parametrize("current", ["10.5.0 CU11", "10.5.0 CU18", "10.5.12 CU2"])
def test_target_106_from_migration_capable_needs_only_the_helpers(catalog: Catalog, current: str) -> None:
    path = plan(catalog, current, "10.6")
    assert [hop.package for hop in path.hops][-1] is PackageKind.FULL
    assert all(hop.package is PackageKind.HELPER for hop in path.hops[:-1])


def test_broker_gateway_checklist_data(catalog: Catalog) -> None:
    path = plan(catalog, "10.5.0 CU18", "10.6")
    items = path.checklist_items()
    assert any(phase == "details" and "ASP.NET Core Runtime 10" in text for phase, text in items)
    assert any(phase == "details" and "15 minutes" in text for phase, text in items)
    assert any(phase == "verify" and "Data Aggregator" in text for phase, text in items)
    hop = path.to_json()["hops"][0]
    assert hop["prerequisites"] and hop["post_steps"] and hop["restarts_agents"] is False


def test_10_0_to_10_2_runs_verify_cluster_ports_first(catalog: Catalog) -> None:
    path = plan(catalog, "10.0.0 CU20", "10.2")
    assert stops(path) == [("10.0.0 CU20", "helper"), ("10.2.0 CU21", "full")]
    assert "rule 4" in path.hops[1].rule


def test_10_0_old_cu_goes_to_cu19_with_cu_package(catalog: Catalog) -> None:
    path = plan(catalog, "10.0.0 CU5", "10.2.0 CU4")
    assert stops(path) == [("10.0.0 CU19", "cu"), ("10.0.0 CU19", "helper"), ("10.2.0 CU4", "full")]


def test_96_to_101_does_not_need_verify_cluster_ports(catalog: Catalog) -> None:
    path = plan(catalog, "9.6.0", "10.1")
    assert stops(path) == [("10.0.0 CU19", "full"), ("10.1.0 CU21", "full")]


def test_96_to_10_0_cu10_goes_directly(catalog: Catalog) -> None:
    assert stops(plan(catalog, "9.6.0", "10.0.0 CU10")) == [("10.0.0 CU10", "full")]


def test_current_older_than_the_catalog_only_has_to_parse(catalog: Catalog) -> None:
    path = plan(catalog, "9.1.0", "10.0.0 CU19")
    assert stops(path)[-1] == ("10.0.0 CU19", "full")


def test_downgrade_refused_with_procedure(catalog: Catalog) -> None:
    with pytest.raises(PathError, match=r"older than the current.*never downgrades.*restore the VM snapshot"):
        plan(catalog, "10.4.0 CU3", "10.3")


def test_an_older_line_missing_from_the_catalog_is_still_called_a_downgrade(catalog: Catalog) -> None:
    assert not any(v.line == (9, 0) for v in catalog.versions)
    with pytest.raises(PathError, match=r"9\.0\.0 is older than the current 10\.4\.0 CU3.*never downgrades"):
        plan_path(current=parse_version("10.4.0 CU3"), target=parse_spec("9.0"), catalog=catalog)


def test_feature_to_own_main_release_is_a_downgrade_with_hint(catalog: Catalog) -> None:
    with pytest.raises(PathError, match=r"reaches the main track at 10\.5\.0"):
        plan(catalog, "10.4.12", "10.4")


def test_equal_refused(catalog: Catalog) -> None:
    with pytest.raises(PathError, match=r"already run 10\.4\.0 CU21"):
        plan(catalog, "10.4.0.0-14772-CU21", "10.4")


def test_not_in_catalog_refused_with_nearest(catalog: Catalog) -> None:
    with pytest.raises(PathError, match=r"not in the release catalog; nearest known: .*10\.3\.0 CU22"):
        plan(catalog, "10.2.0", "10.3.0 CU40")


def test_unknown_track_for_target_refused(catalog: Catalog) -> None:
    with pytest.raises(PathError, match="not on the main track"):
        plan(catalog, "10.2.0", "10.3.4", Track.MAIN)
    with pytest.raises(PathError, match="not in the release catalog"):
        plan(catalog, "9.5.0", "9.6", Track.FEATURE)


@pytest.mark.parametrize(
    ("target", "track"), [("10.3", Track.MAIN), ("10.3.0", Track.MAIN), ("10.3.4", Track.FEATURE),
                          ("10.5.12 CU2", Track.FEATURE), ("10.2.0 CU5", Track.MAIN)],
)
def test_default_track(target: str, track: Track) -> None:
    assert default_track(parse_spec(target)) is track


def test_feature_track_means_latest_feature_release(catalog: Catalog) -> None:
    path = plan(catalog, "10.2.0 CU3", "10.3", Track.FEATURE)
    assert str(path.target) == "10.3.12"
    assert stops(path) == [("10.3.12", "full")]


def test_exact_version_target(catalog: Catalog) -> None:
    path = plan_path(current=parse_version("10.4.0"), target=parse_version("10.4.0 CU8"), catalog=catalog)
    assert stops(path) == [("10.4.0 CU8", "cu")]


def test_json_shape(catalog: Catalog) -> None:
    data = plan(catalog, "9.6.0", "10.3").to_json()
    assert set(data) == {"from", "to", "track", "hops", "warnings"}
    fields = {"version", "package", "name", "rule", "rule_url", "checks", "requirements", "restarts_agents"}
    assert set(data["hops"][0]) == fields
