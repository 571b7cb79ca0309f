"""The campaign grammar (``workflow.model.campaign``): the waves, the soak, and a one-line refusal for each
kind of bad input. The slash command and the CLI both read campaigns with it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from workflow.model.campaign import (
    DEFAULT_SOAK_MINUTES,
    MAX_DMS,
    CampaignRequest,
    WaveWindow,
    parse_campaign,
    parse_soak,
)
from workflow.model.errors import UserError


def words(text: str) -> list[str]:
    return text.split()


def test_waves_in_order_with_the_soak() -> None:
    request = parse_campaign(words("10.5 on staging then prod-eu prod-us soak 24h"))
    assert request == CampaignRequest(target="10.5", waves=(("staging",), ("prod-eu", "prod-us")),
                                      soak_minutes=24 * 60, soak_given=True)
    assert request.dms_names == ("staging", "prod-eu", "prod-us")


def test_a_wave_may_give_its_window_and_its_length() -> None:
    request = parse_campaign(words("10.5 on staging at 2026-12-08 22:00 for 4h then prod-eu prod-us "
                                   "at 2026-12-10 21:30 soak 24h"))
    assert request.waves == (("staging",), ("prod-eu", "prod-us"))
    assert request.window_of(1) == WaveWindow(start=datetime(2026, 12, 8, 22, 0, tzinfo=UTC), minutes=240)
    assert request.window_of(2) == WaveWindow(start=datetime(2026, 12, 10, 21, 30, tzinfo=UTC))
    plain = parse_campaign(words("10.5 on staging then prod-eu"))
    assert plain.windows == () and plain.window_of(2) is None


def test_a_target_with_spaces_one_wave_and_the_default_soak() -> None:
    request = parse_campaign(words("10.4.0 CU5 ON lab-1 lab-2"))
    assert request.target == "10.4.0 CU5" and request.waves == (("lab-1", "lab-2"),)
    assert request.soak_minutes == DEFAULT_SOAK_MINUTES and not request.soak_given
    assert parse_campaign(words("latest feature on a then b")).target == "latest feature"


@pytest.mark.parametrize(("text", "minutes"), [("90m", 90), ("2h30m", 150), ("2d", 2880), ("1d12h", 2160),
                                               ("30d", 30 * 1440)])
def test_soak_durations(text: str, minutes: int) -> None:
    assert parse_soak(text) == minutes


@pytest.mark.parametrize(("text", "problem"), [
    ("", "needs a target and `on <dms>`"),
    ("10.5", "needs a target and `on <dms>`"),
    ("on staging", "target version before `on`"),
    ("10.99.x on staging", "10.99.x"),
    ("10.5 on", "Wave 1 is empty"),
    ("10.5 on staging then", "Wave 2 is empty"),
    ("10.5 on then prod", "Wave 1 is empty"),
    ("10.5 on a then then b", "Wave 2 is empty"),
    ("10.5 on a then b a", "DMS `a` is named twice (waves 1 and 2)"),
    ("10.5 on a a", "DMS `a` is named twice (wave 1)"),
    ("10.5 on a on b", "`on` is given twice"),
    ("10.5 on a soak", "`soak` needs a duration"),
    ("10.5 on a soak 0h", "longer than 0 minutes"),
    ("10.5 on a soak 31d", "at most 30 days"),
    ("10.5 on a soak soon", "`soon` is not a soak duration"),
    ("10.5 on a soak 24h then b", "`soak` comes last"),
    ("10.5 on a soak 1h soak 2h", "`soak` comes last"),
    ("10.5 on soak 24h", "Wave 1 is empty"),
    ("10.5 on a at 2026-12-08", "Wave 1: `at` needs a date and a time"),
    ("10.5 on a at tomorrow 22:00", "Wave 1: `tomorrow 22:00` is not a date and time"),
    ("10.5 on a then b for 4h", "Wave 2: `for <duration>` comes after `at"),
    ("10.5 on a at 2026-12-08 22:00 for", "only `for <duration>` may follow"),
    ("10.5 on a at 2026-12-08 22:00 for 3d", "at most 2 days"),
    ("10.5 on a at 2026-12-08 22:00 for soon", "`soon` is not a window length"),
    ("10.5 on at 2026-12-08 22:00 then b", "Wave 1 is empty"),
])
def test_bad_input_is_one_clear_line(text: str, problem: str) -> None:
    with pytest.raises(UserError) as caught:
        parse_campaign(words(text))
    assert problem in caught.value.message and "\n" not in caught.value.message


def test_a_campaign_has_a_size_limit() -> None:
    names = " ".join(f"dms-{i}" for i in range(MAX_DMS + 1))
    with pytest.raises(UserError, match="at most"):
        parse_campaign(words(f"10.5 on {names}"))
    with pytest.raises(UserError, match="at most"):
        parse_campaign(words("10.5 on " + " then ".join(f"w{i}" for i in range(11))))
