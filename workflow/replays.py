"""The replay memory of Slack's signed requests, in the database: shared by every replica and kept across
restarts for as long as Slack's 5-minute window lets a captured request be sent again
(``workflow.store.seen_requests``). The request guard of HTTP mode asks it once per request, before the ack.

The questions are answered in batches (group commit): a claim that arrives while a batch is in the database
waits for the next one, and each batch is one short unit of work off the loop (about 2 ms on SQLite or
PostgreSQL, whatever its size). A burst of 50 commands thus costs a handful of transactions, not 50 of them
queued on the listeners' threads and the write lock ahead of the listeners' own work. Each batch waits at
most ``LOCK_WAIT_MS`` for a lock: the listener behind it still needs its own budget within Slack's 3 seconds.
When the database does not answer in time the batch is let in (and one warning logged): the guard's memory
in the process still refuses a replay to this replica, and the listener's own work meets the same database,
so refusing Slack's genuine clicks during a lock would lose more than it protects.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from sqlalchemy import Engine

from workflow.model.errors import DatabaseBusy
from workflow.store import database, seen_requests

log = logging.getLogger(__name__)

LOCK_WAIT_MS = 250  # a claim takes milliseconds; waiting longer would eat the listener's budget
Waiting = tuple[str, int, float, "asyncio.Future[bool]"]  # key, timestamp, now, its answer
BATCH = 200  # claims per statement: far below SQLite's parameter limit, and a burst is rarely larger


class ReplayMemory:
    def __init__(self, db: Engine) -> None:
        self._db = db
        self._waiting: list[Waiting] = []
        self._flushing: asyncio.Task[None] | None = None

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
        while self._waiting:
            batch, self._waiting = self._waiting[:BATCH], self._waiting[BATCH:]
            try:
                won = await self._claim_batch(batch)
            except Exception as exc:  # the guard answers 500 and Slack retries, as with one claim
                for *_, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for key, _, _, future in batch:
                if not future.done():  # its request may have been given up meanwhile
                    future.set_result(won is None or key in won)

    async def _claim_batch(self, batch: list[Waiting]) -> set[str] | None:
        """The keys won, or None (all let in) when the database did not answer within ``LOCK_WAIT_MS``."""
        when = datetime.fromtimestamp(max(now for _, _, now, _ in batch), UTC)
        requests = [(key, timestamp) for key, timestamp, _, _ in batch]
        try:
            with database.hurry(LOCK_WAIT_MS):
                return await database.run_unit(self._db, lambda session: seen_requests.claim_many(
                    session, requests, now=when))
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
