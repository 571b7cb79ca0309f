"""``dm-upgrade catalog sync DOCS_DIR``: writes a valid catalog, reports, refuses bad input with exit 2."""

from __future__ import annotations

import argparse
import io
import shutil
from pathlib import Path

from bot.cli_catalog import add_arguments, check, run

DOCS = Path(__file__).parents[1] / "dms" / "data" / "docs"
SMALL = """\
schema = 1
docs_base = "https://docs.dataminer.services/"

[docs]
mr_vs_fr = "dataminer/Administrator_guide/DataMiner_Agents/Upgrading_a_DMA/DataMiner_MR_vs_FR"

[[releases]]
version = "9.6.0"
cus = 18
"""


def _sync(*words: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    parser = argparse.ArgumentParser(prog="dm-upgrade catalog")
    add_arguments(parser)
    code = run(parser.parse_args(["sync", *words]), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_sync_writes_a_catalog_that_passes_check(tmp_path: Path) -> None:
    source, target = tmp_path / "in.toml", tmp_path / "out.toml"
    source.write_text(SMALL, encoding="utf-8")
    code, out, err = _sync(str(DOCS), "--catalog", str(source), "--out", str(target))
    assert (code, err) == (0, "")
    assert "documentation snapshot: 2026-04-15, from newest date on the Known issues page" in out
    assert "new known issue: upgrade_stalls" in out and "new releases: 10.5.0, 10.5.0 CU1" in out
    assert "KI_Coarse_upgrade_path: affected versions not understood" in out
    assert "1 Known issues page(s) left out (they do not touch upgrading): KI_Cube_crash" in out
    assert source.read_text(encoding="utf-8") == SMALL  # --out given: the input stays as it was
    assert check(target, out=io.StringIO(), err=io.StringIO()) == 0


def test_sync_without_a_target_only_reports() -> None:
    code, out, _ = _sync(str(DOCS))
    assert code == 0 and out.endswith("nothing written (give --out FILE or --catalog FILE)\n")


def test_bad_docs_folder_exit_2_and_catalog_untouched(tmp_path: Path) -> None:
    source = tmp_path / "in.toml"
    source.write_text(SMALL, encoding="utf-8")
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out, err = _sync(str(empty), "--catalog", str(source))
    assert code == 2 and out == "" and "not a clone of dataminer-docs" in err and err.count("\n") == 1
    copy = tmp_path / "docs"
    shutil.copytree(DOCS, copy)
    (copy / "dataminer/Troubleshooting/Known_issues/KI_Cube_crash.md").write_text("# no front matter\n")
    code, _, err = _sync(str(copy), "--catalog", str(source))
    assert code == 2 and "KI_Cube_crash.md: no front matter" in err
    assert source.read_text(encoding="utf-8") == SMALL


def test_check_says_when_the_docs_are_newer(tmp_path: Path) -> None:
    source = tmp_path / "in.toml"
    source.write_text(SMALL, encoding="utf-8")
    code, out, _ = _sync(str(DOCS), "--catalog", str(source), "--check")
    assert code == 1 and "newer than the catalog, time to sync" in out
    assert source.read_text(encoding="utf-8") == SMALL
    assert _sync(str(DOCS), "--catalog", str(source))[0] == 0
    code, out, _ = _sync(str(DOCS), "--catalog", str(source), "--check")
    assert code == 0 and "up to date" in out
