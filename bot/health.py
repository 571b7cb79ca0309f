"""What ``/healthz`` reports besides the database: whether each configured DMS answers.

The bot starts and serves Slack whatever its DMSs' state (after a crash or a reboot in the middle of an
upgrade the agents are restarting exactly then), so reachability is reported, not required: a probe asks
each DMS in the background at a fixed interval and ``/healthz`` shows the last answer. An unreachable DMS
does not fail the health check, or a supervisor would restart a bot that can do nothing about it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from dms.exceptions import DmsError
from workflow.dms_access import DmsAccess
from workflow.model.clock import utc_now
from workflow.model.errors import BotError
from workflow.store import database, leases
from workflow.store.tables import Lease

log = logging.getLogger(__name__)

PROBE_INTERVAL_S = 30.0
# DMSs asked at once: a fleet of hundreds must not be logged into all together every interval.
PROBE_CONCURRENCY = 4


@dataclass(frozen=True)
class DmsReachability:
    reachable: bool | None  # None: not asked yet
    checked_at: datetime | None = None
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"reachable": self.reachable,
                "checked_at": self.checked_at.isoformat() if self.checked_at else None,
                "error": self.error}


class DmsProbe:
    """Asks every DMS now and then every ``interval_s``; ``status()`` is the last answer of each."""

    def __init__(self, dms_access: DmsAccess, *, interval_s: float = PROBE_INTERVAL_S) -> None:
        self._access = dms_access
        self._interval_s = interval_s
        self._status = {name: DmsReachability(None) for name in dms_access.targets}
        self._task: asyncio.Task[None] | None = None
        self._slots = asyncio.Semaphore(PROBE_CONCURRENCY)

    def status(self) -> dict[str, DmsReachability]:
        return dict(self._status)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="dms-probe")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def probe_all(self) -> dict[str, DmsReachability]:
        await asyncio.gather(*(self._probe(name) for name in self._access.targets))
        return self.status()

    async def _loop(self) -> None:
        while True:
            await self.probe_all()
            await asyncio.sleep(self._interval_s)

    async def _probe(self, name: str) -> None:
        was = self._status.get(name, DmsReachability(None)).reachable
        try:
            # A login on the DMS_URL agent only: "the DMS answers" (each agent's state is the checks' job).
            async with self._slots, self._access.open(name) as conn:
                await conn.client.connect()
        except (DmsError, BotError, OSError) as exc:
            self._status[name] = DmsReachability(False, utc_now(), str(exc))
            if was is not False:
                log.warning("DMS %r is unreachable: %s", name, exc)
        except Exception as exc:  # a probe must never stop probing
            self._status[name] = DmsReachability(False, utc_now(), f"{type(exc).__name__}: {exc}")
            log.exception("probing DMS %r failed", name)
        else:
            self._status[name] = DmsReachability(True, utc_now())
            if was is False:
                log.info("DMS %r answers again", name)


HEALTH_TIMEOUT_S = 5.0


def database_writable(db: Engine) -> bool:
    """True if a row can be written (and is removed in the same transaction): a read-only, locked or
    unreachable database fails the health check, not only one that does not answer a SELECT."""
    name = f"healthz:{uuid.uuid4().hex}"
    try:
        with database.session(db) as session:
            session.add(Lease(name=name, owner="healthz", expires_at=utc_now()))
            session.flush()
            leases.release(session, name=name, owner="healthz")
    except Exception:
        log.exception("health check: the database cannot be written")
        return False
    return True


async def database_ok(db: Engine, *, timeout_s: float | None = None) -> bool:
    """``database_writable`` off the event loop, bounded: a database locked for long counts as down."""
    timeout_s = timeout_s or HEALTH_TIMEOUT_S
    loop = asyncio.get_running_loop()
    try:
        return await asyncio.wait_for(loop.run_in_executor(None, database_writable, db), timeout=timeout_s)
    except TimeoutError:
        log.error("health check: the database did not answer within %ss", timeout_s)
        return False
