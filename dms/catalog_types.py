"""Building blocks of the release catalog: versions as catalog values, thresholds per release line, ranges.

DataMiner documents most "from version X on" facts per release line at once: "10.5.0 [CU11]/10.6.0 [CU1]/
10.6.3" means the 10.5.0 main release from CU11, the 10.6.0 main release from CU1 and feature releases of
10.6 from 10.6.3 (DataMiner Compute Requirements, Microsoft Visual C++:
https://docs.dataminer.services/dataminer/Reference/DataMiner_Compute_Requirements.html). One version per
track cannot say that (10.6.0 CU0 would wrongly qualify), so a threshold lists one point per release line.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, model_validator

from dms.exceptions import VersionError
from dms.versions import Track, Version, parse_version


def _to_version(value: object) -> Version:
    if isinstance(value, Version):
        return value
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a DataMiner version (expected a string such as \"10.2.0 CU5\")")
    try:
        return parse_version(value)
    except VersionError:
        raise ValueError(f'"{value}" is not a DataMiner version') from None


CatalogVersion = Annotated[Version, PlainValidator(_to_version)]


class Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _stream(version: Version) -> tuple[int, int, Track]:
    """A release line and track: the 10.5.0 main release and the 10.5.x feature releases are two streams."""
    return (version.major, version.minor, version.track)


def reached(version: Version, points: list[Version] | tuple[Version, ...]) -> bool:
    """Whether ``version`` is at or past the point listed for its own release line and track.

    A line with no point of its own qualifies when a point is listed for an older line (what 10.5 brought,
    10.6 keeps): 10.4.0 needs .NET 8 because 10.3.0 CU12 did.
    """
    own = [point for point in points if _stream(point) == _stream(version)]
    if own:
        return version >= min(own)
    return any(point.line < version.line for point in points)


class Threshold(Entry):
    """Something that holds from some versions on (and, with ``until``, stops holding later).

    ``since``/``until`` list one point per release line (see the module docstring). The older ``main``/
    ``feature`` pair is kept for catalogs written before: a feature release compares against ``feature``,
    or against ``main`` when no feature release is named.
    """

    name: str = Field(min_length=1)
    main: CatalogVersion | None = None
    feature: CatalogVersion | None = None
    since: list[CatalogVersion] = []
    until: list[CatalogVersion] = []
    source: str = ""  # the documentation page (docs key) this threshold follows

    @model_validator(mode="after")
    def _tracks(self) -> Threshold:
        if self.main is not None and self.main.track is not Track.MAIN:
            raise ValueError(f'`main` "{self.main}" is a feature release')
        if self.feature is not None and self.feature.track is not Track.FEATURE:
            raise ValueError(f'`feature` "{self.feature}" is not a feature release')
        if self.feature is not None and self.main is None:
            raise ValueError("`feature` without `main`")
        if self.main is not None and (self.since or self.until):
            raise ValueError("give either `main`/`feature` or `since`/`until`, not both")
        for name, points in (("since", self.since), ("until", self.until)):
            streams = [_stream(point) for point in points]
            if len(set(streams)) != len(streams):
                raise ValueError(f"`{name}` lists two points for one release line")
        return self

    @property
    def always(self) -> bool:
        return self.main is None and not self.since and not self.until

    def applies_to(self, version: Version) -> bool:
        if self.since or self.until:
            started = reached(version, self.since) if self.since else True
            return started and not (self.until and reached(version, self.until))
        if self.main is None:
            return True
        if version.track is Track.FEATURE and self.feature is not None:
            return version >= self.feature
        return version >= self.main


class VersionRange(Entry):
    """Versions from ``first`` up to, not including, ``before`` (open-ended without it).

    ``before`` is usually the documented fix, so the range reads like a Known issues page.
    """

    first: CatalogVersion
    before: CatalogVersion | None = None

    @model_validator(mode="after")
    def _ordered(self) -> VersionRange:
        if self.before is not None and self.before <= self.first:
            raise ValueError(f'`before` "{self.before}" must be later than `first` "{self.first}"')
        return self

    def __contains__(self, version: object) -> bool:
        if not isinstance(version, Version):
            return False
        return self.first <= version and (self.before is None or version < self.before)

    def __str__(self) -> str:
        return f"{self.first} up to {self.before} (excluded)" if self.before else f"{self.first} and later"
