from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from bot.cli import main
from tests.support.statements import statements
from tests.support.store_helpers import fresh_engine, new_plan
from workflow.store import audit
from workflow.store.audit import AuditIsAppendOnly
from workflow.store.database import session
from workflow.store.states import PlanState, transition
from workflow.store.tables import AuditEvent


def _seed(tmp_path: Path) -> tuple[str, int]:
    engine = fresh_engine(tmp_path)
    plan_id = new_plan(engine)
    with session(engine) as s:
        s.add(AuditEvent(at=datetime(2020, 1, 1, tzinfo=UTC), actor="old", action="legacy"))
        transition(s, plan_id=plan_id, to=PlanState.CANCELLED, actor="U1", reason='no, "really", x')
    engine.dispose()
    return f"sqlite:///{tmp_path / 'workflow.store.database'}", plan_id


def test_export_jsonl_and_csv(tmp_path: Path) -> None:
    url, plan_id = _seed(tmp_path)
    from workflow.store.database import make_engine

    engine = make_engine(url)
    with session(engine) as s:
        lines = audit.export(s, fmt="jsonl").splitlines()
        rows = [json.loads(line) for line in lines]
        assert [r["action"] for r in rows][-1] == "transition"
        last = rows[-1]
        assert (last["plan_id"], last["from_state"], last["to_state"]) == (plan_id, "planned", "cancelled")
        assert last["reason"] == 'no, "really", x' and last["at"].endswith("+00:00")
        parsed = list(csv.DictReader(io.StringIO(audit.export(s, fmt="csv"))))
        assert len(parsed) == len(rows) and parsed[-1]["reason"] == 'no, "really", x'
        since = audit.export(s, fmt="jsonl", since=datetime(2021, 1, 1, tzinfo=UTC))
        assert "legacy" not in since and len(since.splitlines()) == len(rows) - 1
        with pytest.raises(ValueError):
            audit.export(s, fmt="xml")  # type: ignore[arg-type]


def test_audit_rows_are_append_only(tmp_path: Path) -> None:
    engine = fresh_engine(tmp_path)
    with session(engine) as s:
        audit.record(s, actor="U1", action="x")
    with pytest.raises(AuditIsAppendOnly), session(engine) as s:
        row = s.exec(select(AuditEvent)).one()
        row.reason = "rewritten"
        s.add(row)
        s.flush()
    with pytest.raises(AuditIsAppendOnly), session(engine) as s:
        s.delete(s.exec(select(AuditEvent)).one())
        s.flush()
    with session(engine) as s:
        assert s.exec(select(AuditEvent)).one().reason == ""


def test_cli_formats_and_since(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url, _plan_id = _seed(tmp_path)
    assert main(["audit", "--database-url", url]) == 0
    out = capsys.readouterr().out
    assert all(json.loads(line)["id"] for line in out.splitlines()) and "legacy" in out
    assert main(["audit", "--database-url", url, "--format", "csv", "--since", "2021-01-01"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("id,at,plan_id") and "legacy" not in out and "transition" in out
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d")
    assert main(["audit", "--database-url", url, "--since", tomorrow]) == 0
    assert capsys.readouterr().out == ""
    target = tmp_path / "audit.csv"
    assert main(["audit", "--database-url", url, "--format", "csv", "--output", str(target)]) == 0
    assert target.read_text(encoding="utf-8").count("\n") >= 3


def test_cli_rejects_bad_date(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url, _plan_id = _seed(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(["audit", "--database-url", url, "--since", "yesterday"])
    assert info.value.code == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err


def test_cli_uses_database_url_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    url, _plan_id = _seed(tmp_path)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    assert main(["audit", "--format", "jsonl"]) == 0
    assert "transition" in capsys.readouterr().out


def test_a_plans_audit_trail_starts_with_its_creation(tmp_path: Path) -> None:
    # The track's automatic tick used to be audited before the plan.created row it belongs to.
    engine = fresh_engine(tmp_path)
    plan_id = new_plan(engine)
    with session(engine) as s:
        rows = list(s.exec(select(AuditEvent).where(AuditEvent.plan_id == plan_id).order_by(AuditEvent.id)))
    assert [r.action for r in rows][:2] == ["plan.created", "checklist.auto"]


def test_cli_on_a_missing_database_says_so_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert main(["audit"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dm-upgrade: no database at dm-upgrade.db: nothing was recorded")
    assert list(tmp_path.iterdir()) == []


def test_cli_on_postgresql_without_its_driver_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "psycopg", None)  # as on a machine without the postgres extra
    assert main(["audit", "--database-url", "postgresql+psycopg://u:secretvalue@db.example/x"]) == 2
    err = capsys.readouterr().err
    assert err == ("dm-upgrade: DATABASE_URL needs the postgresql driver psycopg, which is not installed: "
                   "pip install 'dm-upgrade[postgres]'\n")


def test_a_unit_s_audit_rows_go_in_one_insert_and_its_own_reads_see_them(tmp_path: Path) -> None:
    """As ORM objects they went in one INSERT ... RETURNING each (six in a pre-check's outcome); buffered,
    they are written before the unit's next statement or at its commit, so nothing is lost or unseen."""
    engine = fresh_engine(tmp_path)
    plan_id = new_plan(engine)
    with statements(engine, starting="INSERT INTO audit_event") as inserts:
        with session(engine) as s:
            for key in ("a", "b", "c"):
                audit.record(s, actor="bot", action="checklist.auto", plan_id=plan_id, detail={"key": key})
            assert [row.detail.get("key") for row in audit.events(s, plan_id=plan_id)][-3:] == ["a", "b", "c"]
            assert len(inserts) == 1
            audit.record(s, actor="U1", action="plan.note", plan_id=plan_id, reason="written at the commit")
        assert len(inserts) == 2
    with session(engine) as s:
        actions = [row.action for row in audit.events(s, plan_id=plan_id)]
    assert actions[-4:] == ["checklist.auto"] * 3 + ["plan.note"]


def test_audit_rows_of_a_unit_that_fails_are_not_written(tmp_path: Path) -> None:
    engine = fresh_engine(tmp_path)
    plan_id = new_plan(engine)
    with session(engine) as s:
        before = len(audit.events(s, plan_id=plan_id))
    with pytest.raises(RuntimeError), session(engine) as s:
        audit.record(s, actor="bot", action="never.written", plan_id=plan_id)
        raise RuntimeError("the change failed")
    with session(engine) as s:
        rows = audit.events(s, plan_id=plan_id)
    assert len(rows) == before and not [row for row in rows if row.action == "never.written"]
