"""Thresholds per release line, version ranges, known-issue matching and support status."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from dms.catalog_types import Threshold, VersionRange, reached
from dms.known_issues import KnownIssue
from dms.support import SupportEntry, support_status
from dms.versions import parse_version as v


@pytest.mark.parametrize(
    ("version", "expected"),
    [("10.5.0 CU10", False), ("10.5.0 CU11", True), ("10.6.0", False), ("10.6.0 CU1", True),
     ("10.6.2", False), ("10.6.3", True), ("10.5.12 CU2", False), ("10.7.0", True), ("10.7.1", True),
     ("10.4.0 CU21", False)],
)
def test_reached_is_per_release_line(version: str, expected: bool) -> None:
    # Compute Requirements, Microsoft Visual C++: "10.5.0 [CU11]/10.6.0 [CU1]/10.6.3 onwards".
    assert reached(v(version), [v("10.5.0 CU11"), v("10.6.0 CU1"), v("10.6.3")]) is expected


def test_threshold_since_until_and_legacy() -> None:
    nats_running = Threshold(name="x", since=[v("10.2.0 CU14"), v("10.2.7")],
                             until=[v("10.5.0 CU3"), v("10.5.6")])
    probes = ("10.2.0 CU13", "10.2.0 CU14", "10.4.5", "10.5.0 CU3")
    assert [nats_running.applies_to(v(text)) for text in probes] == [False, True, True, False]
    legacy = Threshold(name="y", main=v("10.4.0"))
    assert legacy.applies_to(v("10.4.1")) and not legacy.applies_to(v("10.3.12"))
    with pytest.raises(ValidationError, match="either"):
        Threshold(name="z", main=v("10.4.0"), since=[v("10.4.0")])
    with pytest.raises(ValidationError, match="two points for one release line"):
        Threshold(name="z", since=[v("10.4.0"), v("10.4.0 CU3")])


def test_version_range() -> None:
    span = VersionRange(first=v("10.4.0"), before=v("10.4.5"))
    assert v("10.4.0 CU21") in span and v("10.4.4") in span and v("10.4.5") not in span
    assert v("11.0.0") in VersionRange(first=v("10.4.0"))
    with pytest.raises(ValidationError, match="must be later"):
        VersionRange(first=v("10.5.0"), before=v("10.4.0"))


def test_known_issue_matching() -> None:
    issue = KnownIssue(key="k", title="t", doc="d", effect="e", package="cu",
                       from_versions=[VersionRange(first=v("10.4.0"))])
    assert issue.hit_by(start=v("10.4.0 CU3"), landing=v("10.4.0 CU8"), package="cu")
    assert not issue.hit_by(start=v("10.4.0 CU3"), landing=v("10.5.0"), package="full")
    assert not issue.hit_by(start=v("10.3.0"), landing=v("10.3.0 CU5"), package="cu")
    with pytest.raises(ValidationError, match="needs `from_versions` or `to_versions`"):
        KnownIssue(key="k", title="t", doc="d", effect="e")


def test_support_status_branches() -> None:
    entries = [SupportEntry(main=v("10.5.0"), regular_updates_until=date(2026, 11, 20),
                            supported_until=date(2028, 2, 25), limited_support_until=date(2029, 2, 23))]
    latest = v("10.6.9")

    def status(text: str, today: date) -> tuple[bool, str]:
        result = support_status(v(text), entries=entries, latest_feature=latest, today=today)
        return result.supported, result.text

    assert status("10.5.0 CU3", date(2026, 11, 20)) == (True, "10.5.0: regular updates until 2026-11-20")
    assert status("10.5.0 CU3", date(2026, 12, 1))[0] is True
    assert status("10.5.0 CU3", date(2028, 3, 1)) == (
        False,
        "10.5.0 is out of support since 2028-02-25; limited support (no software fixes) until 2029-02-23")
    assert status("10.4.0", date(2026, 12, 1)) == (False, "10.4.0 is no longer supported")
    assert status("10.6.9", date(2026, 12, 1))[0] is True
    assert status("10.6.8", date(2026, 12, 1))[0] is False
    day = date(2026, 1, 1)
    with pytest.raises(ValidationError, match="must be a main release"):
        SupportEntry(main=v("10.5.3"), regular_updates_until=day, supported_until=day,
                     limited_support_until=day)
