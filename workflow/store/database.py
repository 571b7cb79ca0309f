"""The database: engine from DATABASE_URL, one short transaction per unit of work, and migrations.

SQLite (the default) is tuned for one process with several threads and the scheduler: WAL so readers
never block the writer, foreign keys on (SQLite leaves them off), a busy timeout so a writer waits for
the lock instead of failing at once, and ``BEGIN IMMEDIATE`` for every transaction. The last one
matters: with pysqlite's default deferred transactions two writers that both read first deadlock on
the lock upgrade and one fails with "database is locked" no matter the timeout; taking the write
lock up front serializes them instead, which is what makes ``claim_decision`` race-free on SQLite.

A lock held by another process must never freeze the event loop (acks, every listener): async code runs
its units of work on a thread pool (``run_unit`` / ``off_loop``) and awaits them. How long a unit may wait
for a lock (SQLite busy timeout, PostgreSQL ``lock_timeout``) is a budget carried by a ContextVar, which
the pool's threads inherit: ``LOOP_LOCK_WAIT_MS`` by default (a listener answers "busy" within Slack's
3 s and nothing changed), ``BACKGROUND_LOCK_WAIT_MS`` inside ``patience()`` (executions, pre-checks,
scheduled jobs, which retry). Work still done synchronously on the loop's thread waits at most
``LOOP_LOCK_WAIT_MS`` whatever the budget; other threads (APScheduler's, health) up to
``SQLITE_BUSY_TIMEOUT_MS``. A locked, read-only or unreachable database then raises ``DatabaseBusy`` (a
message fit for Slack, never the SQL error itself).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import threading
import time
import traceback
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.pool import StaticPool
from sqlmodel import Session

from workflow.model.errors import ConfigError, DatabaseBusy

if TYPE_CHECKING:  # alembic is imported only when a migration runs (it costs ~0.15 s at every start)
    from alembic.config import Config

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 30_000
MIGRATION_LOCK_KEY = 0x646D7570  # "dmup": the advisory lock that serializes migrations on PostgreSQL
LOOP_LOCK_WAIT_MS = 1_500  # well within Slack's 3 s, with room for the answer itself
# Background work (executions, pre-checks, jobs) waits longer per attempt, then its runner retries: long
# enough to ride out most locks without a retry, short enough that a waiting execution notices a cancel.
BACKGROUND_LOCK_WAIT_MS = 5_000

P = ParamSpec("P")
T = TypeVar("T")

# The lock budget of the current task (None: a listener's, LOOP_LOCK_WAIT_MS); asyncio tasks and the pool's
# threads (``off_loop`` runs each call in a copy of the caller's context) inherit it.
_lock_budget_ms: contextvars.ContextVar[int | None] = contextvars.ContextVar("dmu_lock_budget_ms",
                                                                              default=None)
# Two pools, so background units waiting out a lock never queue a listener's unit behind them.
_LISTENER_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="dmu-db")
_BACKGROUND_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="dmu-db-bg")
# SQLite's background units on one thread: each takes the file's write lock (BEGIN IMMEDIATE), so they run
# one after the other whatever the threads. Queued here, the next starts the moment the last commits; on
# four threads the losers slept in SQLite's busy handler (naps of up to 100 ms) while the lock was free,
# and 50 pre-checks due at once took 4.3x one DMS's time instead of 3.2x (benchmarks/bench_fleet.py).
_SQLITE_BACKGROUND_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dmu-db-sqlite")
# In-memory SQLite has one shared connection (StaticPool): its units of work are serialized.
_memory_locks: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()


def lock_wait_ms() -> int:
    """How long this thread may wait for a database lock: briefly on a thread running an event loop, the
    task's budget on the pool's threads (``off_loop``), long on any other thread."""
    if asyncio._get_running_loop() is not None:
        return LOOP_LOCK_WAIT_MS
    return _lock_budget_ms.get() or SQLITE_BUSY_TIMEOUT_MS


@contextmanager
def patience() -> Iterator[None]:
    """Background work (an execution, a pre-check, a scheduled job) inside this block: its units of work
    wait up to ``BACKGROUND_LOCK_WAIT_MS`` for a lock, on the background pool. Listeners never use it."""
    token = _lock_budget_ms.set(BACKGROUND_LOCK_WAIT_MS)
    try:
        yield
    finally:
        _lock_budget_ms.reset(token)


@contextmanager
def hurry(ms: int) -> Iterator[None]:
    """Work in front of an answer that has a fallback (the request guard's replay memory) inside this
    block: its units wait at most ``ms`` for a lock, so a lock costs the answer that long and no more."""
    token = _lock_budget_ms.set(min(ms, _lock_budget_ms.get() or LOOP_LOCK_WAIT_MS))
    try:
        yield
    finally:
        _lock_budget_ms.reset(token)


async def off_loop(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run blocking database work on the pool and await it; the loop keeps serving meanwhile.

    A cancelled caller still waits for the call to end (the unit commits or rolls back as a whole, as
    it did on the loop) before the cancellation goes on, so nothing writes after its task is gone."""
    return await _on_pool(functools.partial(fn, *args, **kwargs), sqlite=False)


async def _on_pool(work: Callable[[], T], *, sqlite: bool) -> T:
    budget = _lock_budget_ms.get() or LOOP_LOCK_WAIT_MS
    if budget <= LOOP_LOCK_WAIT_MS:
        pool = _LISTENER_POOL
    else:
        pool = _SQLITE_BACKGROUND_POOL if sqlite else _BACKGROUND_POOL
    call = functools.partial(_within, time.monotonic() + budget / 1000, contextvars.copy_context(), work)
    future = asyncio.get_running_loop().run_in_executor(pool, call)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        await asyncio.wait([future])
        raise


def _within(deadline: float, context: contextvars.Context, call: Callable[[], T]) -> T:
    """``call`` in the caller's context, with what is left of its budget once a thread took it up: time
    spent queued for a thread counts, so a listener answers in time even when the pool is busy."""
    left_ms = int((deadline - time.monotonic()) * 1000)
    if left_ms <= 0:
        log.warning("database unavailable: no thread free within the lock budget")
        raise DatabaseBusy()
    context.run(_lock_budget_ms.set, left_ms)
    try:
        return context.run(call)
    except OperationalError as exc:  # from work outside ``session`` (APScheduler's job store)
        log.warning("database unavailable: %s", str(exc.orig or exc).splitlines()[0][:200])
        raise DatabaseBusy() from exc


async def run_unit(engine: Engine, work: Callable[[Session], T]) -> T:
    """``work`` in one unit of work (``session``) on the pool: its result, or its exception."""
    return await _on_pool(functools.partial(_in_session, engine, work),
                          sqlite=engine.dialect.name == "sqlite")


def _in_session(engine: Engine, work: Callable[[Session], T]) -> T:
    with session(engine) as db_session:
        return work(db_session)


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
    if memory:
        _memory_locks[engine] = threading.RLock()

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


# What a unit of work keeps beside its identity map lives in ``Session.info`` under keys starting with this
# (the plans it holds, the checklists it read, the results and audit rows it wrote): all of it is about the
# unit's transaction, so a rollback forgets it here, in one place, whatever module put it there.
UNIT_MEMORY = "dmu."


@event.listens_for(OrmSession, "after_rollback")
def _forget_unit_memory(db_session: OrmSession) -> None:
    for key in [key for key in db_session.info if isinstance(key, str) and key.startswith(UNIT_MEMORY)]:
        del db_session.info[key]


@contextmanager
def session(engine: Engine) -> Iterator[Session]:
    """One unit of work: commits on success, rolls back on any exception.

    ``expire_on_commit=False`` so the rows a function returns stay readable after the commit.
    """
    with _serialized(engine), Session(engine, expire_on_commit=False) as db_session:
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


@contextmanager
def _serialized(engine: Engine) -> Iterator[None]:
    """One unit at a time on an in-memory database: its single connection cannot hold two transactions
    (the loop's thread and the pool's may both use it). Reentrant, as before, for nested units."""
    lock = _memory_locks.get(engine)
    if lock is None:
        yield
        return
    with lock:
        yield


def _rollback_quietly(db_session: Session) -> None:
    try:
        db_session.rollback()
    except Exception:  # the connection may be gone; the original error is the one to report
        log.debug("rollback failed", exc_info=True)


def watch_loop(engine: Engine) -> list[list[str]]:
    """Record every SQL statement ``engine`` runs on a thread that is running an event loop: a synchronous
    database call on the loop, which freezes every listener while it waits for a lock. Each entry is the
    statement's call stack (``file:line function``, innermost last). For the test that keeps the loop free."""
    seen: list[list[str]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _on_execute(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
                    executemany: bool) -> None:
        if asyncio._get_running_loop() is not None:
            frames = traceback.extract_stack(limit=40)[:-1]
            seen.append([f"{frame.filename}:{frame.lineno} {frame.name}" for frame in frames]
                        + [statement.split("\n")[0][:80]])

    return seen


def alembic_config(url: str | None = None) -> Config:
    """Alembic configuration pointing at the package's migrations; no alembic.ini needed."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(engine_or_url: Engine | str, *, revision: str = "head") -> None:
    """Bring the schema up to date (creates every table on an empty database). A schema already at the
    newest migration is left alone without loading alembic: what every start but the first finds."""
    engine = make_engine(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
    try:
        if revision == "head" and _at_head(engine):
            return
        from alembic import command

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


def head_revision() -> str:
    """The newest migration's revision: its file name starts with it (``0008_...py``)."""
    return max(path.name.split("_", 1)[0] for path in (MIGRATIONS_DIR / "versions").glob("[0-9]*_*.py"))


def _at_head(engine: Engine) -> bool:
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return False
            row = connection.exec_driver_sql("SELECT version_num FROM alembic_version").first()
    except Exception:  # let alembic say what is wrong
        return False
    return row is not None and row[0] == head_revision()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
