"""The replay memory of Slack's signed requests, in the database: shared by every replica and kept across
restarts for as long as Slack's 5-minute window lets a captured request be sent again
(``workflow.store.seen_requests``). The request guard of HTTP mode asks it once per request, before the ack.

The questions are answered in batches (group commit): a claim that arrives while a batch is in the database
waits for the next one, and in a burst each batch waits a moment for the claims behind it; each batch is one
short unit of work off the loop (1-2 ms of CPU on SQLite, whatever its size), and deletes expired rows
only now and then. A burst thus costs fewer transactions than requests (two for 50 sent at once; 16-33
for bench_ack's bursts of 50, whose requests arrive 5-10 ms apart), not one each queued on the listeners'
threads and the write lock ahead of the listeners' own work. Each batch waits at
most ``LOCK_WAIT_MS`` for a lock: the listener behind it still needs its own budget within Slack's 3 seconds.
When the database does not answer in time the batch is let in (and one warning logged): the guard's memory
in the process still refuses a replay to this replica, and the listener's own work meets the same database,
so refusing Slack's genuine clicks during a lock would lose more than it protects.
"""

from __future__ import annotations

import asyncio
import logging
import math
from datetime import UTC, datetime

from sqlalchemy import Engine

from workflow.model.errors import DatabaseBusy
from workflow.store import database, seen_requests

log = logging.getLogger(__name__)

LOCK_WAIT_MS = 250  # a claim takes milliseconds; waiting longer would eat the listener's budget
# A burst's requests arrive a few milliseconds apart, so each found the last batch done and went alone: 50
# units of about 2 ms of CPU each on the database threads, taking the GIL from the loop that acks the rest
# (benchmarks/bench_ack.py). Fewer than LINGER_BELOW claims arriving within BURST_S of the last batch wait
# LINGER_S for the ones behind them; a lone request's claim goes at once, and so do enough for a batch
# (50 sent at once: the first alone, then 49; benchmarks/bench_guard.py).
BURST_S = 0.05
LINGER_S = 0.01
LINGER_BELOW = 8
# Expired rows are deleted (PRUNE_BATCH of them) at most this often by a process, not before every claim:
# the DELETE was most of a claim's 1.5 ms, and up to 500 expired rows a second keeps the table to about
# the last window's requests.
PRUNE_EVERY_S = 0.2
Waiting = tuple[str, int, float, "asyncio.Future[bool]"]  # key, timestamp, now, its answer
BATCH = 200  # claims per statement: far below SQLite's parameter limit, and a burst is rarely larger


class ReplayMemory:
    def __init__(self, db: Engine) -> None:
        self._db = db
        self._waiting: list[Waiting] = []
        self._flushing: asyncio.Task[None] | None = None
        self._last_batch = -math.inf  # the loop's clock when the last batch was answered
        self._last_prune = -math.inf  # ... and when expired rows were last deleted
        self.batches = 0  # units of work run so far (bench_ack and the tests read it)

    async def claim(self, key: str, *, timestamp: int, now: float) -> bool:
        """True the first time any replica sees ``key`` (timestamp and signature) within the window;
        False for a replay. ``now`` is the guard's clock (seconds since the epoch)."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((key, timestamp, now, future))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush(), name="replay-memory-claims")
        return await future

    async def _flush(self) -> None:
        """Batches until nobody waits: those that came while one was in the database go in the next."""
        loop = asyncio.get_running_loop()
        while self._waiting:
            if len(self._waiting) < LINGER_BELOW and loop.time() - self._last_batch < BURST_S:
                await asyncio.sleep(LINGER_S)
            batch, self._waiting = self._waiting[:BATCH], self._waiting[BATCH:]
            try:
                self.batches += 1
                won = await self._claim_batch(batch)
            except Exception as exc:  # the guard answers 500 and Slack retries, as with one claim
                for *_, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            finally:
                self._last_batch = loop.time()
            for key, _, _, future in batch:
                if not future.done():  # its request may have been given up meanwhile
                    future.set_result(won is None or key in won)

    async def _claim_batch(self, batch: list[Waiting]) -> set[str] | None:
        """The keys won, or None (all let in) when the database did not answer within ``LOCK_WAIT_MS``."""
        when = datetime.fromtimestamp(max(now for _, _, now, _ in batch), UTC)
        requests = [(key, timestamp) for key, timestamp, _, _ in batch]
        clock = asyncio.get_running_loop().time()
        prune = clock - self._last_prune >= PRUNE_EVERY_S
        if prune:
            self._last_prune = clock
        try:
            with database.hurry(LOCK_WAIT_MS):
                return await database.run_unit(self._db, lambda session: seen_requests.claim_many(
                    session, requests, now=when, prune_first=prune))
        except DatabaseBusy:
            log.warning("the replay memory's database did not answer in time; %d request(s) let in "
                        "(this process still refuses a replay of them)", len(batch))
            return None

    async def forget(self, key: str) -> None:
        """The request failed on our side (5xx): Slack's retry of it must be served."""
        try:
            with database.hurry(LOCK_WAIT_MS):
                await database.run_unit(self._db, lambda session: seen_requests.forget(session, key=key))
        except DatabaseBusy:
            log.warning("the replay memory's database did not answer in time; a failed request stays "
                        "remembered until its window ends")
