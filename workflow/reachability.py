"""An execution's view of its DMS's reachability: keep asking an unreachable DMS until a deadline, and say
so in the plan's thread once when it stops answering and once when it answers again (never per poll).

After a crash or a host reboot in the middle of an upgrade the agents are restarting, so the DMS may not
answer for minutes; that alone must neither fail the plan nor flood its thread.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from dms.exceptions import DmsUnreachable
from workflow.context import WorkflowContext
from workflow.events import DmsConnectionLost, DmsConnectionRestored
from workflow.model.clock import utc_now

log = logging.getLogger(__name__)

T = TypeVar("T")


class DmsGone(DmsUnreachable):
    """The DMS did not answer before the deadline (the execution fails the plan as on any DMS error)."""

    def __init__(self, last: DmsUnreachable) -> None:
        super().__init__(f"it did not answer before the deadline (last: {last})")
        self.last = last


class Reachability:
    """One per execution. ``deadline`` values are ``time.monotonic()`` instants."""

    def __init__(self, *, host: WorkflowContext, plan_id: int, dms_name: str, poll_s: float) -> None:
        self._host = host
        self._plan_id = plan_id
        self._dms_name = dms_name
        self._poll_s = poll_s
        self._lost_at: float | None = None  # monotonic, while the DMS is unreachable

    @property
    def lost(self) -> bool:
        return self._lost_at is not None

    async def report(self, error: DmsUnreachable | None, *, deadline: float | None = None) -> None:
        """An answer (``None``) or a failure of one call; the thread hears only the changes."""
        if error is None:
            if self._lost_at is not None:
                minutes = (time.monotonic() - self._lost_at) / 60.0
                self._lost_at = None
                log.info("plan #%s: the DMS %s answers again", self._plan_id, self._dms_name)
                await self._host.emit(DmsConnectionRestored, self._plan_id, dms_name=self._dms_name,
                                      minutes=minutes)
            return
        if self._lost_at is not None:
            return
        self._lost_at = time.monotonic()
        log.warning("plan #%s: the DMS %s does not answer (%s); waiting for it", self._plan_id,
                    self._dms_name, error)
        until = None
        if deadline is not None:
            until = utc_now() + timedelta(seconds=max(0.0, deadline - time.monotonic()))
        await self._host.emit(DmsConnectionLost, self._plan_id, dms_name=self._dms_name, error=str(error),
                              deadline=until)

    async def patiently(self, call: Callable[[], Awaitable[T]], *, deadline: float,
                        before_retry: Callable[[], Awaitable[None]] | None = None) -> T:
        """``call()`` until it gets through; ``DmsGone`` once ``deadline`` passed. ``before_retry`` runs
        before each new attempt (the execution checks its plan is still its own to run)."""
        while True:
            try:
                result = await call()
            except DmsUnreachable as exc:
                await self.report(exc, deadline=deadline)
                if time.monotonic() >= deadline:
                    raise DmsGone(exc) from exc
                await asyncio.sleep(max(0.0, min(self._poll_s, deadline - time.monotonic())))
                if before_retry is not None:
                    await before_retry()
                continue
            await self.report(None)
            return result
