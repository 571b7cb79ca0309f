"""The packaged catalog against DataMiner's documentation (SkylineCommunications/dataminer-docs).

Each test names the page it follows; the release-note files are release-notes/General/<line>/<file>.md in
that repository (https://docs.dataminer.services/release-notes/...).
"""

from __future__ import annotations

import pytest

from dms.catalog import Catalog, load_catalog
from dms.versions import Track, parse_version


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.mark.parametrize("text", ["10.5.0 CU19", "10.6.0 CU7", "10.6.10", "10.7.0"])
def test_previews_follow_the_release_notes(catalog: Catalog, text: str) -> None:
    # "General Main Release 10.5.0 CU19 - Preview" (General_Main_Release_10.5.0_CU19.md), likewise
    # 10.6.0 CU7, Feature Release 10.6.10 and Main Release 10.7.0.
    assert catalog.is_preview(parse_version(text))


def test_10_5_0_cu19_is_no_stop(catalog: Catalog) -> None:
    assert catalog.latest_cu((10, 5)) == parse_version("10.5.0 CU18")
    assert catalog.latest_cu((10, 6)) == parse_version("10.6.0 CU6")


@pytest.mark.parametrize(
    "text",
    ["10.2.9 CU1", "10.2.11 CU1", "10.2.12 CU1", "10.2.12 CU2", "10.3.2 CU1", "10.3.3 CU1", "10.3.9 CU1",
     "10.3.9 CU2", "10.3.10 CU1", "10.4.6 CU1", "10.5.2 CU1", "10.5.7 CU1", "10.5.8 CU1", "10.6.2 CU1",
     "10.6.3 CU1", "9.5.0 CU12", "9.6.0 CU18"],
)
def test_feature_release_cus_are_listed(catalog: Catalog, text: str) -> None:
    # release-notes/General/General_Feature_Release_10.N/General_Feature_Release_10.N.b_CUc.md exist for each.
    version = parse_version(text)
    assert catalog.contains(version) and not catalog.is_preview(version)


@pytest.mark.parametrize("text", ["10.2.10 CU1", "10.3.1 CU1", "10.4.5 CU1", "10.6.4 CU1"])
def test_no_invented_feature_release_cus(catalog: Catalog, text: str) -> None:
    assert not catalog.contains(parse_version(text))


def _requirements(catalog: Catalog, text: str) -> set[str]:
    version = parse_version(text)
    return {req.name for req in catalog.requirements if req.applies_to(version)}


@pytest.mark.parametrize(
    ("version", "dotnet10"),
    [("10.5.9", False), ("10.5.12 CU2", False), ("10.5.0 CU9", False), ("10.5.0 CU10", True),
     ("10.6.0", True), ("10.6.1", True), ("10.7.0", True)],
)
def test_dotnet_10_per_compute_requirements(catalog: Catalog, version: str, dotnet10: bool) -> None:
    # DataMiner Compute Requirements, Microsoft .NET: FR 10.4.10 to 10.5.12 need .NET Framework 4.8 and
    # .NET 8;
    # .NET 10 from MR 10.5.0 [CU10], MR 10.6.0, FR 10.6.1.
    # https://docs.dataminer.services/dataminer/Reference/DataMiner_Compute_Requirements.html#microsoft-net
    assert ("ASP.NET Core hosting bundle (.NET 10)" in _requirements(catalog, version)) is dotnet10


@pytest.mark.parametrize(
    ("version", "vc144"),
    [("10.5.0 CU10", False), ("10.5.0 CU11", True), ("10.6.0", False), ("10.6.0 CU1", True),
     ("10.6.1", False), ("10.6.2", True), ("10.5.12 CU2", False), ("10.7.0", True)],
)
def test_vcpp_14_44_per_release_line(catalog: Catalog, version: str, vc144: bool) -> None:
    # Preparing to upgrade, Upgrade prerequisites: 14.44.35211.0 from 10.5.0 [CU11]/10.6.0 [CU1]/10.6.2
    # (Compute Requirements says 10.6.3: the earlier is taken). One threshold per track could not say
    # "10.5.0 CU11 and 10.6.0 CU1 but not 10.6.0 CU0".
    names = _requirements(catalog, version)
    assert any("14.44.35211.0" in name for name in names) is vc144
    assert not (vc144 and any("14.40" in name for name in names))


@pytest.mark.parametrize(
    ("version", "expected"),
    [("10.2.0 CU21", {"5.0"}), ("10.3.0", {"5.0", "6.0"}), ("10.3.0 CU12", {"6.0"}), ("10.3.0 CU22", set()),
     ("10.4.5", {"6.0"}), ("10.4.0 CU7", set())],
)
def test_dotnet_5_and_6_hosting_bundles(catalog: Catalog, version: str, expected: set[str]) -> None:
    # The 9.6.0 -> 10.3.0 example installs "ASP.NET Core 5.0.11, and ASP.NET Core 6.0.13"; Compute
    # Requirements bounds them (.NET 5 until 10.3.0 [CU11]/10.3.8, .NET 6 until 10.4.0 [CU6]/10.4.9).
    names = _requirements(catalog, version)
    assert {major for major in ("5.0", "6.0") if f"ASP.NET Core {major} hosting bundle" in " ".join(names)} \
        == expected


@pytest.mark.parametrize(
    ("version", "present", "absent"),
    [("10.2.0 CU14", {"Verify NATS is Running"}, {"Verify NATS Cluster", "Service Automatic Properties"}),
     ("10.2.7", {"Verify NATS is Running", "Service Automatic Properties"}, set()),
     ("10.5.0 CU3", {"Verify NATS Cluster"}, {"Verify NATS is Running"}),
     ("10.3.0", {"Service Automatic Properties"}, set()),
     ("10.6.0", {"Verify No Annotations", "Verify gRPC Connection"}, set()),
     ("10.5.12", {"Verify gRPC Connection"}, {"Verify No Annotations"}),
     ("10.5.0 CU18", set(), {"Verify gRPC Connection"})],
)
def test_prerequisite_checks(catalog: Catalog, version: str, present: set[str], absent: set[str]) -> None:
    # Preparing to upgrade, Prerequisite checks: Verify NATS is Running from 10.2.0 [CU14]/10.2.7 until
    # Verify NATS Cluster takes over at 10.5.0 [CU3]/10.5.6; Service Automatic Properties from 10.2.3/10.3.0;
    # Verify No Annotations for 10.6.0/10.6.1; VerifyGRPCConnection from 10.5.10/10.6.0.
    checks = set(catalog.checks_for(parse_version(version)))
    assert present <= checks and not absent & checks


def test_verify_grpc_helper(catalog: Catalog) -> None:
    # VerifyGRPCConnection.dmupgrade: "usually takes about one minute", "no DMA restart will be caused".
    helper = catalog.helper("verify_grpc_connection")
    assert (helper.minutes, helper.restarts_agents) == (1, False)


def test_support_dates(catalog: Catalog) -> None:
    # Software support lifecycles: 10.5.0 regular updates until 20 Nov 2026, supported until 25 Feb 2028.
    entry = next(item for item in catalog.support if item.main.line == (10, 5))
    dates = (entry.regular_updates_until, entry.supported_until, entry.limited_support_until)
    assert tuple(map(str, dates)) == ("2026-11-20", "2028-02-25", "2029-02-23")
    assert {item.main.line for item in catalog.support} == {(10, 3), (10, 4), (10, 5), (10, 6), (10, 7)}


def test_main_lines_exclude_previews(catalog: Catalog) -> None:
    assert (10, 7) not in catalog.main_lines()
    assert catalog.latest_feature((10, 6)) == parse_version("10.6.9")
    assert parse_version("10.6.9").track is Track.FEATURE
