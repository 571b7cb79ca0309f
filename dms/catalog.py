"""The release catalog: which DataMiner releases exist, which checks their packages run, what agents need.

The list changes every month, so it is data (``dms/data/catalog.toml``), validated here with pydantic.
``load_catalog(path)`` reads an operator's newer file (setting ``RELEASE_CATALOG``); a broken file raises
``CatalogError`` naming the bad entry, e.g. ``releases[3].version: "10.x" is not a DataMiner version``.
"""

from __future__ import annotations

import bisect
import tomllib
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from dms.catalog_types import CatalogVersion, Entry, Threshold
from dms.exceptions import CatalogError, PathError
from dms.known_issues import KnownIssue
from dms.support import SupportEntry, SupportStatus, support_status
from dms.versions import Track, Version, VersionSpec

Line = tuple[int, int]

# Beyond this many days since the documentation snapshot the catalog was built from (`docs_snapshot`),
# plans say the catalog may be stale: DataMiner ships a feature release and main-release CUs every month,
# so three months means several releases may be missing. The snapshot, not the day someone edited the
# file: a catalog edited today from a four-month-old clone is four months old.
FRESH_DAYS = 90


class ReleaseEntry(Entry):
    version: CatalogVersion
    cus: int = Field(default=0, ge=0, le=99)
    through: CatalogVersion | None = None
    preview: bool = False
    # CUs from this number on are still previews (10.5.0 CU19 ships with 10.6.0 CU7 / 10.6.10).
    preview_from_cu: int | None = Field(default=None, ge=1, le=99)

    @model_validator(mode="after")
    def _coherent(self) -> ReleaseEntry:
        if self.version.cu:
            raise ValueError(f'"{self.version}": give the release without CU and the highest CU in `cus`')
        if self.through is not None:
            if self.version.track is Track.MAIN:
                raise ValueError("`through` only expands feature releases")
            if self.through.line != self.version.line or self.through.build <= self.version.build:
                raise ValueError(
                    f'`through` "{self.through}" must be a later feature release of {self.version}'
                )
            if self.through.cu or self.cus:
                raise ValueError("a `through` range cannot carry CUs: list that release on its own")
        if self.preview_from_cu is not None and self.preview_from_cu > self.cus:
            raise ValueError(f"`preview_from_cu` {self.preview_from_cu} is above `cus` {self.cus}")
        return self

    def is_preview(self, version: Version) -> bool:
        return self.preview or (self.preview_from_cu is not None and version.cu >= self.preview_from_cu)

    def expand(self) -> list[Version]:
        last = self.through.build if self.through is not None else self.version.build
        return [
            Version(self.version.major, self.version.minor, build, cu)
            for build in range(self.version.build, last + 1)
            for cu in range(self.cus + 1)
        ]


class HelperEntry(Entry):
    key: str = Field(min_length=1)
    name: str = Field(min_length=1)
    description: str = ""
    minutes: float = Field(gt=0)
    minutes_documented: bool = True  # false: a working assumption, the helper's page gives no duration
    restarts_agents: bool = True
    valid_days: int | None = Field(default=None, ge=1)
    doc: str
    # Checklist data: what must hold before the helper runs, and what to do after it.
    prerequisites: list[str] = []
    post_steps: list[str] = []


class Catalog(BaseModel):
    """The validated catalog plus the queries the planner, estimator and checks need."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_: int = Field(alias="schema", ge=1, le=1)
    docs_base: str = Field(pattern=r"^https?://")
    updated: str = ""
    # The dataminer-docs commit `dm-upgrade catalog sync` read, and its date: the catalog's age.
    docs_snapshot: date | None = None
    docs_commit: str = Field(default="", pattern=r"^([0-9a-f]{40})?$")
    checked: date | None = None  # older catalogs: a hand-typed date, used only without `docs_snapshot`
    docs: dict[str, str]
    releases: list[ReleaseEntry] = Field(min_length=1)
    helpers: list[HelperEntry] = []
    checks: list[Threshold] = []
    requirements: list[Threshold] = []
    known_issues: list[KnownIssue] = []
    support: list[SupportEntry] = []

    _versions: list[Version] = PrivateAttr(default_factory=list)
    _preview: frozenset[Version] = PrivateAttr(default_factory=frozenset)

    @model_validator(mode="after")
    def _index(self) -> Catalog:
        seen: dict[Version, int] = {}
        preview: set[Version] = set()
        for index, entry in enumerate(self.releases):
            for version in entry.expand():
                if version in seen:
                    raise ValueError(
                        f"releases[{index}]: {version} is already listed by releases[{seen[version]}]"
                    )
                seen[version] = index
                if entry.is_preview(version):
                    preview.add(version)
        for name, items in (
            ("helpers", [(item.key, item.doc) for item in self.helpers]),
            ("known_issues", [(item.key, item.doc) for item in self.known_issues]),
        ):
            for index, (_, doc) in enumerate(items):
                if doc not in self.docs:
                    raise ValueError(f'{name}[{index}].doc: "{doc}" is not a key of [docs]')
            if len({key for key, _ in items}) != len(items):
                raise ValueError(f"{name}: duplicate key")
        for index, threshold in enumerate([*self.checks, *self.requirements]):
            if threshold.source and threshold.source not in self.docs:
                raise ValueError(
                    f'checks/requirements[{index}].source: "{threshold.source}" is not a key of [docs]'
                )
        self._versions = sorted(seen)
        self._preview = frozenset(preview)
        return self

    # --- releases -------------------------------------------------------------------------------
    @property
    def versions(self) -> tuple[Version, ...]:
        """Every known release, previews included, in order."""
        return tuple(self._versions)

    def contains(self, version: Version) -> bool:
        index = bisect.bisect_left(self._versions, version)
        return index < len(self._versions) and self._versions[index] == version

    def is_preview(self, version: Version) -> bool:
        return version in self._preview

    def _released(self) -> list[Version]:
        return [version for version in self._versions if version not in self._preview]

    def main_lines(self) -> tuple[Line, ...]:
        """Lines that have a released main release, in order."""
        return tuple(sorted({v.line for v in self._released() if v.track is Track.MAIN}))

    def latest_cu(self, release: Line | Version) -> Version:
        """Latest CU of a main release line (``(10, 2)``) or of one release (``10.5.12`` -> ``10.5.12 CU2``).
        """
        if isinstance(release, Version):
            key = (release.major, release.minor, release.build)
        else:
            key = (release[0], release[1], 0)
        found = [v for v in self._released() if (v.major, v.minor, v.build) == key]
        if not found:
            name = ".".join(str(part) for part in key)
            raise PathError(f"{name} is not a released version in the catalog; {self._nearest_text(key)}")
        return found[-1]

    def latest_feature(self, line: Line) -> Version:
        """Latest feature release of a line, on its latest CU (``(10, 5)`` -> ``10.5.12 CU2``)."""
        found = [v for v in self._released() if v.line == line and v.track is Track.FEATURE]
        if not found:
            raise PathError(f"no feature release of {line[0]}.{line[1]} in the catalog")
        return found[-1]

    def resolve(self, spec: VersionSpec, track: Track) -> Version:
        """The release a target spec means on a track: missing parts mean "latest in the catalog"."""
        if spec.build is not None and (spec.build == 0) != (track is Track.MAIN):
            named = "a main release" if spec.build == 0 else "a feature release"
            raise PathError(f"{spec} is {named}, not on the {track.value} track; drop --track or change it")
        candidates = [v for v in self._versions if spec.matches(v) and v.track is track]
        released = [v for v in candidates if v not in self._preview]
        chosen = released or candidates  # a preview only when the operator names nothing else
        if not chosen:
            raise PathError(
                f"{spec} on the {track.value} track is not in the release catalog; "
                f"{self._nearest_text((spec.major, spec.minor, spec.build or 0, spec.cu or 0))}"
            )
        return chosen[-1]

    def nearest(self, version: Version, *, count: int = 4) -> list[Version]:
        """Known releases closest to ``version`` in order: up to ``count // 2`` below and above."""
        index = bisect.bisect_left(self._versions, version)
        half = max(1, count // 2)
        return self._versions[max(0, index - half) : index + half]

    def _nearest_text(self, parts: tuple[int, ...]) -> str:
        probe = Version(*parts[:4]) if len(parts) >= 3 else Version(parts[0], parts[1])
        near = [v for v in self.nearest(probe) if v != probe]
        names = ", ".join(str(v) + (" (preview)" if v in self._preview else "") for v in near)
        return f"nearest known: {names}" if names else "the catalog lists no nearby release"

    # --- checks, requirements, helpers, docs ----------------------------------------------------
    def checks_for(self, version: Version) -> tuple[str, ...]:
        """Prerequisite checks the package of ``version`` runs on upload."""
        return tuple(check.name for check in self.checks if check.applies_to(version))

    def requirements_for(self, from_v: Version, to_v: Version) -> tuple[str, ...]:
        """Requirements that become due when agents move from ``from_v`` to ``to_v``."""
        return tuple(
            req.name
            for req in self.requirements
            if not req.always and req.applies_to(to_v) and not req.applies_to(from_v)
        )

    def baseline_requirements(self) -> tuple[str, ...]:
        """Requirements of every version (supported Windows Server, hardware)."""
        return tuple(req.name for req in self.requirements if req.always)

    def helper(self, key: str) -> HelperEntry:
        for helper in self.helpers:
            if helper.key == key:
                return helper
        raise CatalogError(f'the release catalog has no helper "{key}"')

    def doc_url(self, key: str) -> str:
        """The page behind a [docs] key; a ``#anchor`` in the path points at a section of the page."""
        try:
            path = self.docs[key]
        except KeyError:
            raise CatalogError(f'the release catalog has no [docs] entry "{key}"') from None
        page, _, anchor = path.partition("#")
        return f"{self.docs_base.rstrip('/')}/{page.strip('/')}.html" + (f"#{anchor}" if anchor else "")

    def issues_hit(self, *, start: Version, landing: Version, package: str) -> tuple[KnownIssue, ...]:
        """Known issues an upgrade from ``start`` to ``landing`` with ``package`` ("cu"/"full") runs into."""
        return tuple(
            issue
            for issue in self.known_issues
            if issue.hit_by(start=start, landing=landing, package=package)
        )

    def support_status(self, version: Version, *, today: date) -> SupportStatus:
        """Whether ``version`` is supported on ``today`` (Software support lifecycles)."""
        features = [v for v in self._released() if v.track is Track.FEATURE]
        return support_status(
            version, entries=self.support, latest_feature=features[-1] if features else None, today=today
        )

    @property
    def as_of(self) -> date | None:
        """The day the catalog's data is from: its documentation snapshot (else the older hand-typed date)."""
        return self.docs_snapshot if self.docs_snapshot is not None else self.checked

    def as_of_text(self) -> str:
        if self.docs_snapshot is not None:
            return f"documentation snapshot of {self.docs_snapshot}"
        return f"last checked {self.checked}" if self.checked is not None else "age unknown"

    def age_days(self, *, today: date) -> int | None:
        """Days since the catalog's documentation snapshot (None: it does not say)."""
        return None if self.as_of is None else (today - self.as_of).days

    def freshness_warning(self, *, today: date) -> str | None:
        """A sentence for plans when the catalog is older than ``FRESH_DAYS`` or does not say its age."""
        age = self.age_days(today=today)
        if age is None:
            return ("The release catalog does not say which documentation it was built from: releases may be "
                    "missing.")
        if age > FRESH_DAYS:
            return (
                f"The release catalog is built from the DataMiner documentation as of {self.as_of} "
                f"({age} days ago, more than {FRESH_DAYS}): newer releases, known issues or support dates "
                "may be missing. Run `dm-upgrade catalog sync` on a fresh dataminer-docs clone and point "
                "RELEASE_CATALOG at the result."
            )
        return None


Location = tuple[str | int, ...]


def location_text(loc: Location) -> str:
    """``("releases", 3, "version")`` -> ``releases[3].version``."""
    text = ""
    for piece in loc:
        text += f"[{piece}]" if isinstance(piece, int) else (f".{piece}" if text else str(piece))
    return text


def validation_errors(data: dict[str, Any]) -> list[tuple[Location, str]]:
    """Every problem of a catalog document as (location, message); empty when it is valid.

    The same pydantic validation as ``parse_catalog``, so ``dm-upgrade catalog check`` and the bot agree.
    """
    try:
        Catalog.model_validate(data)
    except ValidationError as error:
        return [
            (tuple(item["loc"]), str(item["msg"]).removeprefix("Value error, ")) for item in error.errors()
        ]
    return []


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        loc = location_text(tuple(item["loc"]))
        message = str(item["msg"]).removeprefix("Value error, ")
        parts.append(f"{loc}: {message}" if loc else message)
    return "; ".join(parts[:5]) + (f" (and {len(parts) - 5} more)" if len(parts) > 5 else "")


def parse_catalog(data: dict[str, Any], *, source: str = "release catalog") -> Catalog:
    try:
        return Catalog.model_validate(data)
    except ValidationError as error:
        raise CatalogError(f"{source}: {_describe(error)}") from None


def load_catalog(path: Path | None = None) -> Catalog:
    """Read and validate the catalog at ``path``, or the one shipped inside the package."""
    try:
        if path is None:
            text = resources.files("dms").joinpath("data/catalog.toml").read_text(encoding="utf-8")
            source = "packaged release catalog"
        else:
            text = Path(path).read_text(encoding="utf-8")
            source = f"release catalog {path}"
    except OSError as error:
        raise CatalogError(f"cannot read release catalog {path}: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise CatalogError(f"release catalog {path} is not UTF-8 text (byte {error.start})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise CatalogError(f"{source} is not valid TOML: {error}") from None
    return parse_catalog(data, source=source)
