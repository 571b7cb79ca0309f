"""``DatabaseCheck``: ``/healthz``'s database write, bounded. Probes at any rate make at most one write per
``every_s`` (concurrent probes share it), and a write stuck on a locked database is never joined by another:
probes say "unavailable" until it ends, instead of piling writes on a database users are waiting for."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bot import health
from bot.health import DatabaseCheck
from tests.support.polling import wait_until


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _Writes:
    """A database write that may be held, as a lock held by another process holds it."""

    def __init__(self) -> None:
        self.count = 0
        self.result = True
        self.release = threading.Event()
        self.release.set()

    def __call__(self) -> bool:
        self.count += 1
        self.release.wait(timeout=30)
        return self.result


async def test_two_hundred_probes_make_one_write_per_interval() -> None:
    clock, writes = _Clock(), _Writes()
    check = DatabaseCheck(writes, every_s=10.0, clock=clock)
    assert all(await asyncio.gather(*(check.ok() for _ in range(100))))
    assert [await check.ok() for _ in range(100)] == [True] * 100
    assert writes.count == 1
    clock.now += 10.0
    writes.result = False
    assert await check.ok() is False
    assert await check.ok() is False  # the failure is remembered as long: no write per probe either
    assert writes.count == 2


async def test_a_stuck_write_is_never_joined_by_another(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health, "HEALTH_TIMEOUT_S", 0.05)
    clock, writes = _Clock(), _Writes()
    check = DatabaseCheck(writes, every_s=0.0, clock=clock)
    writes.release.clear()
    assert await check.ok() is False  # timed out: the write still waits in its thread
    for _ in range(20):
        assert await check.ok() is False
    assert writes.count == 1
    writes.release.set()
    await wait_until(check.ok, timeout_s=5, what="the database answering again")
    assert writes.count == 2


async def test_a_write_that_raises_counts_as_down() -> None:
    def broken() -> bool:
        raise RuntimeError("disk gone")

    assert await DatabaseCheck(broken, every_s=0.0).ok() is False
