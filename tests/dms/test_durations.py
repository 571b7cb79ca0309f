from __future__ import annotations

import pytest

from dms.durations import duration_text


@pytest.mark.parametrize(("seconds", "text"), [
    (0.2, "<1s"), (12.4, "12s"), (107.4, "1m47s"), (600, "10m00s"), (7500, "2h05m"),
])
def test_durations_read_as_durations(seconds: float, text: str) -> None:
    """Durations read "1m47s", never raw float seconds such as "107.4s"."""
    assert duration_text(seconds) == text
