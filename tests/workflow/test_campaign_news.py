"""A campaign's events are written to the outbox of domain events in the transaction of the move or action
they tell of (``workflow.campaign_outbox``): a refused move writes none, and each carries the campaign as
it was right after its change. The sender is woken once each is committed."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from tests.workflow import campaign_bench
from tests.workflow.campaign_bench import STORY, Bench
from tests.workflow.conftest import APPROVER, REQUESTER
from workflow.campaign_engine import CampaignEngine
from workflow.event_codec import decode
from workflow.model.campaign import parse_campaign
from workflow.model.campaign_events import CampaignEvent, CampaignHalted
from workflow.model.campaign_states import CampaignState, IllegalCampaignMove
from workflow.store.database import session
from workflow.store.tables import OutboxEvent

fleet, make_bench = campaign_bench.fleet, campaign_bench.make_bench  # fixtures


def told(db: Engine) -> list[CampaignEvent]:
    with session(db) as s:
        rows = s.exec(select(OutboxEvent).where(col(OutboxEvent.plan_id).is_(None))
                      .order_by(col(OutboxEvent.id)))
        events = [decode(row.kind, dict(row.body)) for row in rows]
    return [event for event in events if isinstance(event, CampaignEvent)]


async def test_each_move_is_told_with_it_and_a_refused_one_is_not(
    make_bench: Callable[..., Bench], db: Engine
) -> None:
    bench = make_bench()
    bench.engine.context.notifier.reads_outbox = True  # type: ignore[attr-defined]  # as Slack's does
    woken: list[int] = []
    campaigns = CampaignEngine(bench.engine, wake=lambda: woken.append(1))
    try:
        created = await campaigns.create(parse_campaign(STORY.split()), requester=REQUESTER, channel="C1")
        with pytest.raises(IllegalCampaignMove):
            await campaigns.halt(campaign_id=created.id, actor=REQUESTER, reason="too early")
        await campaigns.approve(campaign_id=created.id, actor=APPROVER)
        await campaigns.tick()  # wave 1 starts, staging's plan is made
        await campaigns.halt(campaign_id=created.id, actor=REQUESTER, reason="change freeze")
    finally:
        await campaigns.stop()
    events = told(db)
    kinds = [type(event).__name__ for event in events]
    assert kinds[:3] == ["CampaignCreated", "CampaignApproved", "WaveStarted"]
    assert "CampaignChanged" in kinds and kinds[-1] == "CampaignHalted" and kinds.count("CampaignHalted") == 1
    halted = events[-1]
    assert isinstance(halted, CampaignHalted) and halted.reason == "change freeze"
    assert halted.view.state is CampaignState.HALTED and halted.view.halt_reason.endswith("change freeze")
    assert events[1].view.approved_by == APPROVER  # drawn on the campaign after its change
    assert len(woken) >= len(events) - kinds.count("CampaignChanged")
