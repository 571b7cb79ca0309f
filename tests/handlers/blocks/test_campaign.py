"""The campaign card (``handlers.blocks.campaign``), pure: built from paths the planner computes, no DMS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dms.catalog import load_catalog
from dms.estimate import estimate
from dms.planner import plan_path
from dms.versions import parse_spec, parse_version
from handlers.blocks.campaign import campaign_card
from handlers.blocks.plan import MAX_BLOCKS
from handlers.blocks.render import render_message
from workflow.campaigns import known_issues
from workflow.model.campaign import CampaignDms, CampaignPlan, Wave

START = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
TODAY = START.date()


def dms(name: str, version: str, *, start: datetime) -> CampaignDms:
    path = plan_path(current=parse_version(version), target=parse_spec("10.5"), catalog=load_catalog(),
                     today=TODAY)
    made = estimate(path=path, agents=2, package_size_mb=700, upload_bandwidth_mbps=50,
                    prerequisite_check_minutes=5, agent_startup_minutes=15)
    own = tuple(w for w in path.warnings if w.kind.value == "support")
    return CampaignDms(name=name, agents=2, path=path, estimate=made, window_start=start,
                       window_end=start + timedelta(hours=1), warnings=own)


def campaign(*, names: tuple[str, str, str] = ("staging", "prod-eu", "prod-us"), soak_given: bool = True
             ) -> CampaignPlan:
    first = Wave(number=1, dms=(dms(names[0], "10.4.0 CU3", start=START),))
    later = START + timedelta(hours=25)
    second = Wave(number=2, dms=(dms(names[1], "10.3.0 CU5", start=later), dms(names[2], "10.2.0 CU5",
                                                                                 start=later)))
    paths = {item.name: item.path for wave in (first, second) for item in wave.dms}
    return CampaignPlan(target=first.dms[0].path.target, waves=(first, second), soak_minutes=24 * 60,
                        soak_given=soak_given, planned_at=START, known_issues=known_issues(paths))


def test_the_card_shows_waves_paths_windows_and_the_end() -> None:
    card = campaign_card(campaign())
    text = render_message(card.blocks, card.text).text
    assert text.startswith("== Campaign to 10.5.0 CU18: 3 DMSs in 2 waves ==")
    assert "proposed" in text and "not booked" in text and "nothing is stored" in text
    assert "Wave 1: 2026-12-01 10:00 UTC to 2026-12-01 11:00 UTC" in text
    assert "Soak 24h after wave 1, then wave 2" in text
    assert "staging (2 agents) on 10.4.0 CU3: 1 hop: 10.5.0 CU18 (full)" in text
    assert "prod-eu (2 agents) on 10.3.0 CU5: 2 hops: 10.4.0 CU21 (full), 10.5.0 CU18 (full)" in text
    assert "prod-us (2 agents) on 10.2.0 CU5: 3 hops:" in text
    assert "proposed window 2026-12-02 11:00 UTC to 2026-12-02 12:00 UTC" in text
    assert "Earliest end: 2026-12-02 12:00 UTC" in text and "soak 24h between waves" in text
    assert "10.2.0 is no longer supported" in text  # a DMS's own warning, under it
    assert text.count("VerifyClusterPort.dll prerequisite") == 1
    assert "staging hop 1; prod-eu hops 1, 2; prod-us hops 1, 2, 3" in text
    assert "Known issue: Known issue" not in text
    assert not render_message(card.blocks).elements  # nothing to click yet
    assert len(card.blocks) <= MAX_BLOCKS and "earliest end 2026-12-02 12:00 UTC" in card.text


def test_the_default_soak_says_so() -> None:
    text = render_message(campaign_card(campaign(soak_given=False)).blocks).text
    assert "Soak 24h (the default) after wave 1" in text


def test_names_cannot_mention_link_or_format() -> None:
    card = campaign_card(campaign(names=("<!channel>", "*bold*", "<https://evil|x>")))
    raw = str(card.blocks)
    assert "<!channel>" not in raw and "&lt;!channel&gt;" in raw
    assert "<https://evil" not in raw and "*bold*" not in raw
    assert "&lt;dms&gt;" in raw  # the bot's own placeholder text, escaped too
