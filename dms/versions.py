"""DataMiner versions: every spelling an operator pastes, one display form, one total order.

A version is ``major.minor.build`` plus a cumulative update number. ``build`` 0 is a Main Release
(``10.2.0``), 1-12 a Feature Release (``10.3.4``). The four-part build strings that DataMiner itself
prints (``10.2.0.0-11897-CU4``) carry the same information plus a build number, which we keep for
display but ignore when comparing: two builds of one CU are the same release for planning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import CoreSchema, core_schema

from dms.exceptions import VersionError

ACCEPTED_FORMS = (
    "10.2, 10.2.0, 10.2.0 CU5, 10.2.0 [CU5], 10.2.0CU5, 10.2 CU5, 10.3.4, 10.5.12 CU2, "
    "10.4.2.0-13691, 10.2.0.0-11897-CU4, 10.4.0.0-14772-20240821-release"
)

# Feature releases run 10.N.1-10.N.12 nowadays, but 10.0 went to 10.0.13: leave room, the catalog decides
# what exists.
MAX_FEATURE_BUILD = 20

# Short forms: "10.2", "10.2.0", "10.2.0 CU5", "10.2.0 [CU5]", "10.2.0CU5", "10.5.12 CU 2", "10.2 CU5".
_SHORT = re.compile(
    r"""^\s*(?P<major>\d{1,3})\.(?P<minor>\d{1,3})(?:\.(?P<build>\d{1,3}))?
        \s*(?:\[?\s*CU\s*(?P<cu>\d{1,3})\s*\]?)?\s*$""",
    re.IGNORECASE | re.VERBOSE | re.ASCII,  # ASCII: Arabic-Indic or full-width digits are no version
)
# Build strings: "10.4.2.0-13691", "10.2.0.0-11897-CU4", "10.4.0.0-14772-20240821-release". No suffix
# segment may look like a CU: "-release-CU4" or "-CU4-" must be refused, not silently read as CU0.
_FULL = re.compile(
    r"""^\s*(?P<major>\d{1,3})\.(?P<minor>\d{1,3})\.(?P<build>\d{1,3})\.(?P<rev>\d{1,3})
        -(?P<number>\d{1,7})(?:-CU(?P<cu>\d{1,3}))?(?:-(?!CU\d)[A-Za-z0-9._]+)*\s*$""",
    re.IGNORECASE | re.VERBOSE | re.ASCII,
)


class Track(StrEnum):
    """Main Releases (one a year, with CUs) or Feature Releases (monthly)."""

    MAIN = "main"
    FEATURE = "feature"


@dataclass(frozen=True, order=True)
class Version:
    """One exact DataMiner release. Ordered by (major, minor, build, cu)."""

    major: int
    minor: int
    build: int = 0
    cu: int = 0
    build_number: int | None = field(default=None, compare=False, repr=False)

    @property
    def track(self) -> Track:
        return Track.MAIN if self.build == 0 else Track.FEATURE

    @property
    def main_release(self) -> Version:
        """The Main Release line ``major.minor.0`` this version belongs to (CU0)."""
        return Version(self.major, self.minor, 0, 0)

    @property
    def line(self) -> tuple[int, int]:
        return (self.major, self.minor)

    def with_cu(self, cu: int) -> Version:
        return Version(self.major, self.minor, self.build, cu)

    def __str__(self) -> str:
        base = f"{self.major}.{self.minor}.{self.build}"
        return f"{base} CU{self.cu}" if self.cu else base

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        """In pydantic models a version is read from any accepted spelling (or a Version) and written
        as its display form, so a stored hop reads ``"version": "10.3.0 CU22"``."""
        return core_schema.no_info_plain_validator_function(
            _coerce_version,
            serialization=core_schema.plain_serializer_function_ser_schema(str, when_used="json"),
        )


def _coerce_version(value: object) -> Version:
    if isinstance(value, Version):
        return value
    if isinstance(value, str):
        return parse_version(value)
    raise ValueError(f"a version must be text such as '10.2.0 CU5', not {type(value).__name__}")


@dataclass(frozen=True)
class VersionSpec:
    """What an operator asked for; parts left out (``None``) mean "the latest in the catalog"."""

    major: int
    minor: int
    build: int | None = None
    cu: int | None = None

    def matches(self, version: Version) -> bool:
        return (
            (self.major, self.minor) == version.line
            and (self.build is None or self.build == version.build)
            and (self.cu is None or self.cu == version.cu)
        )

    @property
    def line(self) -> tuple[int, int]:
        return (self.major, self.minor)

    @property
    def is_exact(self) -> bool:
        return self.build is not None and self.cu is not None

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}"
        if self.build is not None:
            text += f".{self.build}"
        if self.cu is not None:
            text += f" CU{self.cu}"
        return text


def _error(text: str) -> VersionError:
    return VersionError(f"{text!r} is not a DataMiner version; accepted forms: {ACCEPTED_FORMS}")


def parse_spec(text: str) -> VersionSpec:
    """Read a possibly partial version (``10.2`` = any 10.2; ``10.2.0`` = 10.2.0, any CU)."""
    if not isinstance(text, str) or len(text) > 64:
        raise _error(str(text)[:64])
    full = _FULL.match(text)
    if full:
        if int(full["rev"]) != 0 or int(full["build"]) > MAX_FEATURE_BUILD:
            raise _error(text)
        return VersionSpec(int(full["major"]), int(full["minor"]), int(full["build"]), int(full["cu"] or 0))
    short = _SHORT.match(text)
    if not short:
        raise _error(text)
    build = int(short["build"]) if short["build"] is not None else None
    cu = int(short["cu"]) if short["cu"] is not None else None
    if build is None and cu is not None:
        # "10.2 CU5" is how the MOP itself writes a main-release CU ("10.0 CU5", "10.1 CU1"): only main
        # releases had CUs when it was written, so it means 10.2.0 CU5. A feature-release CU always names
        # its build ("10.5.12 CU2").
        build = 0
    if build is not None and build > MAX_FEATURE_BUILD:
        raise _error(text)
    return VersionSpec(int(short["major"]), int(short["minor"]), build, cu)


def parse_version(text: str) -> Version:
    """Read an exact version; missing parts are zero (``10.2`` is ``10.2.0`` CU0)."""
    spec = parse_spec(text)
    full = _FULL.match(text)
    number = int(full["number"]) if full else None
    return Version(spec.major, spec.minor, spec.build or 0, spec.cu or 0, build_number=number)
