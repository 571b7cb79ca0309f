"""``dm-upgrade catalog check FILE``: the bot's own validation, every error named with its line."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import pytest

from bot.cli import main
from bot.cli_catalog import check, key_lines, line_of

PACKAGED = resources.files("dms").joinpath("data/catalog.toml").read_text(encoding="utf-8")


def _check(path: Path, now: datetime = datetime(2026, 12, 1, tzinfo=UTC)) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = check(path, out=out, err=err, now=now)
    return code, out.getvalue(), err.getvalue()


def _line(text: str, needle: str, *, after: str = "") -> int:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if after in line) if after else 0
    return next(i for i, line in enumerate(lines) if i >= start and needle in line) + 1


def test_packaged_catalog_is_valid(tmp_path: Path) -> None:
    target = tmp_path / "catalog.toml"
    target.write_text(PACKAGED, encoding="utf-8")
    code, out, _ = _check(target)
    assert code == 0 and "valid release catalog" in out and "documentation snapshot of 2026-08-21" in out
    code, out, _ = _check(target, now=datetime(2026, 11, 19, tzinfo=UTC))
    assert "warning" not in out
    code, out, _ = _check(target, now=datetime(2026, 12, 7, tzinfo=UTC))
    assert code == 0 and "warning: The release catalog is built from the DataMiner documentation as of " \
        "2026-08-21 (108 days ago" in out


def test_every_error_is_named_with_its_line(tmp_path: Path) -> None:
    text = PACKAGED.replace('version = "10.3.0"\ncus = 22', 'version = "10.x"\ncus = 22').replace(
        'main = "10.5.0"\nregular_updates_until', 'main = "10.5.3"\nregular_updates_until')
    bad = tmp_path / "bad.toml"
    bad.write_text(text, encoding="utf-8")
    code, out, _ = _check(bad)
    assert code == 1
    lines = out.splitlines()
    version_line = _line(text, 'version = "10.x"')
    support_line = _line(text, 'main = "10.5.3"')
    assert any(line.startswith(f"{bad}:{version_line}: releases[") and '"10.x" is not a DataMiner version'
               in line for line in lines)
    assert any(line.startswith(f"{bad}:{support_line - 1}: support[2]") and "must be a main release" in line
               for line in lines)
    assert lines[-1].endswith("2 error(s); the bot would refuse this catalog")


def test_toml_syntax_error_has_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("schema = 1\ndocs_base = \"https://x/\"\nreleases = [\n", encoding="utf-8")
    code, out, _ = _check(bad)
    assert code == 1 and out.startswith(f"{bad}:") and "not valid TOML" in out


def test_whole_catalog_errors_point_at_the_entry(tmp_path: Path) -> None:
    text = PACKAGED + '\n[[releases]]\nversion = "10.2.0"\n'
    bad = tmp_path / "dup.toml"
    bad.write_text(text, encoding="utf-8")
    code, out, _ = _check(bad)
    assert code == 1
    assert f"{bad}:{len(text.splitlines()) - 1}: " in out and "already listed" in out


def test_line_of_falls_back_to_the_entry() -> None:
    lines = key_lines('schema = 1\n[[releases]]\nversion = "10.0.0"\n[[releases]]\nversion = "10.1.0"\n')
    assert line_of(("releases", 1, "version"), "", lines) == 5
    assert line_of(("releases", 1, "cus"), "", lines) == 4
    assert line_of(("schema",), "", lines) == 1
    assert line_of((), "releases[0]: 10.0.0 is already listed", lines) == 2


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "catalog.toml"
    target.write_text(PACKAGED, encoding="utf-8")
    assert main(["catalog", "check", str(target)]) == 0
    assert "valid release catalog" in capsys.readouterr().out
    assert main(["catalog", "check", str(tmp_path / "missing.toml")]) == 2
    assert "cannot read" in capsys.readouterr().err
