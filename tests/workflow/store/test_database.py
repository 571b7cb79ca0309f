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
    assert current_revision(engine) == "0001"
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
