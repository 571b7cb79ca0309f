"""What ``/healthz`` reports: whether the database can be written (``DatabaseCheck``) and whether each
configured DMS answers (``DmsProbe``); Slack's Web API beside them is ``bot.slack_check``'s;
``bot.ops_server`` serves it.

The bot starts and serves Slack whatever its DMSs' state (after a crash or a reboot in the middle of an
upgrade the agents are restarting exactly then), so reachability is reported, not required: a probe asks
each DMS in the background at a fixed interval and ``/healthz`` shows the last answer. An unreachable DMS
does not fail the health check, or a supervisor would restart a bot that can do nothing about it. A DMS's
error is kept as it may be shown: every form of the target's password masked, one line, cut.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from dms.exceptions import DmsError
from dms.secrets import dms_text, scrub_known
from workflow import operations
from workflow.dms_access import DmsAccess
from workflow.model.clock import utc_now
from workflow.model.errors import BotError

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
        self._slots = asyncio.Semaphore(PROBE_CONCURRENCY)

    def status(self) -> dict[str, DmsReachability]:
        return dict(self._status)

    async def probe_all(self) -> dict[str, DmsReachability]:
        await asyncio.gather(*(self._probe(name) for name in self._access.targets))
        return self.status()

    async def run(self) -> None:
        """Probe every interval until cancelled (in the runtime's ``bot.background.BackgroundLoops``)."""
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
            self._status[name] = DmsReachability(False, utc_now(), self._shown(name, str(exc)))
            if was is not False:
                log.warning("DMS %r is unreachable: %s", name, exc)
        except Exception as exc:  # a probe must never stop probing
            shown = self._shown(name, f"{type(exc).__name__}: {exc}")
            self._status[name] = DmsReachability(False, utc_now(), shown)
            log.exception("probing DMS %r failed", name)
        else:
            self._status[name] = DmsReachability(True, utc_now())
            if was is False:
                log.info("DMS %r answers again", name)

    def _shown(self, name: str, text: str) -> str:
        target = self._access.targets.get(name)
        if target is None:
            return dms_text(scrub_known(text), "", limit=300)
        return dms_text(scrub_known(text), target.password, user=target.user, limit=300)


HEALTH_TIMEOUT_S = 5.0


def database_writable(db: Engine) -> bool:
    """True if a row can be written (and is removed in the same transaction): a read-only, locked or
    unreachable database fails the health check, not only one that does not answer a SELECT."""
    try:
        operations.database_takes_a_write(db)
    except Exception:
        log.exception("health check: the database cannot be written")
        return False
    return True


class DatabaseCheck:
    """``write`` (``database_writable``) for ``/healthz``, bounded: at most one write every ``every_s``
    seconds, its answer (ok or not) given to every probe in between; concurrent probes share one write; a
    write taking longer than ``HEALTH_TIMEOUT_S`` counts as down, and while it still waits in its thread no
    other is started. A flood of probes thus never reaches the database users are waiting for."""

    def __init__(self, write: Callable[[], bool], *, every_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._write = write
        self._every_s = every_s
        self._clock = clock
        self._last: tuple[float, bool] | None = None
        self._checking: asyncio.Task[bool] | None = None
        self._writing: asyncio.Future[bool] | None = None

    async def ok(self) -> bool:
        last = self._last
        if last is not None and self._clock() - last[0] < self._every_s:
            return last[1]
        if self._checking is None:
            self._checking = asyncio.get_running_loop().create_task(self._check(), name="healthz-db")
        # Shielded: a probe that hangs up must not cancel the write the others wait for.
        return await asyncio.shield(self._checking)

    async def _check(self) -> bool:
        try:
            ok = await self._bounded_write()
            self._last = (self._clock(), ok)
            return ok
        finally:
            self._checking = None

    async def _bounded_write(self) -> bool:
        if self._writing is not None and not self._writing.done():
            log.error("health check: the last database write has not finished yet")
            return False
        self._writing = asyncio.get_running_loop().run_in_executor(None, self._write)
        # Read its outcome even when no probe waits for it any more (a timed-out write), or asyncio warns.
        self._writing.add_done_callback(lambda done: done.cancelled() or done.exception())
        timeout_s = HEALTH_TIMEOUT_S  # read now: tests shorten it
        try:
            return await asyncio.wait_for(asyncio.shield(self._writing), timeout=timeout_s)
        except TimeoutError:
            log.error("health check: the database did not answer within %ss", timeout_s)
            return False
        except Exception:
            log.exception("health check: the database cannot be written")
            return False
