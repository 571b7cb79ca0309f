"""Units of work off the event loop: a database locked by another connection never stalls the loop; a
listener's unit gives up after ``LOOP_LOCK_WAIT_MS`` (DatabaseBusy, nothing written), background work
(``patience()``) waits longer and succeeds once the lock is released; in-memory databases stay serialized."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session

from workflow.model.errors import DatabaseBusy
from workflow.store import database
from workflow.store.database import make_engine, migrate, off_loop, patience, run_unit, session


@pytest.fixture
def file_db(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'loop.db'}")
    migrate(engine)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE ticks (n INTEGER)"))
    yield engine
    engine.dispose()


@contextmanager
def locked(engine: Engine) -> Iterator[sqlite3.Connection]:
    """Another connection's write transaction on the database file (as another process would hold it)."""
    assert engine.url.database is not None
    other = sqlite3.connect(engine.url.database, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield other
    finally:
        other.rollback()
        other.close()


class Heartbeat:
    """Ticks every 10 ms on the loop and records the longest lag behind that beat."""

    def __init__(self) -> None:
        self.max_lag_s = 0.0
        self.beats = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(0.01)
            self.max_lag_s = max(self.max_lag_s, loop.time() - before - 0.01)
            self.beats += 1

    def __enter__(self) -> Heartbeat:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


def _insert(db_session: Session) -> None:
    db_session.execute(text("INSERT INTO ticks (n) VALUES (1)"))


def _count(engine: Engine) -> int:
    with session(engine) as db_session:
        return int(db_session.execute(text("SELECT count(*) FROM ticks")).scalar_one())


async def test_a_listener_unit_on_a_locked_database_is_busy_in_time_and_the_loop_keeps_ticking(
    file_db: Engine,
) -> None:
    with locked(file_db), Heartbeat() as heart:
        began = time.monotonic()
        with pytest.raises(DatabaseBusy):
            await run_unit(file_db, _insert)
        waited = time.monotonic() - began
    assert database.LOOP_LOCK_WAIT_MS / 1000 - 0.2 <= waited < 2.5
    assert heart.beats > 50, heart.beats  # the loop ran all along, ...
    assert heart.max_lag_s < 0.1, heart.max_lag_s  # ... never stalled
    assert _count(file_db) == 0


async def test_a_background_unit_waits_for_the_lock_and_succeeds_once_it_is_released(file_db: Engine) -> None:
    with locked(file_db) as other, Heartbeat() as heart, patience():
        write = asyncio.get_running_loop().create_task(run_unit(file_db, _insert))
        # Longer than a listener's budget: a listener's unit would have failed by now.
        done, _ = await asyncio.wait({write}, timeout=database.LOOP_LOCK_WAIT_MS / 1000 + 0.3)
        assert not done, "the write should still be waiting for the lock"
        other.rollback()
        await asyncio.wait_for(write, timeout=5)
    assert heart.max_lag_s < 0.1, heart.max_lag_s
    assert _count(file_db) == 1


def _about(budget_ms: int) -> range:
    return range(budget_ms - 500, budget_ms + 1)  # what is left once a thread takes the unit up


async def test_the_lock_budget_follows_the_task_and_the_thread() -> None:
    assert database.lock_wait_ms() == database.LOOP_LOCK_WAIT_MS  # on the loop's thread
    assert await off_loop(database.lock_wait_ms) in _about(database.LOOP_LOCK_WAIT_MS)  # a listener's unit
    with patience():
        assert await off_loop(database.lock_wait_ms) in _about(database.BACKGROUND_LOCK_WAIT_MS)
        # Whatever the task's budget, work still done on the loop's thread waits only briefly.
        assert database.lock_wait_ms() == database.LOOP_LOCK_WAIT_MS
    assert await off_loop(database.lock_wait_ms) in _about(database.LOOP_LOCK_WAIT_MS)  # patience() ended
    seen: list[int] = []
    thread = threading.Thread(target=lambda: seen.append(database.lock_wait_ms()))
    thread.start()
    thread.join()
    assert seen == [database.SQLITE_BUSY_TIMEOUT_MS]  # another thread (APScheduler's, health)


async def test_a_cancelled_caller_lets_its_unit_finish_before_the_cancellation_goes_on(
    file_db: Engine,
) -> None:
    started, release = threading.Event(), threading.Event()

    def slow(db_session: Session) -> None:
        _insert(db_session)
        started.set()
        release.wait(timeout=5)

    task = asyncio.get_running_loop().create_task(run_unit(file_db, slow))
    while not started.is_set():
        await asyncio.sleep(0.005)
    task.cancel()
    await asyncio.sleep(0)
    assert not task.done()  # still waiting for the unit, which commits as a whole
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _count(file_db) == 1


async def test_an_in_memory_database_serializes_units_from_the_pool_and_the_loop() -> None:
    engine = make_engine("sqlite://")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE ticks (n INTEGER)"))

    def insert_slowly(db_session: Session) -> None:
        _insert(db_session)
        time.sleep(0.001)  # widen the window in which another thread could interleave
        _insert(db_session)

    units = [asyncio.ensure_future(run_unit(engine, insert_slowly)) for _ in range(20)]
    for _ in range(20):
        with session(engine) as db_session:  # on the loop's thread, meanwhile
            insert_slowly(db_session)
        await asyncio.sleep(0)
    await asyncio.gather(*units)
    assert _count(engine) == 80
    engine.dispose()


async def test_time_spent_queued_for_a_thread_counts_against_a_listeners_budget(file_db: Engine) -> None:
    """More listener calls than threads on a locked database: each still answers within its budget
    (plus a little), rather than waiting for a thread and then for the lock."""
    with locked(file_db):
        began = time.monotonic()
        results = await asyncio.gather(*(run_unit(file_db, _insert) for _ in range(30)),
                                       return_exceptions=True)
        waited = time.monotonic() - began
    assert all(isinstance(result, DatabaseBusy) for result in results)
    # Queued behind the lock-waiting units, 30 calls on 8 threads would take about 6 s without it.
    assert waited < database.LOOP_LOCK_WAIT_MS / 1000 + 1.0, waited
