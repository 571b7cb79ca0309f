"""A stored campaign's card and modal (``handlers.blocks.campaign.stored_card``, ``campaign_modal``): the
buttons each state offers, what the soak found with how it was established, and every text a person or a
DMS wrote escaped."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dms.models import CheckResult, CheckStatus
from handlers.blocks.campaign import campaign_modal, skippable, stored_card
from handlers.button_values import CampaignButton, parse
from handlers.ids import ActionId, BlockId, CallbackId
from workflow.model.campaign_states import CampaignState, CampaignStatus, MemberState
from workflow.model.campaign_view import CampaignView, MemberView

NOW = datetime(2030, 5, 4, 10, 0, tzinfo=UTC)
S = CampaignState


def member(name: str, wave: int, state: MemberState = MemberState.WAITING, **extra: Any) -> MemberView:
    return MemberView(name=name, wave=wave, state=state, plan_id=extra.pop("plan_id", None), attempt=1,
                      current_version="10.3.0 CU5", window_start=NOW, window_end=NOW + timedelta(hours=2),
                      **extra)


def campaign(status: CampaignStatus, *members: MemberView, **extra: Any) -> CampaignView:
    return CampaignView(id=4, status=status, waves=2, target="10.5.0 CU18", requester="UREQ", channel="C1",
                        soak_minutes=240, members=members or (member("staging", 1), member("prod-eu", 2)),
                        created_at=NOW, **extra)


def buttons(view: CampaignView) -> list[str]:
    blocks = stored_card(view).blocks
    actions = [b for b in blocks if b.get("block_id") == BlockId.CAMPAIGN_ACTIONS.value]
    return [element["action_id"] for block in actions for element in block["elements"]]


@pytest.mark.parametrize(("status", "expected"), [
    # Every DMS still waits for its wave here, so its window may move.
    (CampaignStatus(S.PROPOSED),
     [ActionId.CAMPAIGN_APPROVE, ActionId.CAMPAIGN_MOVE, ActionId.CAMPAIGN_ABORT]),
    (CampaignStatus(S.APPROVED), [ActionId.CAMPAIGN_HALT, ActionId.CAMPAIGN_SKIP, ActionId.CAMPAIGN_MOVE,
                                  ActionId.CAMPAIGN_ABORT]),
    (CampaignStatus(S.SOAKING, 1), [ActionId.CAMPAIGN_HALT, ActionId.CAMPAIGN_SKIP, ActionId.CAMPAIGN_MOVE,
                                    ActionId.CAMPAIGN_ABORT]),
    (CampaignStatus(S.HALTED, 1),
     [ActionId.CAMPAIGN_RESUME, ActionId.CAMPAIGN_SKIP, ActionId.CAMPAIGN_MOVE, ActionId.CAMPAIGN_ABORT]),
    (CampaignStatus(S.DONE), []),
    (CampaignStatus(S.ABORTED), []),
])
def test_each_state_offers_its_buttons(status: CampaignStatus, expected: list[ActionId]) -> None:
    extra = {"soak_until": NOW, "next_check_at": NOW} if status.state is S.SOAKING else {}
    assert buttons(campaign(status, **extra)) == [action.value for action in expected]


def test_the_buttons_carry_the_campaign_and_approving_is_confirmed() -> None:
    blocks = stored_card(campaign(CampaignStatus(S.PROPOSED))).blocks
    approve = next(b for b in blocks if b.get("block_id") == BlockId.CAMPAIGN_ACTIONS.value)["elements"][0]
    assert parse(approve["action_id"], approve["value"]) == CampaignButton(campaign_id=4)
    assert "approved in your name" in approve["confirm"]["text"]["text"]
    with pytest.raises(ValueError, match="campaign"):
        parse(ActionId.CAMPAIGN_HALT.value, "4; drop")


def test_what_the_soak_found_says_how_it_was_established_and_is_escaped() -> None:
    alarm = CheckResult(name="new_critical", title="No new Critical alarms", status=CheckStatus.FAIL,
                        detail="new Critical alarm on <!channel> *bold*: CPU")
    halted = campaign(
        CampaignStatus(S.HALTED, 2),
        member("staging", 1, MemberState.UPGRADED, plan_id=7, note="plan #7 done"),
        member("prod-eu", 2, MemberState.UPGRADED, plan_id=8, findings=(alarm,)),
        member("prod-us", 2, MemberState.SKIPPED, skip_reason="<@U123> said so"),
        halted_from=S.SOAKING, approved_by="UAPP1", approved_at=NOW,
        halt_reason="the soak of wave 2 found a regression: prod-eu: <!here>")
    text = json.dumps(stored_card(halted).blocks)
    assert "<!channel>" not in text and "<!here>" not in text and "<@U123>" not in text
    assert "checked by the bot" in text and "skipped (a person confirmed)" in text
    assert "approved by <@UAPP1>" in text and "plan #7" in text
    assert skippable(halted) == ()  # upgraded and skipped DMSs cannot be skipped


def test_the_modal_asks_for_a_reason_and_to_skip_which_dms() -> None:
    view = campaign(CampaignStatus(S.HALTED, 1), member("staging", 1, MemberState.STOPPED),
                    member("prod-eu", 2))
    skip = campaign_modal(view, action=ActionId.CAMPAIGN_SKIP, channel="C1")
    assert skip["callback_id"] == CallbackId.CAMPAIGN_MODAL.value
    metadata = json.loads(skip["private_metadata"])
    assert metadata == {"campaign_id": 4, "action": "campaign.skip", "channel": "C1"}
    picked, reason = skip["blocks"][1], skip["blocks"][2]
    assert [o["value"] for o in picked["element"]["options"]] == ["staging", "prod-eu"]
    assert not reason.get("optional") and reason["element"]["min_length"] == 3
    halt = campaign_modal(view, action=ActionId.CAMPAIGN_HALT, channel="C1")
    assert halt["blocks"][1]["optional"] is True and len(halt["blocks"]) == 2


def test_moving_a_window_asks_which_waiting_dms_when_and_for_how_long() -> None:
    view = campaign(CampaignStatus(S.WAVE_RUNNING, 1), member("staging", 1, MemberState.PLANNED, plan_id=3),
                    member("prod-eu", 2), member("prod-us", 2))
    assert ActionId.CAMPAIGN_MOVE.value in buttons(view)
    move = campaign_modal(view, action=ActionId.CAMPAIGN_MOVE, channel="C1")
    ids = [block["block_id"] for block in move["blocks"][1:]]
    assert ids == [BlockId.CAMPAIGN_SKIP_DMS.value, BlockId.WINDOW_DATE.value, BlockId.WINDOW_TIME.value,
                   BlockId.WINDOW_DURATION.value, BlockId.CAMPAIGN_REASON.value]
    assert [o["value"] for o in move["blocks"][1]["element"]["options"]] == ["prod-eu", "prod-us"]
    assert move["blocks"][4]["optional"] is True and move["blocks"][5]["optional"] is True
    planned = campaign(CampaignStatus(S.WAVE_RUNNING, 2), member("staging", 1, MemberState.UPGRADED),
                       member("prod-eu", 2, MemberState.PLANNED, plan_id=4))
    assert ActionId.CAMPAIGN_MOVE.value not in buttons(planned)  # every plan is made: moved on the plan
