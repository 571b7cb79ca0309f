"""DataMiner's support life cycle as catalog data, and what it means for one version on one day.

Source: "Software support lifecycles"
(https://docs.dataminer.services/dataminer/Reference/Software_support_life_cycles.html). Main releases have
three dates: regular (monthly CU) updates until, supported (security and critical fixes) until, limited
support (online help, no software) until; "older versions are no longer supported". A feature release is
supported only while it is the latest one: "you always need to upgrade to the latest version to get the
latest security updates".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pydantic import model_validator

from dms.catalog_types import CatalogVersion, Entry
from dms.versions import Track, Version


class SupportEntry(Entry):
    main: CatalogVersion  # the main release, e.g. "10.5.0"
    released: date | None = None  # the docs page gives no release dates; fill when known
    regular_updates_until: date
    supported_until: date
    limited_support_until: date

    @model_validator(mode="after")
    def _ordered(self) -> SupportEntry:
        if self.main.track is not Track.MAIN or self.main.cu:
            raise ValueError(f'`main` "{self.main}" must be a main release without CU, e.g. "10.5.0"')
        if not self.regular_updates_until <= self.supported_until <= self.limited_support_until:
            raise ValueError("dates must run regular updates <= supported <= limited support")
        return self


@dataclass(frozen=True)
class SupportStatus:
    """Where one version stands on one day; ``supported`` False means the plan must warn."""

    version: Version
    supported: bool
    text: str


def support_status(
    version: Version, *, entries: list[SupportEntry], latest_feature: Version | None, today: date
) -> SupportStatus:
    """The support status of ``version`` on ``today`` (feature releases: only the latest is supported)."""
    if version.track is Track.FEATURE:
        if latest_feature is not None and (version.line, version.build) >= (latest_feature.line,
                                                                                 latest_feature.build):
            return SupportStatus(version, True, f"{version}: the latest feature release, supported")
        latest = f" (latest: {latest_feature})" if latest_feature is not None else ""
        return SupportStatus(
            version, False,
            f"{version} is an older feature release: only the latest feature release gets fixes and "
            f"security updates{latest}; move forward or switch to the main release track",
        )
    entry = next((item for item in entries if item.main.line == version.line), None)
    if entry is None:
        oldest = min((item.main for item in entries), default=None)
        if oldest is not None and version.line < oldest.line:
            return SupportStatus(version, False, f"{version.main_release} is no longer supported")
        return SupportStatus(version, True, f"{version.main_release}: no support dates in the catalog")
    if today <= entry.regular_updates_until:
        return SupportStatus(version, True,
                             f"{entry.main}: regular updates until {entry.regular_updates_until}")
    if today <= entry.supported_until:
        return SupportStatus(
            version, True,
            f"{entry.main}: security and critical fixes only, supported until {entry.supported_until}",
        )
    limited = (
        f"; limited support (no software fixes) until {entry.limited_support_until}"
        if today <= entry.limited_support_until else ""
    )
    return SupportStatus(version, False,
                         f"{entry.main} is out of support since {entry.supported_until}{limited}")
