"""Leases: held by one owner until they expire, renewed by that owner, taken over only after expiry."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.support.clock import START
from tests.support.polling import wait_until
from workflow.leases import HeldLease, LeaseLost
from workflow.store import leases
from workflow.store.database import make_engine, migrate, session


@pytest.fixture
def db(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'leases.db'}")
    migrate(engine)
    return engine


def test_held_until_it_expires_then_taken_over_naming_the_previous_owner(db: Engine) -> None:
    later = START + timedelta(seconds=31)
    with session(db) as s:
        assert leases.acquire(s, name="plan:1", owner="A", ttl_s=30, now=START) == (True, None)
    with session(db) as s:
        assert leases.acquire(s, name="plan:1", owner="B", ttl_s=30, now=START + timedelta(seconds=29)) \
            == (False, None)
        assert leases.acquire(s, name="plan:1", owner="A", ttl_s=30, now=START + timedelta(seconds=1)) \
            == (True, None)  # the owner keeps it
    with session(db) as s:
        assert leases.acquire(s, name="plan:1", owner="B", ttl_s=30, now=later) == (True, "A")
    with session(db) as s:
        assert not leases.renew(s, name="plan:1", owner="A", ttl_s=30)  # A learns it lost the lease
        assert leases.renew(s, name="plan:1", owner="B", ttl_s=30)
        leases.release(s, name="plan:1", owner="A")  # not A's to release
        assert (holder := leases.holder(s, name="plan:1")) is not None and holder.owner == "B"
        leases.release(s, name="plan:1", owner="B")
        assert leases.holder(s, name="plan:1") is None


def test_a_held_lease_fences_its_owner_once_taken_over(db: Engine) -> None:
    mine = HeldLease(db, name="plan:7", owner="A", ttl_s=30)
    assert mine.acquire() == (True, None)
    mine.check()  # still ours
    with session(db) as s:  # another replica, once the lease expired
        assert leases.acquire(s, name="plan:7", owner="B", ttl_s=30, now=START + timedelta(days=3650))[0]
    with pytest.raises(LeaseLost):
        mine.check()


def test_a_database_error_is_no_loss_while_the_lease_is_still_valid(db: Engine, tmp_path: Path) -> None:
    mine = HeldLease(db, name="plan:8", owner="A", ttl_s=30)
    assert mine.acquire()[0]
    mine.db = make_engine(f"sqlite:///{tmp_path / 'missing' / 'x.db'}")  # every call fails
    assert mine.renew() is True
    mine._valid_until = 0.0  # a whole lease length without a renewal
    assert mine.renew() is False


def test_a_lease_two_holders_of_one_process_share_is_released_by_the_last(db: Engine) -> None:
    """The execution and the cancel watch of a plan hold its lease under one owner; the execution stopping
    released the row under the watch, so another replica took it and both watched the agents."""
    execution = HeldLease(db, name="plan:7", owner="A", ttl_s=30)
    watch = HeldLease(db, name="plan:7", owner="A", ttl_s=30)
    assert execution.acquire()[0] and watch.acquire()[0]
    execution.release()
    assert not HeldLease(db, name="plan:7", owner="B", ttl_s=30).acquire()[0]  # the watch still holds it
    watch.release()
    assert HeldLease(db, name="plan:7", owner="B", ttl_s=30).acquire() == (True, None)


async def test_a_lease_taken_while_its_task_is_cancelled_is_released(db: Engine) -> None:
    """A cancel watch stopped while it acquired the lease left it counted: the execution's release then
    kept the row, and the next process waited a whole lease length for it."""
    lease = HeldLease(db, name="plan:9", owner="A", ttl_s=30)
    acquiring, proceed = threading.Event(), threading.Event()
    real_acquire = lease.acquire

    def slow_acquire() -> tuple[bool, str | None]:
        acquiring.set()
        proceed.wait(timeout=10)
        return real_acquire()

    lease.acquire = slow_acquire  # type: ignore[method-assign]

    async def hold() -> None:
        async with lease.held():
            await asyncio.Event().wait()

    task = asyncio.get_running_loop().create_task(hold())
    await wait_until(acquiring.is_set, what="the acquire to start")
    task.cancel()
    proceed.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert HeldLease(db, name="plan:9", owner="B", ttl_s=30).acquire() == (True, None)
