"""The replay memory's database work: expired rows are deleted now and then, not before every claim, and
the claims of a burst arriving a few milliseconds apart share units of work (benchmarks/bench_ack.py)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.statements import statements
from tests.support.store_helpers import fresh_engine
from workflow import replays
from workflow.replays import ReplayMemory
from workflow.store import seen_requests
from workflow.store.database import session


async def test_claims_one_after_the_other_delete_expired_rows_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The DELETE of expired rows ran before every claim and was most of its cost."""
    monkeypatch.setattr(replays, "PRUNE_EVERY_S", 3600.0)
    engine = fresh_engine(tmp_path)
    memory = ReplayMemory(engine)
    now = time.time()
    with statements(engine, starting="DELETE") as deletes:
        for n in range(5):
            assert await memory.claim(f"k{n}", timestamp=int(now), now=now)
    assert len(deletes) == 1, deletes
    assert not await memory.claim("k3", timestamp=int(now), now=now)  # a replay is still refused


async def test_expired_rows_still_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replays, "PRUNE_EVERY_S", 0.0)
    engine = fresh_engine(tmp_path)
    old = datetime.now(UTC) - timedelta(hours=1)
    with session(engine) as s:
        stamp = int(old.timestamp())
        seen_requests.claim_many(s, [("old-1", stamp), ("old-2", stamp)], now=old)
    memory = ReplayMemory(engine)
    now = time.time()
    assert await memory.claim("new", timestamp=int(now), now=now)
    with session(engine) as s:
        assert seen_requests.count(s) == 1


async def test_a_burst_arriving_a_few_milliseconds_apart_shares_units_of_work(tmp_path: Path) -> None:
    """Each claim of a burst found the last batch done and went alone: 50 units for 50 requests."""
    engine = fresh_engine(tmp_path)
    memory = ReplayMemory(engine)
    now = time.time()

    async def arriving(n: int) -> bool:
        await asyncio.sleep(0.002 * n)
        return await memory.claim(f"burst-{n}", timestamp=int(now), now=now)

    assert all(await asyncio.gather(*(arriving(n) for n in range(20))))
    assert memory.batches <= 10, memory.batches


async def test_claims_sent_at_once_do_not_wait_for_more(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """49 requests at once right after another one: they make a batch and go without waiting for more
    (benchmarks/bench_guard.py: the wait took a burst's p50 from 7 to 17 ms)."""
    monkeypatch.setattr(replays, "LINGER_S", 30.0)  # a batch that waited would time the test out
    engine = fresh_engine(tmp_path)
    memory = ReplayMemory(engine)
    now = time.time()
    assert await memory.claim("first", timestamp=int(now), now=now)
    claims = [memory.claim(f"at-once-{n}", timestamp=int(now), now=now) for n in range(49)]
    assert all(await asyncio.wait_for(asyncio.gather(*claims), timeout=20))
    assert memory.batches == 2
