"""A clock for the engine that only moves when the test says so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

START = datetime(2030, 5, 4, 10, 0, tzinfo=UTC)


class FakeClock:
    """Call it for the time; ``advance(hours=..., minutes=...)`` moves it forward."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now
