"""Durations as people read them ("1m47s", "2h05m", "12s"), never raw float seconds."""

from __future__ import annotations


def duration_text(seconds: float) -> str:
    """``107.4`` -> ``1m47s``; ``7500`` -> ``2h05m``; under a second -> ``<1s``."""
    if seconds < 0.5:
        return "<1s"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"
