"""The campaign card's buttons and modal (``handlers.listeners.campaign_actions``) against a real campaign
engine and three simulated DMSs: a click asks the roles table before a form opens, the modal's submission
is refused on its field (a missing reason, a lost campaign), and the clicker is told what was done by whom.
The listener functions are called as Bolt calls them; registering them is ``bot/app.py``'s."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from handlers.button_values import CampaignButton
from handlers.ids import ActionId, BlockId, CallbackId
from handlers.listeners import campaign_actions
from handlers.listeners.actions import Click
from handlers.listeners.middleware import ListenerWork
from tests.workflow import campaign_bench
from tests.workflow import conftest as workflow_fixtures
from tests.workflow.campaign_bench import STORY, Bench
from tests.workflow.conftest import APPROVER, REQUESTER
from workflow.model.campaign import parse_campaign
from workflow.model.campaign_states import CampaignState, CampaignStatus, MemberState

# The workflow tests' fixtures: a migrated database, a hand-moved clock, three simulated DMSs.
db_url, db, clock = workflow_fixtures.db_url, workflow_fixtures.db, workflow_fixtures.clock
fleet, make_bench = campaign_bench.fleet, campaign_bench.make_bench


class FakeClient:
    def __init__(self) -> None:
        self.views: list[dict[str, Any]] = []
        self.told: list[dict[str, Any]] = []

    async def views_open(self, *, trigger_id: str, view: dict[str, Any]) -> None:
        self.views.append(view)

    async def chat_postEphemeral(self, **kwargs: Any) -> None:  # Slack's method name
        self.told.append(kwargs)


class Acked:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def __call__(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)


def click(action: ActionId, campaign_id: int, *, user: str) -> Click:
    body = {"user": {"id": user}, "channel": {"id": "C01"}, "trigger_id": "T1",
            "container": {"channel_id": "C01", "message_ts": "1.2"},
            "actions": [{"action_id": action.value, "value": str(campaign_id)}]}
    return Click(body, button=CampaignButton(campaign_id=campaign_id))


def submission(campaign_id: int, action: ActionId, *, reason: str = "", dms: str = "") -> dict[str, Any]:
    values: dict[str, Any] = {BlockId.CAMPAIGN_REASON.value: {ActionId.CAMPAIGN_REASON.value: {
        "type": "plain_text_input", "value": reason or None}}}
    if dms:
        values[BlockId.CAMPAIGN_SKIP_DMS.value] = {ActionId.CAMPAIGN_SKIP_DMS.value: {
            "type": "static_select", "selected_option": {"value": dms}}}
    return {"state": {"values": values}, "callback_id": CallbackId.CAMPAIGN_MODAL.value,
            "private_metadata": json.dumps({"campaign_id": campaign_id, "action": action.value})}


async def submit(bench: Bench, view: dict[str, Any], *, user: str) -> list[dict[str, Any]]:
    ack = Acked()
    await campaign_actions.submit(ack, {"user": {"id": user}}, view, campaigns=bench.campaigns)
    return ack.calls


async def test_buttons_and_modal_drive_the_campaign(make_bench: Callable[..., Bench]) -> None:
    bench = make_bench()
    created = await bench.campaigns.create(parse_campaign(STORY.split()), requester=REQUESTER, channel="C1")
    client = FakeClient()
    await campaign_actions._on_click(bench.campaigns, client,  # type: ignore[arg-type]
                                     click(ActionId.CAMPAIGN_APPROVE, created.id, user=APPROVER))
    assert (await bench.view(created.id)).state is CampaignState.APPROVED
    assert not client.told  # the card and its thread in the channel tell who approved it
    await bench.campaigns.tick()

    await campaign_actions._on_click(bench.campaigns, client,  # type: ignore[arg-type]
                                     click(ActionId.CAMPAIGN_HALT, created.id, user=REQUESTER))
    assert client.views[-1]["callback_id"] == CallbackId.CAMPAIGN_MODAL.value
    assert await submit(bench, submission(created.id, ActionId.CAMPAIGN_HALT), user=REQUESTER) == [{}]
    assert (await bench.view(created.id)).status == CampaignStatus(CampaignState.HALTED, 1)

    refused = await submit(bench, submission(created.id, ActionId.CAMPAIGN_RESUME), user=APPROVER)
    assert "A reason is required to resume" in refused[0]["errors"][BlockId.CAMPAIGN_REASON.value]
    skipped = submission(created.id, ActionId.CAMPAIGN_SKIP, reason="lab rebuild", dms="prod-us")
    assert await submit(bench, skipped, user=APPROVER) == [{}]
    assert await submit(bench, submission(created.id, ActionId.CAMPAIGN_RESUME, reason="freeze over"),
                        user=APPROVER) == [{}]
    view = await bench.view(created.id)
    assert view.status == CampaignStatus(CampaignState.WAVE_RUNNING, 1)
    assert view.member("prod-us").state is MemberState.SKIPPED
    await bench.campaigns.stop()
    await bench.engine.stop()


class FakeApp:
    """What ``register`` asks of Bolt's app: the listeners, by action id and callback id."""

    def __init__(self) -> None:
        self.actions: dict[str, Any] = {}
        self.views: dict[str, Any] = {}

    def action(self, action_id: str) -> Callable[[Any], Any]:
        return lambda listener: self.actions.setdefault(action_id, listener)

    def view(self, callback_id: str) -> Callable[[Any], Any]:
        return lambda listener: self.views.setdefault(callback_id, listener)


async def test_a_refused_click_opens_no_form_and_is_told(make_bench: Callable[..., Bench]) -> None:
    bench = make_bench()
    created = await bench.campaigns.create(parse_campaign(STORY.split()), requester=REQUESTER, channel="C1")
    app, client = FakeApp(), FakeClient()
    campaign_actions.register(app, campaigns=bench.campaigns, work=ListenerWork())  # type: ignore[arg-type]
    assert set(app.actions) == {a.value for a in (ActionId.CAMPAIGN_APPROVE, *campaign_actions.FORMS)}
    assert set(app.views) == {CallbackId.CAMPAIGN_MODAL.value}
    resume = click(ActionId.CAMPAIGN_RESUME, created.id, user=REQUESTER)
    await app.actions[ActionId.CAMPAIGN_RESUME.value](Acked(), resume.body, client,
                                                      {"button": resume.button})
    assert client.views == []
    assert client.told[-1]["text"] == (f"Not done: Only an upgrade approver may resume campaign "
                                       f"#{created.id}")
    refusals = [action for _, action, _ in await bench.campaigns.audit(created.id)]
    assert refusals[-1] == "campaign.resume.refused"
    ack = Acked()
    await app.views[CallbackId.CAMPAIGN_MODAL.value](ack, {"user": {"id": APPROVER}},
                                                     {"private_metadata": "{}", "state": {"values": {}}})
    assert "lost its campaign" in ack.calls[0]["errors"][BlockId.CAMPAIGN_REASON.value]
    await bench.engine.stop()


async def test_the_move_form_moves_a_window_and_an_unreadable_date_is_refused_on_its_field(
    make_bench: Callable[..., Bench]
) -> None:
    bench = make_bench()
    created = await bench.campaigns.create(parse_campaign(STORY.split()), requester=REQUESTER, channel="C1")
    form = submission(created.id, ActionId.CAMPAIGN_MOVE, dms="prod-eu")
    values = form["state"]["values"]
    values[BlockId.WINDOW_DATE.value] = {ActionId.WINDOW_DATE.value: {"selected_date": "2031-01-07"}}
    values[BlockId.WINDOW_TIME.value] = {ActionId.WINDOW_TIME.value: {"selected_time": "22:00"}}
    values[BlockId.WINDOW_DURATION.value] = {ActionId.WINDOW_DURATION.value: {"value": "5h"}}
    assert await submit(bench, form, user=REQUESTER) == [{}]
    moved = (await bench.view(created.id)).member("prod-eu")
    assert moved.window_start is not None and moved.window_end is not None
    assert moved.window_start.isoformat() == "2031-01-07T22:00:00+00:00"
    assert moved.window_end - moved.window_start == timedelta(hours=5)
    values[BlockId.WINDOW_DATE.value] = {ActionId.WINDOW_DATE.value: {"selected_date": "next week"}}
    refused = await submit(bench, form, user=REQUESTER)
    assert "is not a date and time" in refused[0]["errors"][BlockId.CAMPAIGN_REASON.value]
    await bench.engine.stop()
