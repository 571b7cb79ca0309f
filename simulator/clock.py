"""Simulated time: the simulator's agents, sessions and scripts all read one injectable clock.

``ScaledClock`` runs ``speed`` simulated seconds per real second (speed 60: a simulated minute each real
second), so a 15-minute agent startup takes a quarter of a second at speed 3600. ``ManualClock`` only moves
when a test advances it, which makes phase tests exact.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class SimClock(Protocol):
    # now(): the current simulated time (timezone-aware UTC); sleep(): wait that many simulated seconds.
    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class ScaledClock:
    """Simulated time = start + real elapsed time x ``speed``."""

    def __init__(
        self, *, speed: float, start: datetime | None = None, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.speed = speed
        self._start = start or datetime.now(UTC)
        self._monotonic = monotonic
        self._origin = monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=(self._monotonic() - self._origin) * self.speed)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0) / self.speed)


class ManualClock:
    """A clock that tests move by hand; ``sleep`` waits until ``advance`` has passed the deadline."""

    def __init__(self, *, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._moved = asyncio.Condition()

    def now(self) -> datetime:
        return self._now

    async def sleep(self, seconds: float) -> None:
        deadline = self._now + timedelta(seconds=max(seconds, 0.0))
        async with self._moved:
            await self._moved.wait_for(lambda: self._now >= deadline)

    async def advance(self, *, seconds: float = 0.0, minutes: float = 0.0) -> None:
        self._now += timedelta(seconds=seconds + 60.0 * minutes)
        async with self._moved:
            self._moved.notify_all()
