"""What `/dm-upgrade plan <target>` (and the console, and the CLI) asks for, read once by one function.

A target is a version (``10.4``, ``10.4.0 CU5``, ``10.5.12``) or ``latest`` followed by ``main``, ``feature``
or nothing: the newest *released* release of that track (a preview is never "the latest"; it needs its own
opt-in, ``track preview``). Reading the words is here; finding what ``latest`` means today is the catalog's
(``workflow.plan_requests``). The slash-command parser and the engine call this one function, so the two can
no longer disagree on what a target is.
"""

from __future__ import annotations

from dataclasses import dataclass

from dms.exceptions import VersionError
from dms.versions import Track, VersionSpec, parse_spec
from workflow.model.errors import UserError

LATEST = "latest"


@dataclass(frozen=True)
class Target:
    """Either ``spec`` (a version) or ``latest`` (the track whose newest release is asked for)."""

    spec: VersionSpec | None = None
    latest: Track | None = None


def parse_target(text: str) -> Target:
    """The target in ``text``; ``UserError`` saying what is wrong with it."""
    words = text.lower().split()
    if not words:
        raise UserError("the target version is missing, e.g. `10.4`, `10.4.0 CU5` or `latest`")
    if words[0] == LATEST:
        named = words[1] if len(words) == 2 else Track.MAIN.value
        if len(words) > 2 or named not in (Track.MAIN.value, Track.FEATURE.value):
            rest = " ".join(words[1:])
            raise UserError(f"`latest` is followed by `main`, `feature` or nothing, not {rest!r}")
        return Target(latest=Track(named))
    try:
        return Target(spec=parse_spec(text))
    except VersionError as exc:
        raise UserError(str(exc)) from None
