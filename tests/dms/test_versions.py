"""Every spelling an operator pastes, the display form, the order, the track and the main release."""

from __future__ import annotations

import pytest

from dms.exceptions import VersionError
from dms.versions import ACCEPTED_FORMS, Track, Version, VersionSpec, parse_spec, parse_version


@pytest.mark.parametrize(
    ("text", "expected", "display"),
    [
        ("10.2", Version(10, 2, 0, 0), "10.2.0"),
        ("10.2.0", Version(10, 2, 0, 0), "10.2.0"),
        ("10.2.0 CU5", Version(10, 2, 0, 5), "10.2.0 CU5"),
        ("10.2.0 [CU5]", Version(10, 2, 0, 5), "10.2.0 CU5"),
        ("10.2.0CU5", Version(10, 2, 0, 5), "10.2.0 CU5"),
        ("10.2.0 cu5", Version(10, 2, 0, 5), "10.2.0 CU5"),
        ("  10.2.0 [CU5]  ", Version(10, 2, 0, 5), "10.2.0 CU5"),
        ("10.3.4", Version(10, 3, 4, 0), "10.3.4"),
        ("10.5.12 CU2", Version(10, 5, 12, 2), "10.5.12 CU2"),
        ("10.0.13", Version(10, 0, 13, 0), "10.0.13"),
        ("10.4.2.0-13691", Version(10, 4, 2, 0), "10.4.2"),
        ("9.6.0.0-8538", Version(9, 6, 0, 0), "9.6.0"),
        ("10.2.0.0-11897-CU4", Version(10, 2, 0, 4), "10.2.0 CU4"),
        ("10.4.0.0-14772-20240821-release", Version(10, 4, 0, 0), "10.4.0"),
        ("10.2.0 CU0", Version(10, 2, 0, 0), "10.2.0"),
    ],
)
def test_parse_every_spelling(text: str, expected: Version, display: str) -> None:
    version = parse_version(text)
    assert version == expected
    assert str(version) == display


@pytest.mark.parametrize(
    ("text", "number"),
    [("10.4.2.0-13691", 13691), ("9.6.0.0-8538", 8538), ("10.2.0.0-11897-CU4", 11897), ("10.2.0 CU4", None)],
)
def test_build_number_is_kept_but_not_compared(text: str, number: int | None) -> None:
    version = parse_version(text)
    assert version.build_number == number
    assert version == Version(version.major, version.minor, version.build, version.cu)


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("10.2", VersionSpec(10, 2, None, None)),
        ("10.2.0", VersionSpec(10, 2, 0, None)),
        ("10.2.0 CU5", VersionSpec(10, 2, 0, 5)),
        ("10.2 CU5", VersionSpec(10, 2, 0, 5)),
        ("10.0 [CU5]", VersionSpec(10, 0, 0, 5)),
        ("10.3.4", VersionSpec(10, 3, 4, None)),
        ("10.5.12 CU2", VersionSpec(10, 5, 12, 2)),
        ("10.2.0.0-11897", VersionSpec(10, 2, 0, 0)),
        ("10.2.0.0-11897-CU4", VersionSpec(10, 2, 0, 4)),
    ],
)
def test_parse_spec_keeps_missing_parts_open(text: str, spec: VersionSpec) -> None:
    assert parse_spec(text) == spec


@pytest.mark.parametrize(
    ("lower", "higher"),
    [
        ("9.5.0", "9.6.0"),
        ("9.6.0.0-8538", "10.0.0"),
        ("10.0.0 CU19", "10.0.0 CU21"),
        ("10.0.0 CU21", "10.0.2"),
        ("10.0.13", "10.1.0"),
        ("10.2.0 CU5", "10.2.0 CU10"),
        ("10.2.0 CU21", "10.2.1"),
        ("10.3.4", "10.3.12"),
        ("10.4.12", "10.5.0"),
        ("10.5.12", "10.5.12 CU2"),
        ("10.4.0.0-14772-20240821-release", "10.4.0 CU1"),
    ],
)
def test_total_order(lower: str, higher: str) -> None:
    low, high = parse_version(lower), parse_version(higher)
    assert low < high
    assert high > low
    assert sorted([high, low]) == [low, high]


def test_two_builds_of_one_release_are_equal() -> None:
    assert parse_version("10.2.0.0-11897-CU4") == parse_version("10.2.0 [CU4]")
    assert hash(parse_version("10.2.0.0-11897-CU4")) == hash(parse_version("10.2.0 CU4"))


@pytest.mark.parametrize(
    ("text", "track", "main"),
    [
        ("10.2.0 CU5", Track.MAIN, "10.2.0"),
        ("10.3.4", Track.FEATURE, "10.3.0"),
        ("10.5.12 CU2", Track.FEATURE, "10.5.0"),
        ("9.6.0.0-8538", Track.MAIN, "9.6.0"),
        ("10.4.2.0-13691", Track.FEATURE, "10.4.0"),
    ],
)
def test_track_and_main_release(text: str, track: Track, main: str) -> None:
    version = parse_version(text)
    assert version.track is track
    assert version.main_release == parse_version(main)


@pytest.mark.parametrize(
    "text",
    [
        "", "ten", "10", "10.x", "10.2.0 CU", "10.2.0.1-123", "10.2.99", "10.2.0 CU5 extra",
        "v10.2", "x" * 100,
    ],
)
def test_bad_input_quotes_it_and_lists_accepted_forms(text: str) -> None:
    with pytest.raises(VersionError) as caught:
        parse_version(text)
    message = str(caught.value)
    assert repr(text[:64]) in message
    assert ACCEPTED_FORMS in message
    assert isinstance(caught.value, ValueError)


def test_spec_matches() -> None:
    assert parse_spec("10.2").matches(Version(10, 2, 0, 7))
    assert parse_spec("10.2").matches(Version(10, 2, 3, 0))
    assert not parse_spec("10.2.0").matches(Version(10, 2, 3, 0))
    assert not parse_spec("10.2.0 CU5").matches(Version(10, 2, 0, 6))


@pytest.mark.parametrize(
    "text",
    [
        "\u0661\u0660.\u0662",  # Arabic-Indic digits: int() reads them, DataMiner never prints them
        "10.\uff12",  # full-width digit
        "10.2.0.0-11897-release-CU4",  # a CU hidden in the suffix must not read as CU0
        "10.2.0.0-11897-CU4-",
        "10.2.99.0-11897",  # the same build bound as the short form "10.2.99"
    ],
)
def test_lookalike_input_is_refused_not_misread(text: str) -> None:
    with pytest.raises(VersionError):
        parse_version(text)


def test_suffix_after_the_cu_is_still_accepted() -> None:
    assert parse_version("10.2.0.0-11897-CU4-release") == Version(10, 2, 0, 4)


def test_mop_short_cu_form_is_a_main_release_cu() -> None:
    # The MOP (user-guide MOP_Upgrading_a_DMA_DMS, "from 10.0 CU5 to 10.1 CU1") writes main-release CUs
    # without the build: https://docs.dataminer.services/dataminer/Reference/MOPs/MOP_Upgrading_a_DMA_DMS.html
    assert parse_version("10.0 CU5") == Version(10, 0, 0, 5)
    assert parse_version("10.1 CU1") == Version(10, 1, 0, 1)
