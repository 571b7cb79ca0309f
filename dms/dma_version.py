"""``DMAVersion`` (DMAConnectAndInfo.md) as a release, when it can be read as one.

The docs do not define the format. Agents report build strings ("10.4.0.0-14772-CU3"); Cube and the Taskbar
Utility show variations ("DataMiner 10.4.0.0-14772 CU3", "10.4.0.0 - 14772 - CU3", "v10.4.0 [CU3]").
Everything ``dms.versions`` accepts is read; anything else gives ``None``, and the caller shows the text as
read ("version 10.6.2617.1490 not recognised") so a person can state the version instead. A format is never
a reason to call an agent unreachable.
"""

from __future__ import annotations

import re

from dms.exceptions import VersionError
from dms.versions import Version, parse_version

_PREFIX = re.compile(r"^\s*(?:DataMiner\s*)?v?\s*", re.IGNORECASE)
_DASHES = re.compile(r"\s*-\s*")
_SPACED_CU = re.compile(r"(\d)\s*\(?\[?\s*CU\s*(\d+)\s*\]?\)?", re.IGNORECASE)
_FOUR_PART_CU = re.compile(r"^(\d+\.\d+\.\d+\.\d+-\d+)\s*CU(\d+)", re.IGNORECASE)


def release_of(text: str) -> Version | None:
    """The release ``text`` names, or ``None`` when it names none we can be sure of."""
    if not isinstance(text, str) or not text.strip() or len(text) > 100:
        return None
    for candidate in _candidates(text):
        try:
            return parse_version(candidate)
        except VersionError:
            continue
    return None


def _candidates(text: str) -> list[str]:
    plain = _PREFIX.sub("", text.strip())
    dashed = _DASHES.sub("-", plain)
    # "10.4.0.0-14772 CU3" / "10.4.0.0-14772 [CU3]" -> "10.4.0.0-14772-CU3"
    four = _FOUR_PART_CU.sub(r"\1-CU\2", _SPACED_CU.sub(r"\1CU\2", dashed))
    return [text, plain, dashed, four]


def describe(text: str) -> str:
    """How an unrecognised DMAVersion is shown: as read, clipped."""
    return f"version {text.strip()[:64]} not recognised"
