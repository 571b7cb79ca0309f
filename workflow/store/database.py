"""The database: engine from DATABASE_URL, one short transaction per unit of work, and migrations.

SQLite (the default) is tuned for one process with several threads and the scheduler: WAL so readers
never block the writer, foreign keys on (SQLite leaves them off), a busy timeout so a writer waits for
the lock instead of failing at once, and ``BEGIN IMMEDIATE`` for every transaction. The last one
matters: with pysqlite's default deferred transactions two writers that both read first deadlock on
the lock upgrade and one fails with "database is locked" no matter the timeout; taking the write
lock up front serializes them instead, which is what makes ``claim_decision`` race-free on SQLite.

A lock held by another process must not freeze the event loop (acks, every listener) for long: work done
on the loop's thread waits at most ``LOOP_LOCK_WAIT_MS`` for a lock (SQLite busy timeout, PostgreSQL
``lock_timeout``), other threads up to ``SQLITE_BUSY_TIMEOUT_MS``. A locked, read-only or unreachable
database then raises ``DatabaseBusy`` (a message fit for Slack, never the SQL error itself).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import StaticPool
from sqlmodel import Session

from workflow.store.errors import ConfigError, DatabaseBusy

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 30_000
MIGRATION_LOCK_KEY = 0x646D7570  # "dmup": the advisory lock that serializes migrations on PostgreSQL
LOOP_LOCK_WAIT_MS = 1_500  # well within Slack's 3 s, with room for the answer itself


def lock_wait_ms() -> int:
    """How long this thread may wait for a database lock: briefly on a thread running an event loop."""
    return LOOP_LOCK_WAIT_MS if asyncio._get_running_loop() is not None else SQLITE_BUSY_TIMEOUT_MS


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic filter: only our tables (APScheduler owns its job table in the same database)."""
    from workflow.store.tables import metadata

    if type_ == "table":
        return name in metadata.tables
    table = getattr(obj, "table", None)
    return table is None or table.name in metadata.tables


def _is_memory(url: str) -> bool:
    parsed = make_url(url)
    return parsed.database in (None, "", ":memory:") or "mode=memory" in str(parsed.query)


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for ``url``; SQLite gets the pragmas and locking described above."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        try:
            engine = create_engine(url, echo=echo, pool_pre_ping=True, connect_args=_connect_args(parsed))
        except ImportError as exc:  # the URL is fine, its driver is not installed: say how to get it
            backend = parsed.get_backend_name()
            extra = ": pip install 'dm-upgrade[postgres]'" if backend == "postgresql" else ""
            driver = exc.name or parsed.get_driver_name()
            raise ConfigError(f"DATABASE_URL needs the {backend} driver {driver}, which is not installed"
                              f"{extra}") from None

        @event.listens_for(engine, "checkout")
        def _on_checkout_pg(dbapi_connection: Any, connection_record: Any, proxy: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute(f"SET lock_timeout = {lock_wait_ms()}")
            cursor.close()
            dbapi_connection.commit()

        return engine
    kwargs: dict[str, Any] = {
        "connect_args": {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        "echo": echo,
    }
    memory = _is_memory(url)
    if memory:
        kwargs["poolclass"] = StaticPool  # one connection, or every session sees its own empty db
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (see the module docstring).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, connection_record: Any, proxy: Any) -> None:
        dbapi_connection.execute(f"PRAGMA busy_timeout={lock_wait_ms()}")

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _connect_args(parsed: Any) -> dict[str, Any]:
    # An unreachable server must fail a unit of work in seconds, not hang the caller for minutes.
    return {"connect_timeout": 5} if parsed.get_backend_name() == "postgresql" else {}


@contextmanager
def session(engine: Engine) -> Iterator[Session]:
    """One unit of work: commits on success, rolls back on any exception.

    ``expire_on_commit=False`` so the rows a function returns stay readable after the commit.
    """
    with Session(engine, expire_on_commit=False) as db_session:
        try:
            yield db_session
            db_session.commit()
        except OperationalError as exc:
            _rollback_quietly(db_session)
            log.warning("database unavailable: %s", str(exc.orig or exc).splitlines()[0][:200])
            raise DatabaseBusy() from exc
        except BaseException:
            _rollback_quietly(db_session)
            raise


def _rollback_quietly(db_session: Session) -> None:
    try:
        db_session.rollback()
    except Exception:  # the connection may be gone; the original error is the one to report
        log.debug("rollback failed", exc_info=True)


def alembic_config(url: str | None = None) -> Config:
    """Alembic configuration pointing at the package's migrations; no alembic.ini needed."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(engine_or_url: Engine | str, *, revision: str = "head") -> None:
    """Bring the schema up to date (creates every table on an empty database)."""
    engine = make_engine(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
    try:
        config = alembic_config()
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Replicas starting together: one migrates, the others wait and then find nothing to do.
                connection.exec_driver_sql("SET LOCAL lock_timeout = '60s'")
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        if isinstance(engine_or_url, str):
            engine.dispose()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
