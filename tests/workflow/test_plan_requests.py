"""``plan latest`` and ``plan latest feature``: the newest released release of the track, never a preview."""

from __future__ import annotations

import pytest

from dms.catalog import load_catalog
from dms.versions import Track, Version
from workflow.model.errors import UserError
from workflow.plan_requests import parse_request


def test_latest_is_the_latest_released_main_release_and_latest_feature_the_feature_one() -> None:
    catalog = load_catalog()
    released = [v for v in catalog.versions if not catalog.is_preview(v)]
    main = max(v for v in released if v.track is Track.MAIN)
    feature = max(v for v in released if v.track is Track.FEATURE)
    assert parse_request("latest", None, catalog=catalog) == (main, Track.MAIN)
    assert parse_request("latest main", None, catalog=catalog) == (main, Track.MAIN)
    assert parse_request("latest", "feature", catalog=catalog) == (feature, Track.FEATURE)
    assert parse_request("Latest Feature", None, catalog=catalog) == (feature, Track.FEATURE)
    assert isinstance(main, Version) and not catalog.is_preview(main)
    assert any(catalog.is_preview(v) and v > main for v in catalog.versions if v.track is Track.MAIN)


@pytest.mark.parametrize(("target", "track"), [("latest banana", None), ("latest feature", "main")])
def test_latest_with_a_wrong_word_is_refused(target: str, track: str | None) -> None:
    with pytest.raises(UserError):
        parse_request(target, track, catalog=load_catalog())
