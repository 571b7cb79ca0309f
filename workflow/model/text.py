"""Text a person typed (a reason), made fit to store and to show: no control characters, bounded.

PostgreSQL refuses NUL in text columns (the cancel failed there while SQLite stored it), and the bidi
controls (U+202E RIGHT-TO-LEFT OVERRIDE, ...) make a reason read differently from what it says. The same
rule serves ``handlers.safe_text`` for everything the bot posts.
"""

from __future__ import annotations

import re

REASON_LIMIT = 2000

# C0 and C1 controls except tab and newline, DEL, and the invisible format characters that reorder or hide
# text: bidi embeddings/overrides/isolates and marks, zero-width spaces and joiners, the BOM, line and
# paragraph separators, soft hyphen, interlinear annotation.
CONTROLS = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff"
    "\ufff9-\ufffb]"
)


def strip_controls(text: str) -> str:
    return CONTROLS.sub("", text)


def reason(text: str | None, *, limit: int = REASON_LIMIT) -> str:
    """A reason as stored: control characters removed, outer spaces trimmed, at most ``limit`` characters."""
    value = strip_controls(text or "").strip()
    return value if len(value) <= limit else value[: limit - 1] + "…"


_DURATION_RE = re.compile(r"^(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?$")


def duration_minutes(text: str) -> int | None:
    """``4h``, ``90m``, ``2h30m``, ``1d12h`` -> minutes; None when it is not written so. The one reading of
    durations: windows (a plan's, a wave's) and soaks; each caller says what its range is."""
    match = _DURATION_RE.match(text.strip().lower())
    if not text.strip() or match is None or not any(match.groupdict().values()):
        return None
    parts = {key: int(value or 0) for key, value in match.groupdict().items()}
    return parts["d"] * 1440 + parts["h"] * 60 + parts["m"]


def duration_written(minutes: int) -> str:
    """Minutes as people write a duration, and as ``duration_minutes`` reads it back: ``90m``, ``1h30m``,
    ``4h``, ``36h``, ``2d`` (whole days from two on)."""
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest}m"
    if rest:
        return f"{hours}h{rest}m"
    return f"{hours // 24}d" if hours >= 48 and hours % 24 == 0 else f"{hours}h"
