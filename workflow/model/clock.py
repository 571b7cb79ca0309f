"""The one clock: what "now" is, in UTC, for everything the bot records and decides.

Times are always timezone-aware UTC. Components that need "now" take a ``Clock`` (tests pass a fake one);
``utc_now`` is the real one. SQLite gives datetimes back without their offset, so ``as_utc`` puts it back.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """Normalize a datetime read back from the database (SQLite returns it naive, meaning UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
