"""Maintenance calendars: the weekly slots a team writes in the targets file, and the first window of a
given length inside one of them."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from workflow.model.calendar import MaintenanceSlot, next_window, parse_slot

TUESDAY_NIGHT = parse_slot("Tue 22:00-02:00")
MONDAY = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)  # a Monday


@pytest.mark.parametrize(("text", "slot"), [
    ("Tue 22:00-02:00", MaintenanceSlot(weekday=1, start=time(22), end=time(2))),
    ("tuesday 22:00 - 02:00", MaintenanceSlot(weekday=1, start=time(22), end=time(2))),
    ("Sun 6:30-9:00", MaintenanceSlot(weekday=6, start=time(6, 30), end=time(9))),
])
def test_slots_are_read_as_written(text: str, slot: MaintenanceSlot) -> None:
    assert parse_slot(text) == slot


@pytest.mark.parametrize(("text", "message"), [
    ("Tue", "not a maintenance slot"),
    ("Xyz 22:00-02:00", "not a maintenance slot"),
    ("Tue 25:00-02:00", "not HH:MM"),
    ("Tue 22:00-22:00", "empty"),
])
def test_a_slot_that_is_not_one_says_the_form(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_slot(text)


def test_a_slot_that_ends_before_it_starts_ends_the_next_day() -> None:
    assert TUESDAY_NIGHT.length == timedelta(hours=4) and str(TUESDAY_NIGHT) == "Tue 22:00-02:00"


def test_the_first_window_is_the_next_slot_that_holds_it() -> None:
    window = next_window([TUESDAY_NIGHT], after=MONDAY, length=timedelta(hours=3))
    assert window == (datetime(2026, 12, 8, 22, 0, tzinfo=UTC), datetime(2026, 12, 9, 1, 0, tzinfo=UTC))


def test_a_slot_under_way_counts_when_what_is_left_of_it_is_enough() -> None:
    during = datetime(2026, 12, 8, 23, 0, tzinfo=UTC)
    assert next_window([TUESDAY_NIGHT], after=during, length=timedelta(hours=2)) == (
        during, during + timedelta(hours=2))
    # Four hours no longer fit tonight (three still end with the slot): next Tuesday.
    assert next_window([TUESDAY_NIGHT], after=during, length=timedelta(hours=3))[0] == during
    assert next_window([TUESDAY_NIGHT], after=during, length=timedelta(hours=4)) == (
        datetime(2026, 12, 15, 22, 0, tzinfo=UTC), datetime(2026, 12, 16, 2, 0, tzinfo=UTC))


def test_the_earliest_of_several_slots_wins_and_none_when_none_is_long_enough() -> None:
    thursday = parse_slot("Thu 20:00-23:00")
    after = datetime(2026, 12, 9, 12, 0, tzinfo=UTC)  # Wednesday: Thursday comes before next Tuesday
    assert next_window([TUESDAY_NIGHT, thursday], after=after, length=timedelta(hours=3))[0] == datetime(
        2026, 12, 10, 20, 0, tzinfo=UTC)
    assert next_window([TUESDAY_NIGHT, thursday], after=after, length=timedelta(hours=5)) is None
