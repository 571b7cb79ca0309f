"""A DMS's maintenance calendar: the weekly slots in which it may be upgraded, as a team writes them in the
targets file (``maintenance = ["Tue 22:00-02:00", "Thu 22:00-02:00"]``, UTC), and the first window of a
given length that fits one of them. A campaign proposes each DMS's window from its calendar; a person
confirms or moves it.

A slot ends on the next day when its end is not after its start ("22:00-02:00" is four hours). A window
must fit inside one slot: an upgrade is not split across two maintenance nights.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A week of slots is searched this many weeks ahead before a window is called impossible: a slot that
# is long enough recurs every week, so two weeks always find it when it exists.
_WEEKS_AHEAD = 2
_SLOT_RE = re.compile(r"^(?P<day>[a-z]{3})[a-z]*\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})$")


@dataclass(frozen=True)
class MaintenanceSlot:
    """One weekly slot: ``weekday`` (0 is Monday) from ``start`` to ``end`` (UTC, the next day if earlier)."""

    weekday: int
    start: time
    end: time

    @property
    def length(self) -> timedelta:
        minutes = (self.end.hour * 60 + self.end.minute) - (self.start.hour * 60 + self.start.minute)
        return timedelta(minutes=minutes if minutes > 0 else minutes + 24 * 60)

    def occurrences(self, *, around: datetime) -> list[tuple[datetime, datetime]]:
        """Every occurrence from the week before ``around`` to ``_WEEKS_AHEAD`` weeks after, in order."""
        first = around.astimezone(UTC).date() - timedelta(days=7)
        found = []
        for offset in range(7 * (_WEEKS_AHEAD + 1) + 1):
            day = first + timedelta(days=offset)
            if day.weekday() == self.weekday:
                begins = datetime.combine(day, self.start, tzinfo=UTC)
                found.append((begins, begins + self.length))
        return found

    def __str__(self) -> str:
        return f"{DAYS[self.weekday].capitalize()} {self.start:%H:%M}-{self.end:%H:%M}"


def parse_slot(text: str) -> MaintenanceSlot:
    """``Tue 22:00-02:00`` (UTC; the day's name may be written out) -> a slot; ValueError saying the form."""
    match = _SLOT_RE.match(text.strip().lower())
    day = match.group("day") if match else ""
    if match is None or day not in DAYS:
        raise ValueError(f"{text!r} is not a maintenance slot: write it like 'Tue 22:00-02:00' (UTC)")
    try:
        start = time.fromisoformat(match.group("start").zfill(5))
        end = time.fromisoformat(match.group("end").zfill(5))
    except ValueError:
        raise ValueError(f"{text!r} has a time that is not HH:MM (00:00 to 23:59)") from None
    if start == end:
        raise ValueError(f"{text!r} is empty: its start and end are the same time")
    return MaintenanceSlot(weekday=DAYS.index(day), start=start, end=end)


def next_window(
    slots: Sequence[MaintenanceSlot], *, after: datetime, length: timedelta
) -> tuple[datetime, datetime] | None:
    """The earliest window of ``length`` that starts at or after ``after`` inside one slot (a slot already
    under way counts, if what is left of it is long enough), or None when no slot is that long."""
    candidates = []
    for slot in slots:
        for begins, ends in slot.occurrences(around=after):
            start = max(begins, after)
            if start + length <= ends:
                candidates.append(start)
    if not candidates:
        return None
    start = min(candidates)
    return start, start + length


def longest(slots: Sequence[MaintenanceSlot]) -> timedelta:
    return max((slot.length for slot in slots), default=timedelta(0))
