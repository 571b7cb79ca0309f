"""`dm-upgrade catalog sync`: releases and known issues read off dataminer-docs pages, the rest kept.

The fixture pages under tests/dms/data/docs imitate the real ones: front matter with a uid, "# General Main
Release 10.5.0 CU2 - Preview" titles (hyphen or en dash), release-note part pages, Known issues pages with
"## Affected versions", "## Fix" and "## Workaround" (e.g.
https://docs.dataminer.services/dataminer/Troubleshooting/Known_issues/KI_LDAP_users_unable_to_log_in_after_upgrade.html).
"""

from __future__ import annotations

import os
import shutil
import tomllib
from pathlib import Path

import pytest

from dms.catalog import load_catalog, parse_catalog
from dms.catalog_sync import sync
from dms.docs_pages import DocsError
from dms.docs_release_notes import read_releases, release_entries
from dms.docs_versions import Uncertain, read_affected
from dms.versions import parse_version

DOCS = Path(__file__).parent / "data" / "docs"
PACKAGED = Path(__file__).parents[2] / "dms" / "data" / "catalog.toml"

INPUT = """\
# A small catalog: the helper and the support dates are hand-kept.
schema = 1
docs_base = "https://docs.dataminer.services/"

[docs]
mr_vs_fr = "dataminer/Administrator_guide/DataMiner_Agents/Upgrading_a_DMA/DataMiner_MR_vs_FR"
# a hand-kept comment inside [docs]
coarse = "dataminer/Troubleshooting/Known_issues/KI_Coarse_upgrade_path"

[[releases]]
version = "9.6.0"
cus = 18

# --- Helper packages (hand-kept) ---
[[helpers]]
key = "verify"
name = "Verify.dmupgrade"
minutes = 5
doc = "mr_vs_fr"

[[known_issues]]
key = "coarse"
uid = "KI_Coarse_upgrade_path"
title = "old title"
doc = "coarse"
effect = "Reviewed effect."
from_versions = [{ first = "10.5.0", before = "10.5.0 CU1" }, { first = "10.5.1", before = "10.5.2" }]
to_versions = [{ first = "10.5.3", before = "10.5.4" }]
reviewed = true
affected = "Upgrade path from DataMiner 10.5.0 or 10.5.1 to 10.5.3"
"""


def _affected(text: str, fix: str = "") -> list[str]:
    test = read_affected(text, fix)
    versions = ["10.4.0 CU5", "10.5.0", "10.5.0 CU1", "10.5.0 CU2", "10.5.1", "10.5.2", "10.5.2 CU1",
                "10.5.3", "10.6.0", "10.6.1"]
    return [v for v in versions if test(parse_version(v))]


def test_releases_and_previews_from_the_notes() -> None:
    found = {str(r.version): r.preview for r in read_releases(DOCS)}
    assert found == {"10.5.0": False, "10.5.0 CU1": False, "10.5.0 CU2": True, "10.5.1": False,
                     "10.5.2": False, "10.5.3": False, "10.5.3 CU1": False, "10.5.4": True}
    assert release_entries(read_releases(DOCS)) == [
        {"version": "10.5.0", "cus": 2, "preview_from_cu": 2},
        {"version": "10.5.1", "through": "10.5.2"},
        {"version": "10.5.3", "cus": 1},
        {"version": "10.5.4", "preview": True},
    ]


def test_affected_sentences_at_cu_precision() -> None:
    # "From ... onwards" until the fix of each line; a later line follows the older line's fix.
    fix = "Install DataMiner 10.5.0 [CU2]/10.5.3."
    found = _affected("From DataMiner 10.5.0 [CU1]/10.5.2 onwards.", fix)
    assert found == ["10.5.0 CU1", "10.5.2", "10.5.2 CU1"]
    # Both ends included; a feature release's CUs come with it.
    assert _affected("- Main Release versions from DataMiner 10.5.0 [CU0] to 10.5.0 [CU1]\n\n"
                     "- Feature Release versions from DataMiner 10.5.1 to 10.5.2") \
        == ["10.5.0", "10.5.0 CU1", "10.5.1", "10.5.2", "10.5.2 CU1"]
    # A listed release stops at its own fix ("10.5.2" but "Fix: 10.5.2 [CU1]").
    assert _affected("DataMiner 10.5.1 and 10.5.2", "Install DataMiner 10.5.0/10.5.2 [CU1].") \
        == ["10.5.1", "10.5.2"]
    # "From 10.4.0 onwards" with no 10.4.x feature release named takes in the feature releases.
    assert "10.6.1" in _affected("DataMiner 10.4.0 and higher")


@pytest.mark.parametrize("text", [
    "Upgrade path from DataMiner 10.4.0, 10.4.1 or 10.4.2 to 10.5.0 CU3",  # which 10.4.0 CUs?
    "DataMiner 10.5.0 [CU12], 10.6.0, and 10.6.3 [CU0]",  # 10.6.0 without a CU
    "DataMiner Systems using BrokerGateway-managed NATS from DataMiner 10.5.0 [CU4]/10.5.7 up to 10.6.7.",
    "All DataMiner versions.",
])
def test_uncertain_sentences_are_not_guessed(text: str) -> None:
    with pytest.raises(Uncertain):
        read_affected(text, "")


def test_sync_rewrites_releases_and_issues_and_keeps_the_rest() -> None:
    result = sync(DOCS, catalog_text=INPUT)
    assert "# --- Helper packages (hand-kept) ---\n[[helpers]]\nkey = \"verify\"" in result.text
    assert "# a hand-kept comment inside [docs]" in result.text
    catalog = parse_catalog(tomllib.loads(result.text))
    assert catalog.contains(parse_version("9.6.0 CU18"))  # no notes for 9.x: kept
    assert catalog.is_preview(parse_version("10.5.0 CU2")) and catalog.is_preview(parse_version("10.5.4"))
    # Not a git clone: the newest "Date added" of the Known issues index is the snapshot.
    assert str(catalog.docs_snapshot) == "2026-04-15" and catalog.docs_commit == ""
    issues = {issue.key: issue for issue in catalog.known_issues}
    assert set(issues) == {"coarse", "upgrade_stalls", "users_lost_after_upgrade"}
    stalls = issues["upgrade_stalls"]
    assert [str(span) for span in stalls.to_versions] == [
        "10.5.0 CU1 up to 10.5.0 CU2 (excluded)", "10.5.2 up to 10.5.3 (excluded)"]
    assert stalls.fixed_in == "10.5.0 [CU2]/10.5.3" and stalls.workaround.startswith("Restart the upgrade")
    assert catalog.doc_url(stalls.doc).endswith("/Known_issues/KI_Upgrade_stalls.html")
    # The reviewed entry keeps its ranges and prose, takes the page's title.
    coarse = issues["coarse"]
    assert coarse.effect == "Reviewed effect." and len(coarse.from_versions) == 2
    assert coarse.title.startswith("Prerequisites fail")
    assert result.issues.left_out == ["KI_Cube_crash"]
    assert "new known issue: upgrade_stalls (Upgrade stalls at the prerequisite step)" in result.changes


def test_uncertain_pages_are_listed_for_a_person() -> None:
    result = sync(DOCS, catalog_text=INPUT.replace('reviewed = true\n', ''))
    assert any(line.startswith("KI_Coarse_upgrade_path: affected versions not understood") for line in
               result.issues.uncertain)
    changed = INPUT.replace('10.5.1 to 10.5.3"', '10.5.1 to 10.5.2"')
    result = sync(DOCS, catalog_text=changed)
    assert any("KI_Coarse_upgrade_path: affected versions changed since the review" in line
               for line in result.issues.uncertain)


def test_bad_docs_are_named(tmp_path: Path) -> None:
    with pytest.raises(DocsError, match="not a clone of dataminer-docs"):
        sync(tmp_path, catalog_text=INPUT)
    copy = tmp_path / "docs"
    shutil.copytree(DOCS, copy)
    page = copy / "dataminer/Troubleshooting/Known_issues/KI_Cube_crash.md"
    page.write_text("---\nuid: KI_Cube_crash\n\n# Cube crashes\n", encoding="utf-8")
    with pytest.raises(DocsError, match=r"KI_Cube_crash\.md: front matter is not closed"):
        sync(copy, catalog_text=INPUT)
    page.unlink()
    notes = copy / "release-notes/General/General_Feature_Release_10.5/General_Feature_Release_10.5.1.md"
    notes.write_text("---\nuid: x\n---\n\n# DataMiner 10.5.1 release\n", encoding="utf-8")
    with pytest.raises(DocsError, match=r"General_Feature_Release_10\.5\.1\.md: release title"):
        sync(copy, catalog_text=INPUT)


@pytest.mark.skipif(not os.environ.get("DATAMINER_DOCS"), reason="set DATAMINER_DOCS=<dataminer-docs clone>")
def test_shipped_catalog_is_the_sync_of_the_docs() -> None:
    text = PACKAGED.read_text(encoding="utf-8")
    result = sync(Path(os.environ["DATAMINER_DOCS"]), catalog_text=text)
    assert result.text == text
    assert load_catalog().docs_commit == result.snapshot.commit
