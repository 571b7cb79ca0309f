"""Durations as people write them: one reading (``duration_minutes``) and one writing (``duration_written``),
shared by a plan's window, a campaign's waves and its soak, so what the bot shows can be typed back."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflow.model.text import duration_minutes, duration_written


@pytest.mark.parametrize(("text", "minutes"), [
    ("4h", 240), ("90m", 90), ("2h30m", 150), ("1d12h", 2160), (" 4H ", 240), ("2d", 2880)])
def test_durations_are_read_as_written(text: str, minutes: int) -> None:
    assert duration_minutes(text) == minutes


@pytest.mark.parametrize("text", ["", "h", "4", "4 h", "4h 30m", "-4h", "1.5h", "30m2h"])
def test_other_text_is_not_a_duration(text: str) -> None:
    assert duration_minutes(text) is None


def test_durations_are_written_as_people_type_them() -> None:
    assert [duration_written(m) for m in (30, 90, 24 * 60, 36 * 60, 2 * 1440, 30 * 1440)] == [
        "30m", "1h30m", "24h", "36h", "2d", "30d"]


@given(st.integers(min_value=1, max_value=60 * 24 * 60))
def test_what_is_written_reads_back(minutes: int) -> None:
    assert duration_minutes(duration_written(minutes)) == minutes
