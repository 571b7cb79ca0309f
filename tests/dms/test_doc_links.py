"""Every documentation link of the release catalog points at a current page.

The docs tree moved in July 2025 (``user-guide/...`` became ``dataminer/...``) and two linked pages were
deleted ("Rolling back a DataMiner upgrade", the 9.6 -> 10.3 upgrade path page). Tests cannot reach the
network, so the paths were checked against the dataminer-docs repository once and listed in
``dms/data/doc_links.txt``; here every link must be on that list and in the documented URL shape.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import dms
from dms.catalog import Catalog, load_catalog
from dms.planner import plan_path
from dms.versions import parse_spec, parse_version

URL = re.compile(
    r"^https://docs\.dataminer\.services/(dataminer|release-notes)/[A-Za-z0-9_./-]+\.html(#[a-z0-9-]+)?$"
)
LINKS_FILE = Path(dms.__file__).parent / "data" / "doc_links.txt"
VERIFIED = {
    line.strip()
    for line in LINKS_FILE.read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("#")
}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def test_every_docs_entry_was_verified(catalog: Catalog) -> None:
    unverified = {key: path for key, path in catalog.docs.items() if path not in VERIFIED}
    assert not unverified, f"check these in dataminer-docs and add them to doc_links.txt: {unverified}"


def test_every_link_has_the_documented_shape(catalog: Catalog) -> None:
    for key in catalog.docs:
        url = catalog.doc_url(key)
        assert URL.match(url), url
        assert "/user-guide/" not in url  # the tree before July 2025


@pytest.mark.parametrize("deleted", ["Rolling_back_a_DataMiner_upgrade", "Upgrade_path_960-96x_to_1030-103x"])
def test_deleted_pages_are_not_linked(catalog: Catalog, deleted: str) -> None:
    assert not any(deleted in path for path in catalog.docs.values())


def test_rollback_points_at_the_downgrade_mop(catalog: Catalog) -> None:
    assert catalog.doc_url("rollback") == (
        "https://docs.dataminer.services/dataminer/Reference/MOPs/MOP_Downgrading_a_DMS.html")


@pytest.mark.parametrize(
    ("current", "target"),
    [("9.6.0", "10.3"), ("10.0.0 CU18", "10.0.0 CU21"), ("10.4.2", "10.5.0 CU3"), ("10.5.9", "10.6"),
     ("10.0.5", "10.2"), ("9.5.0", "10.6.5")],
)
def test_every_hop_and_warning_links_a_verified_page(catalog: Catalog, current: str, target: str) -> None:
    path = plan_path(current=parse_version(current), target=parse_spec(target), catalog=catalog)
    urls = [hop.rule_url for hop in path.hops] + [warning.url for warning in path.warnings if warning.url]
    for url in urls:
        assert URL.match(url), url
        page = url.removeprefix("https://docs.dataminer.services/").replace(".html", "")
        assert page in VERIFIED, page


def test_every_check_and_requirement_names_its_page(catalog: Catalog) -> None:
    for threshold in [*catalog.checks, *catalog.requirements]:
        assert threshold.source, threshold.name
        assert catalog.docs[threshold.source] in VERIFIED


def test_every_known_issue_links_its_own_page(catalog: Catalog) -> None:
    for issue in catalog.known_issues:
        assert "/Known_issues/KI_" in catalog.doc_url(issue.doc), issue.key
