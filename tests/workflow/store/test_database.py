from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import StatementError

from workflow.store.database import current_revision, include_object, make_engine, migrate, session
from workflow.store.tables import AuditEvent, metadata


def test_migration_on_empty_db_matches_models(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    migrate(engine)
    assert current_revision(engine) == "0010"
    assert set(inspect(engine).get_table_names()) >= set(metadata.tables)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": include_object}
        )
        assert compare_metadata(context, metadata) == []


def test_migrate_is_idempotent_and_ignores_foreign_tables(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    migrate(url)
    engine = make_engine(url)
    with engine.begin() as connection:  # what APScheduler creates in the same database
        connection.execute(text("CREATE TABLE apscheduler_jobs (id VARCHAR(191) PRIMARY KEY)"))
    migrate(engine)
    assert "apscheduler_jobs" in inspect(engine).get_table_names()
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": include_object}
        )
        assert compare_metadata(context, metadata) == []


def test_sqlite_pragmas(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_times_come_back_aware_utc_and_naive_is_refused(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    migrate(engine)
    at = datetime(2026, 1, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    with session(engine) as s:
        s.add(AuditEvent(at=at, actor="U1", action="test"))
    with session(engine) as s:
        row = s.get(AuditEvent, 1)
        assert row is not None
        assert row.at == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
        assert row.at.tzinfo is UTC
    with pytest.raises(StatementError, match="naive datetime"), session(engine) as s:
        s.add(AuditEvent(at=datetime(2026, 1, 1), actor="U1", action="test"))
        s.flush()


def test_session_rolls_back_on_error(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    migrate(engine)
    with pytest.raises(RuntimeError), session(engine) as s:
        s.add(AuditEvent(actor="U1", action="test"))
        s.flush()
        raise RuntimeError("boom")
    with session(engine) as s:
        assert s.get(AuditEvent, 1) is None


def test_in_memory_database_works(tmp_path: Path) -> None:
    engine = make_engine("sqlite://")
    migrate(engine)
    with session(engine) as s:
        s.add(AuditEvent(actor="U1", action="test"))
    with session(engine) as s:
        assert s.get(AuditEvent, 1) is not None


def test_schema_compiles_for_postgresql() -> None:
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.schema import CreateIndex, CreateTable

    dialect = postgresql.dialect()
    for table in metadata.sorted_tables:
        ddl = str(CreateTable(table).compile(dialect=dialect))
        assert "TIMESTAMP WITH TIME ZONE" in ddl or "_at" not in ddl, table.name
        for index in table.indexes:
            str(CreateIndex(index).compile(dialect=dialect))


def test_0002_turns_old_hop_columns_into_the_hop_document_and_back(tmp_path: Path) -> None:
    """Plans stored before 0002 keep their hops: the columns become one Hop document, and a downgrade
    gives the columns back."""
    from alembic import command

    from dms.upgrade_path import Hop, PackageKind
    from dms.versions import parse_version
    from workflow.store.database import alembic_config
    from workflow.store.tables import PlanHop

    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    migrate(engine, revision="0001")
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO upgrade_plan (id, dms_name, state, requester, channel, current_version,"
            " target_version, track, path, estimate, agents, created_at, updated_at)"
            " VALUES (1, 'd', 'planned', 'U1', 'C1',"
            " '10.2.0 CU5', '10.4.0', 'main', '{}', '{}', '[]',"
            " '2026-01-01 00:00:00', '2026-01-01 00:00:00')"))
        connection.execute(text(
            "INSERT INTO plan_hop (id, plan_id, position, version, package, name, rule, rule_url,"
            " checks, requirements, restarts_agents, minutes)"
            " VALUES (1, 1, 0, '10.3.0 CU22', 'full', 'p.dmupgrade',"
            " 'rule 1', 'https://x', '[\"Verify Cluster Ports\"]', '[\".NET 4.8\"]', 1, NULL)"))
    migrate(engine)
    with session(engine) as s:
        row = s.get(PlanHop, 1)
        assert row is not None
        assert row.to_hop() == Hop(version=parse_version("10.3.0 CU22"), package=PackageKind.FULL,
                                   name="p.dmupgrade", rule="rule 1", rule_url="https://x",
                                   checks=("Verify Cluster Ports",), requirements=(".NET 4.8",))
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")
    with engine.connect() as connection:
        version, checks = connection.execute(text("SELECT version, checks FROM plan_hop")).one()
    assert version == "10.3.0 CU22" and "Verify Cluster Ports" in checks


def test_a_schema_at_the_newest_migration_is_not_migrated_again(tmp_path: Path) -> None:
    """Every start but the first finds the schema current: alembic (about 0.15 s of imports) is not loaded."""
    import subprocess
    import sys

    from workflow.store.database import head_revision

    url = f"sqlite:///{tmp_path / 'current.db'}"
    engine = make_engine(url)
    migrate(engine)
    assert current_revision(engine) == head_revision()
    engine.dispose()
    code = ("import sys; from workflow.store.database import make_engine, migrate; "
            f"migrate(make_engine({url!r})); print('alembic' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          check=True)
    assert done.stdout.strip() == "False", done.stderr


def test_a_rollback_forgets_what_the_unit_remembered(tmp_path: Path) -> None:
    """The plans a unit holds, the checklists it read, the results and audit rows it wrote: two modules
    forgot theirs on a rollback, three kept them. All are forgotten now; other keys stay."""
    from tests.support.store_helpers import fresh_engine, new_plan
    from workflow.store import audit, checklist
    from workflow.store.states import get_plan

    engine = fresh_engine(tmp_path)
    plan_id = new_plan(engine)
    with session(engine) as s:
        get_plan(s, plan_id=plan_id)
        checklist.items(s, plan_id=plan_id)
        audit.record(s, actor="bot", action="test.memory", plan_id=plan_id)
        s.info["elsewhere"] = 1
        assert {"dmu.plans", "dmu.checklist", "dmu.audit"} <= set(s.info)
        s.rollback()
        assert [key for key in s.info if str(key).startswith("dmu.")] == []
        assert s.info["elsewhere"] == 1
