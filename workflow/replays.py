"""The replay memory of Slack's signed requests, in the database: shared by every replica and kept across
restarts for as long as Slack's 5-minute window lets a captured request be sent again
(``workflow.store.seen_requests``). The request guard of HTTP mode asks it once per request, before the ack.

Each question is one short unit of work off the loop (about 2 ms on SQLite or PostgreSQL), waiting at most
``LOCK_WAIT_MS`` for a lock: the listener behind it still needs its own budget within Slack's 3 seconds.
When the database does not answer in time the request is let in (and one warning logged): the guard's
memory in the process still refuses a replay to this replica, and the listener's own work meets the same
database, so refusing Slack's genuine clicks during a lock would lose more than it protects.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import Engine

from workflow.model.errors import DatabaseBusy
from workflow.store import database, seen_requests

log = logging.getLogger(__name__)

LOCK_WAIT_MS = 250  # a claim takes milliseconds; waiting longer would eat the listener's budget


class ReplayMemory:
    def __init__(self, db: Engine) -> None:
        self._db = db

    async def claim(self, key: str, *, timestamp: int, now: float) -> bool:
        """True the first time any replica sees ``key`` (timestamp and signature) within the window;
        False for a replay. ``now`` is the guard's clock (seconds since the epoch)."""
        when = datetime.fromtimestamp(now, UTC)
        try:
            with database.hurry(LOCK_WAIT_MS):
                return await database.run_unit(self._db, lambda session: seen_requests.claim(
                    session, key=key, timestamp=timestamp, now=when))
        except DatabaseBusy:
            log.warning("the replay memory's database did not answer in time; the request is let in "
                        "(this process still refuses a replay of it)")
            return True

    async def forget(self, key: str) -> None:
        """The request failed on our side (5xx): Slack's retry of it must be served."""
        try:
            with database.hurry(LOCK_WAIT_MS):
                await database.run_unit(self._db, lambda session: seen_requests.forget(session, key=key))
        except DatabaseBusy:
            log.warning("the replay memory's database did not answer in time; a failed request stays "
                        "remembered until its window ends")
