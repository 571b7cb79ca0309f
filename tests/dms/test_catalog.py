"""The packaged release catalog, its queries, and the errors a broken catalog file gives."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from dms.catalog import Catalog, load_catalog, parse_catalog
from dms.exceptions import CatalogError, PathError
from dms.versions import Track, Version, parse_spec, parse_version


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def _packaged() -> dict[str, Any]:
    return tomllib.loads(resources.files("dms").joinpath("data/catalog.toml").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("line", "latest"),
    [((10, 0), "10.0.0 CU21"), ((10, 1), "10.1.0 CU21"), ((10, 2), "10.2.0 CU21"), ((10, 3), "10.3.0 CU22"),
     ((10, 4), "10.4.0 CU21"), ((10, 5), "10.5.0 CU18"), ((10, 6), "10.6.0 CU6"), ((9, 6), "9.6.0 CU18")],
)
def test_latest_cu_per_main_release(catalog: Catalog, line: tuple[int, int], latest: str) -> None:
    assert catalog.latest_cu(line) == parse_version(latest)


def test_latest_cu_of_a_feature_release(catalog: Catalog) -> None:
    assert catalog.latest_cu(parse_version("10.5.12")) == parse_version("10.5.12 CU2")
    assert catalog.latest_cu(parse_version("10.3.4")) == parse_version("10.3.4")


@pytest.mark.parametrize(
    "text", ["9.5.0", "9.6.0", "10.0.0 CU19", "10.0.2", "10.0.13", "10.1.12", "10.3.0 CU22", "10.5.12 CU2",
             "10.6.9", "10.6.10", "10.7.0", "10.5.0 CU19", "10.6.0 CU7"],
)
def test_contains_documented_releases(catalog: Catalog, text: str) -> None:
    assert catalog.contains(parse_version(text))


@pytest.mark.parametrize(
    "text", ["10.0.0 CU22", "10.0.1", "10.0.14", "10.5.12 CU3", "10.6.11", "10.8.0", "9.4.0"]
)
def test_does_not_contain_unknown_releases(catalog: Catalog, text: str) -> None:
    assert not catalog.contains(parse_version(text))


def test_previews_are_flagged_and_never_latest(catalog: Catalog) -> None:
    assert catalog.is_preview(parse_version("10.7.0"))
    assert catalog.is_preview(parse_version("10.6.10"))
    assert not catalog.is_preview(parse_version("10.6.9"))
    assert catalog.latest_feature((10, 6)) == parse_version("10.6.9")
    assert (10, 7) not in catalog.main_lines()


@pytest.mark.parametrize(
    ("spec", "track", "expected"),
    [("10.2", Track.MAIN, "10.2.0 CU21"), ("10.3", Track.FEATURE, "10.3.12"),
     ("10.2.0", Track.MAIN, "10.2.0 CU21"),
     ("10.2.0 CU5", Track.MAIN, "10.2.0 CU5"), ("10.3.4", Track.FEATURE, "10.3.4"),
     ("10.5.12", Track.FEATURE, "10.5.12 CU2"), ("10.7", Track.MAIN, "10.7.0")],
)
def test_resolve(catalog: Catalog, spec: str, track: Track, expected: str) -> None:
    assert catalog.resolve(parse_spec(spec), track) == parse_version(expected)


def test_resolve_unknown_names_nearest(catalog: Catalog) -> None:
    expected = r"10\.2\.0 CU30 .*not in the release catalog.*nearest known: .*10\.2\.0 CU21"
    with pytest.raises(PathError, match=expected):
        catalog.resolve(parse_spec("10.2.0 CU30"), Track.MAIN)


def test_resolve_refuses_track_mismatch(catalog: Catalog) -> None:
    with pytest.raises(PathError, match="feature release, not on the main track"):
        catalog.resolve(parse_spec("10.3.4"), Track.MAIN)
    with pytest.raises(PathError, match="main release, not on the feature track"):
        catalog.resolve(parse_spec("10.3.0"), Track.FEATURE)


def test_nearest_surrounds_the_version(catalog: Catalog) -> None:
    near = catalog.nearest(parse_version("10.2.0 CU30"))
    assert near[0] < parse_version("10.2.0 CU30") < near[-1]


@pytest.mark.parametrize(
    ("version", "present", "absent"),
    [("10.2.0 CU1", (), ("Verify Cluster Ports",)),
     ("10.2.0 CU2", ("Verify Cluster Ports",), ("Verify Cloud DxM Version",)),
     ("10.2.5", ("Verify Cluster Ports",), ("Verify Cloud DxM Version",)),
     ("10.3.4", ("Validate Connectors",), ("Verify .NET Version",)),
     ("10.3.0 CU22", ("Verify .NET Version",), ("Validate Connectors",)),
     ("10.5.0 CU3", ("Verify NATS Cluster",), ("Verify gRPC Connection",)),
     ("10.6.0", ("Verify BrokerGateway Migration", "Verify OS Version"), ()),
     ("10.6.1", ("Verify BrokerGateway Migration",), ())],
)
def test_checks_for(
    catalog: Catalog, version: str, present: tuple[str, ...], absent: tuple[str, ...]
) -> None:
    checks = catalog.checks_for(parse_version(version))
    assert set(present) <= set(checks)
    assert not set(absent) & set(checks)


def test_requirements_become_due_once(catalog: Catalog) -> None:
    first = catalog.requirements_for(parse_version("9.6.0"), parse_version("10.0.0 CU19"))
    assert first == ("Ports 9090, 4222, 6222 and 8222 open between agents (NATS)",)
    assert ".NET Framework 4.8" in catalog.requirements_for(parse_version("10.1.5"), parse_version("10.1.11"))
    assert catalog.requirements_for(parse_version("10.2.0"), parse_version("10.2.0 CU5")) == ()
    dotnet10 = catalog.requirements_for(parse_version("10.5.0 CU9"), parse_version("10.5.0 CU10"))
    assert dotnet10 == ("ASP.NET Core hosting bundle (.NET 10)",)
    assert len(catalog.baseline_requirements()) == 2


def test_helpers_and_docs(catalog: Catalog) -> None:
    ports = catalog.helper("verify_cluster_ports")
    assert (ports.name, ports.minutes, ports.restarts_agents, ports.valid_days) == (
        "VerifyClusterPorts.dmupgrade", 5, False, 10)
    # BrokerGateway_Migration: "The DataMiner Agents will not be restarted."
    # https://docs.dataminer.services/dataminer/DataMiner_Tools/BrokerGateway_Migration.html
    migration = catalog.helper("broker_gateway_migration")
    assert not migration.restarts_agents
    assert any("ASP.NET Core Runtime 10" in text for text in migration.prerequisites)
    assert any("15 minutes" in text for text in migration.prerequisites)
    assert any("TLS 1.2" in text for text in migration.prerequisites)
    assert any("Prerequisite only" in text for text in migration.prerequisites)
    assert [text.split(":")[0] for text in migration.post_steps] == [
        "DMZ setup", "Data Aggregator", "Dashboard Gateway (main release track, 10.5.0 [CU11] and later)"]
    url = catalog.doc_url("prepare")
    assert url.startswith("https://docs.dataminer.services/") and url.endswith(
        "Preparing_to_upgrade_a_DataMiner_Agent.html")
    with pytest.raises(CatalogError, match="no helper"):
        catalog.helper("nope")


def test_load_from_a_file_path(tmp_path: Path) -> None:
    target = tmp_path / "catalog.toml"
    text = resources.files("dms").joinpath("data/catalog.toml").read_text(encoding="utf-8")
    target.write_text(text + '\n[[releases]]\nversion = "10.8.0"\ncus = 1\n', encoding="utf-8")
    assert load_catalog(target).latest_cu((10, 8)) == Version(10, 8, 0, 1)


def _broken(change: Any) -> str:
    data = _packaged()
    change(data)
    with pytest.raises(CatalogError) as caught:
        parse_catalog(data)
    return str(caught.value)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: d["releases"][3].update(version="10.x"),
            'releases[3].version: "10.x" is not a DataMiner version',
        ),
        (lambda d: d["releases"][4].update(cus=-1), "releases[4].cus"),
        (lambda d: d["releases"][2].update(colour="red"), "releases[2].colour"),
        (lambda d: d["releases"].append({"version": "10.2.0"}), "10.2.0 is already listed"),
        (lambda d: d["releases"].append({"version": "10.8.0", "through": "10.8.3"}), "only expands feature"),
        (lambda d: d["checks"][0].update(main="10.2.5"), 'checks[0]: Value error, `main` "10.2.5"'),
        (lambda d: d["checks"][1].update(feature="10.2.0 CU3"), "is not a feature release"),
        (lambda d: d["helpers"][0].update(doc="missing"), 'helpers[0].doc: "missing"'),
        (lambda d: d["helpers"][0].pop("minutes"), "helpers[0].minutes: Field required"),
        (lambda d: d.update(docs_base="ftp://x"), "docs_base"),
        (lambda d: d.pop("releases"), "releases: Field required"),
    ],
)
def test_broken_catalog_names_the_bad_entry(change: Any, expected: str) -> None:
    message = _broken(change)
    assert expected.replace("Value error, ", "") in message


def test_unreadable_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="cannot read release catalog"):
        load_catalog(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("releases = [", encoding="utf-8")
    with pytest.raises(CatalogError, match="not valid TOML"):
        load_catalog(bad)


def test_binary_file_is_a_catalog_error_naming_the_file(tmp_path: Path) -> None:
    binary = tmp_path / "catalog.toml"
    binary.write_bytes(b"schema = 1\n\xff\xfe\x00")
    with pytest.raises(CatalogError, match=r"catalog\.toml is not UTF-8"):
        load_catalog(binary)
