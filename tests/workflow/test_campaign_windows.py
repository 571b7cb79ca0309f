"""Moving a campaign DMS's window before its wave starts (``workflow.campaign_windows``), against three
simulated DMSs: the move is audited (and told in the thread: tests/handlers), and a move
that is too early, too long, on a DMS whose plan is made, over a plan under way or by a bystander is
refused in one line and changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.workflow import campaign_bench
from tests.workflow.campaign_bench import Bench, approved
from tests.workflow.conftest import APPROVER, REQUESTER
from workflow.model.campaign import parse_campaign
from workflow.model.errors import NotAuthorized, RuleViolation, UserError

fleet, make_bench, bench = campaign_bench.fleet, campaign_bench.make_bench, campaign_bench.bench  # fixtures


async def created(bench: Bench) -> int:
    view = await bench.campaigns.create(parse_campaign(campaign_bench.STORY.split()), requester=REQUESTER,
                                        channel="C1")
    return view.id


async def test_a_waiting_dms_window_moves_and_the_move_is_audited(bench: Bench) -> None:
    campaign_id = await created(bench)
    view = await bench.view(campaign_id)
    old = view.member("prod-eu")
    assert old.window_start is not None and old.window_end is not None
    later = old.window_start + timedelta(days=2)
    why = "change freeze on Thursday"
    moved = await bench.campaigns.move_window(campaign_id=campaign_id, dms="prod-eu", start=later,
                                              length=None, actor=REQUESTER, reason=why)
    member = moved.member("prod-eu")
    assert (member.window_start, member.window_end) == (later, later + (old.window_end - old.window_start))
    assert member.note == f"window moved by {REQUESTER}"
    assert moved.member("prod-us").window_start == old.window_start  # only the one DMS moves
    audit = await bench.campaigns.audit(campaign_id)
    assert (REQUESTER, "campaign.window_moved", why) in audit
    longer = await bench.campaigns.move_window(campaign_id=campaign_id, dms="prod-eu", start=later,
                                               length=timedelta(hours=6), actor=APPROVER, reason="")
    assert longer.member("prod-eu").window_end == later + timedelta(hours=6)


@pytest.mark.parametrize(("where", "problem"), [
    ("before now", "before now"),
    ("before the soak", "before wave 1 can have soaked"),
    ("too long", "at most 2 days"),
    ("unknown", "has no DMS named 'prod-asia'"),
])
async def test_a_window_that_does_not_fit_is_refused_and_nothing_changes(
    bench: Bench, where: str, problem: str
) -> None:
    campaign_id = await created(bench)
    before = await bench.view(campaign_id)
    staging = before.member("staging")
    assert staging.window_start is not None
    dms, start, length = {
        "before now": ("staging", bench.clock.now - timedelta(hours=1), None),
        "before the soak": ("prod-eu", staging.window_start + timedelta(minutes=5), None),
        "too long": ("staging", bench.clock.now + timedelta(days=1), timedelta(days=3)),
        "unknown": ("prod-asia", bench.clock.now + timedelta(days=1), None),
    }[where]
    with pytest.raises(UserError) as caught:
        await bench.campaigns.move_window(campaign_id=campaign_id, dms=dms, start=start, length=length,
                                          actor=REQUESTER)
    assert problem in caught.value.message and "\n" not in caught.value.message
    assert await bench.view(campaign_id) == before


async def test_a_dms_whose_plan_is_made_moves_on_its_plan_and_a_bystander_moves_nothing(bench: Bench) -> None:
    campaign_id = await approved(bench)
    await bench.campaigns.tick()  # wave 1 starts: staging's plan is made
    staging = (await bench.view(campaign_id)).member("staging")
    with pytest.raises(RuleViolation, match=f"its plan #{staging.plan_id} is made: move it with that plan"):
        await bench.campaigns.move_window(campaign_id=campaign_id, dms="staging",
                                          start=bench.clock.now + timedelta(days=1), length=None,
                                          actor=REQUESTER)
    with pytest.raises(NotAuthorized, match="may move a window of campaign"):
        await bench.campaigns.move_window(campaign_id=campaign_id, dms="prod-eu",
                                          start=bench.clock.now + timedelta(days=3), length=None,
                                          actor="UBYSTANDER")
    refused = [action for _, action, _ in await bench.campaigns.audit(campaign_id)]
    assert refused[-1] == "campaign.move_window.refused"


async def test_a_window_over_a_plan_under_way_on_its_dms_is_refused(bench: Bench) -> None:
    campaign_id = await created(bench)
    start = bench.clock.now + timedelta(days=3)
    await bench.engine.create_plan(target="10.5", track=None, window_start=start, window_minutes=240,
                                   requester=REQUESTER, channel="C1", dms="prod-us")
    with pytest.raises(UserError, match="DMS 'prod-us' has plan #1 under way"):
        await bench.campaigns.move_window(campaign_id=campaign_id, dms="prod-us",
                                          start=start + timedelta(hours=1), length=None, actor=REQUESTER)
