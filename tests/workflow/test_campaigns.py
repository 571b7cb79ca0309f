"""Planning a campaign dry (``workflow.campaigns``) against three simulated DMSs on three versions, over
real HTTP: each DMS gets its own path to the one target, the waves get proposed windows, and a campaign
that names an unknown DMS or a DMS that cannot reach the target is refused in one line, nothing stored."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine

from bot import simulated
from bot.settings import Settings
from dms.catalog import load_catalog
from dms.upgrade_path import WarningKind
from tests.support.approvers import StaticApprovers
from tests.support.clock import FakeClock
from tests.support.notifier import RecordingNotifier
from tests.workflow.conftest import engine_settings, sim_config
from workflow import campaigns, plan_requests
from workflow.dms_access import DmsAccess
from workflow.engine import UpgradeEngine
from workflow.model.campaign import CampaignPlan, CampaignRequest, parse_campaign
from workflow.model.errors import NotFound, UserError
from workflow.settings import SIMULATED
from workflow.store import plans
from workflow.store.database import session
from workflow.targets import TargetConfig

VERSIONS = {"staging": "10.4.0 CU3", "prod-eu": "10.3.0 CU5", "prod-us": "10.2.0 CU5"}
NOW = datetime(2026, 12, 1, 10, 0, 30, tzinfo=UTC)


@pytest.fixture
def settings(db_url: str) -> Settings:
    return engine_settings(dms_url=SIMULATED, database_url=db_url)


def target(name: str, settings: Settings, url: str = SIMULATED) -> TargetConfig:
    return TargetConfig(name=name, url=url, user=settings.dms_user, password=settings.dms_password)


@pytest.fixture
async def fleet(settings: Settings) -> AsyncIterator[DmsAccess]:
    """Three simulated DMSs at once, each a simulator of its own on its own version."""
    async with AsyncExitStack() as stack:
        targets = await simulated.serve_targets(
            stack, settings, {name: target(name, settings) for name in VERSIONS}, versions=VERSIONS,
            config=sim_config(agents=2, failover_pairs=0, user=settings.dms_user,
                              password=SecretStr(settings.dms_password.get_secret_value())))
        assert len({t.url for t in targets.values()}) == 3 and not any(t.simulated for t in targets.values())
        yield DmsAccess(settings=settings, targets=targets)


async def plan(access: DmsAccess, settings: Settings, text: str) -> CampaignPlan:
    return await campaigns.plan_campaign(parse_campaign(text.split()), access=access, catalog=load_catalog(),
                                         settings=settings, now=NOW)


async def test_each_dms_gets_its_own_path_to_the_one_target(fleet: DmsAccess, settings: Settings) -> None:
    campaign = await plan(fleet, settings, "10.5 on staging then prod-eu prod-us soak 24h")
    by_name = {item.name: item for item in campaign.dms}
    waves = [[item.name for item in wave.dms] for wave in campaign.waves]
    assert waves == [["staging"], ["prod-eu", "prod-us"]]
    assert {name: str(item.current) for name, item in by_name.items()} == VERSIONS
    assert {name: [str(hop.version) for hop in item.hops] for name, item in by_name.items()} == {
        "staging": ["10.5.0 CU18"],
        "prod-eu": ["10.4.0 CU21", "10.5.0 CU18"],
        "prod-us": ["10.3.0 CU22", "10.4.0 CU21", "10.5.0 CU18"],
    }
    assert str(campaign.target) == "10.5.0 CU18" and all(item.agents == 2 for item in campaign.dms)
    estimates = [by_name[name].estimate.execution.high_minutes for name in ("staging", "prod-eu", "prod-us")]
    assert estimates == sorted(estimates) and len(set(estimates)) == 3  # more hops, longer upgrade


async def test_windows_follow_the_waves_and_the_soak(fleet: DmsAccess, settings: Settings) -> None:
    campaign = await plan(fleet, settings, "10.5 on staging then prod-eu prod-us soak 1d12h")
    first, second = campaign.waves
    assert first.start == datetime(2026, 12, 1, 10, 1, tzinfo=UTC)  # now, to the next minute
    for item in campaign.dms:
        length = math.ceil(item.estimate.execution.high_minutes)
        assert item.window_end - item.window_start == timedelta(minutes=length)
    assert second.start == first.end + timedelta(hours=36)
    assert all(item.window_start == second.start for item in second.dms)  # a wave's DMSs side by side
    assert second.end == max(item.window_end for item in second.dms) == campaign.end
    assert campaign.soak_given and campaign.planned_at == NOW


async def test_a_wave_s_typed_window_is_kept_and_the_next_wave_follows_it(
    fleet: DmsAccess, settings: Settings
) -> None:
    text = "10.5 on staging at 2026-12-02 22:00 for 20h then prod-eu soak 24h"
    campaign = await plan(fleet, settings, text)
    staging, prod_eu = campaign.dms
    assert (staging.window_start, staging.window_end) == (datetime(2026, 12, 2, 22, 0, tzinfo=UTC),
                                                          datetime(2026, 12, 3, 18, 0, tzinfo=UTC))
    assert prod_eu.window_start == datetime(2026, 12, 4, 18, 0, tzinfo=UTC)  # its end plus the soak


@pytest.mark.parametrize(("text", "problem"), [
    ("10.5 on staging at 2026-11-30 22:00", "Wave 1's window at 2026-11-30 22:00 UTC starts before now"),
    ("10.5 on staging then prod-eu at 2026-12-01 12:00 soak 24h", "starts before wave 1 has soaked"),
    ("10.5 on staging at 2026-12-02 22:00 for 10m", "is shorter than staging's upgrade estimate"),
])
async def test_a_typed_window_too_early_or_too_short_is_refused(
    fleet: DmsAccess, settings: Settings, text: str, problem: str
) -> None:
    with pytest.raises(UserError) as caught:
        await plan(fleet, settings, text)
    assert problem in caught.value.message and "\n" not in caught.value.message


def words(text: str) -> list[str]:
    return text.split()


def with_calendar(access: DmsAccess, settings: Settings, name: str, *slots: str) -> DmsAccess:
    targets = access.targets
    targets[name] = targets[name].model_copy(update={"maintenance": slots})
    return DmsAccess(settings=settings, targets=targets)


async def test_windows_are_proposed_in_each_dms_s_maintenance_calendar(
    fleet: DmsAccess, settings: Settings
) -> None:
    access = with_calendar(fleet, settings, "prod-eu", "Thu 22:00-08:00", "Sat 01:00-01:30")
    campaign = await plan(access, settings, "10.5 on staging then prod-eu prod-us soak 24h")
    by_name = {item.name: item for item in campaign.dms}
    # Wave 1 ends on Tuesday, its soak on Wednesday: the first Thursday night after it.
    assert by_name["prod-eu"].window_start == datetime(2026, 12, 3, 22, 0, tzinfo=UTC)
    assert by_name["prod-us"].window_start == campaign.waves[0].end + timedelta(hours=24)  # no calendar


async def test_a_dms_whose_estimate_fits_no_maintenance_slot_is_refused(
    fleet: DmsAccess, settings: Settings
) -> None:
    access = with_calendar(fleet, settings, "prod-us", "Sat 01:00-01:30")
    with pytest.raises(UserError) as caught:
        await plan(access, settings, "10.5 on staging then prod-us")
    assert "fits none of its maintenance slots (Sat 01:00-01:30)" in caught.value.message
    assert "give wave 2 a window" in caught.value.message


async def test_a_window_overlapping_a_plan_under_way_on_its_dms_is_refused(
    fleet: DmsAccess, settings: Settings
) -> None:
    busy = campaigns.Busy(plan_id=7, state="scheduled", window_start=NOW, window_end=NOW + timedelta(hours=3))
    with pytest.raises(UserError) as caught:
        await campaigns.plan_campaign(parse_campaign(words("10.5 on staging then prod-eu")), access=fleet,
                                      catalog=load_catalog(), settings=settings, now=NOW,
                                      busy={"staging": busy})
    assert "DMS 'staging' has plan #7 under way (scheduled" in caught.value.message
    # A plan whose window ends before the campaign's starts is out of its way.
    later = parse_campaign(words("10.5 on staging at 2026-12-02 22:00 then prod-eu"))
    planned = await campaigns.plan_campaign(later, access=fleet, catalog=load_catalog(), settings=settings,
                                            now=NOW, busy={"staging": busy})
    assert planned.dms[0].window_start == datetime(2026, 12, 2, 22, 0, tzinfo=UTC)


async def test_known_issues_are_collected_once_with_where(fleet: DmsAccess, settings: Settings) -> None:
    campaign = await plan(fleet, settings, "10.5 on staging prod-eu prod-us")
    texts = [issue.text for issue in campaign.known_issues]
    assert texts and len(texts) == len(set(texts))
    assert all(not text.startswith(("Hop ", "Known issue:")) for text in texts)
    verify = next(issue for issue in campaign.known_issues if "VerifyClusterPort" in issue.text)
    assert verify.where == ("staging hop 1", "prod-eu hops 1, 2", "prod-us hops 1, 2, 3")
    assert [note.kind for note in campaign.notes] == [WarningKind.CATALOG]  # once, not per DMS
    assert {w.kind for item in campaign.dms for w in item.warnings} == {WarningKind.SUPPORT}


async def test_unknown_dms_names_are_all_named(fleet: DmsAccess, settings: Settings) -> None:
    with pytest.raises(NotFound) as caught:
        await plan(fleet, settings, "10.5 on staging then prod-asia prod-eu lab")
    message = caught.value.message
    assert "'prod-asia', 'lab'" in message and "known: prod-eu, prod-us, staging" in message
    assert "\n" not in message


async def test_a_dms_that_cannot_reach_the_target_refuses_the_campaign(
    fleet: DmsAccess, settings: Settings
) -> None:
    targets = {**fleet.targets, "gone": target("gone", settings, url="http://127.0.0.1:9")}
    access = DmsAccess(settings=settings, targets=targets)
    with pytest.raises(UserError) as caught:
        await plan(access, settings, "10.3 on prod-us then staging gone")
    message = caught.value.message
    assert message.startswith("Cannot plan the campaign: ") and "\n" not in message
    assert "DMS 'staging' (10.4.0 CU3)" in message  # a downgrade
    assert "Cannot read DMS 'gone'" in message
    assert "prod-us" not in message


async def test_the_engine_plans_dry_with_what_each_dms_taught(
    fleet: DmsAccess, settings: Settings, db: Engine
) -> None:
    clock = FakeClock(NOW)
    engine = UpgradeEngine(settings=settings, db=db, catalog=load_catalog(), notifier=RecordingNotifier(),
                           approvers=StaticApprovers([]), dms_access=fleet, clock=clock)
    try:
        with session(db) as s:
            plans.record_duration(s, dms_name="prod-us", kind=plan_requests.STARTUP_KIND, minutes=60.0)
        request = CampaignRequest(target="10.5", waves=(("staging",), ("prod-eu", "prod-us")))
        campaign = await engine.plan_campaign(request)
        dry = await plan(fleet, settings, "10.5 on staging then prod-eu prod-us")
        assert [item.name for item in campaign.dms] == [item.name for item in dry.dms]
        by_name = {item.name: item for item in campaign.dms}
        assert by_name["prod-eu"].estimate == {i.name: i for i in dry.dms}["prod-eu"].estimate
        assert by_name["prod-us"].estimate != {i.name: i for i in dry.dms}["prod-us"].estimate  # learned
        assert not await engine.read_history(limit=5)  # nothing stored
    finally:
        engine.scheduler.stop()
