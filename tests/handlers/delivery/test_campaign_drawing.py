"""A campaign's events drawn into Slack calls (``handlers.delivery.campaign_drawing``): the card upserted on
every event, one reply per piece of news in the card's thread, every text from a person or a DMS escaped,
and each reply saying how its facts were established. Each event survives the outbox's JSON first."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from dms.models import CheckStatus
from dms.prechecks import result
from handlers.delivery.drawing import draw
from tests.support.clock import START
from workflow.event_codec import decode, encode
from workflow.model.campaign_events import (
    CampaignAborted,
    CampaignApproved,
    CampaignChanged,
    CampaignCreated,
    CampaignDone,
    CampaignEvent,
    CampaignHalted,
    CampaignResumed,
    DmsSkipped,
    SoakChecked,
    WaveDone,
    WaveStarted,
    WindowMoved,
    campaign_of,
    campaign_role,
)
from workflow.model.campaign_states import CampaignState, CampaignStatus, MemberState
from workflow.model.campaign_view import CampaignView, MemberView
from workflow.model.outbox import PICTURE, REPLY, UPSERT

HOSTILE = "<!channel> *bold* <https://evil.example|click>"


def view(state: CampaignState = CampaignState.HALTED, wave: int = 2) -> CampaignView:
    alarm = result("alarms", "No new Critical alarms", CheckStatus.FAIL, f"new Critical alarm on {HOSTILE}")
    members = (
        MemberView(name="staging", wave=1, state=MemberState.UPGRADED, plan_id=1, attempt=1,
                   current_version="10.4.0 CU3", window_start=START, window_end=START + timedelta(hours=1)),
        MemberView(name="prod <!here>", wave=2, state=MemberState.UPGRADED, plan_id=2, attempt=1,
                   current_version="10.3.0 CU5", window_start=START, window_end=START + timedelta(hours=1),
                   findings=(alarm,)),
        MemberView(name="prod-us", wave=2, state=MemberState.SKIPPED, plan_id=None, attempt=1,
                   current_version="10.3.0 CU5", window_start=None, window_end=None, skip_reason=HOSTILE),
    )
    return CampaignView(id=7, status=CampaignStatus(state, wave), waves=2, target="10.5.0 CU18",
                        requester="UREQ", channel="C0UPGRADES", soak_minutes=60, members=members,
                        created_at=START, approved_by="UAPP1", approved_at=START, soak_until=START,
                        next_check_at=START, halt_reason=f"halted by UREQ: {HOSTILE}")


EVENTS: list[CampaignEvent] = [
    CampaignCreated(campaign_id=7, view=view(CampaignState.PROPOSED, 0), actor="UREQ"),
    CampaignApproved(campaign_id=7, view=view(CampaignState.APPROVED, 0), actor="UAPP1"),
    WaveStarted(campaign_id=7, view=view(CampaignState.WAVE_RUNNING, 2), wave=2, reason=HOSTILE),
    WaveDone(campaign_id=7, view=view(CampaignState.SOAKING, 2), wave=2),
    SoakChecked(campaign_id=7, view=view(CampaignState.SOAKING, 2), wave=2, checked=("prod <!here>",)),
    CampaignHalted(campaign_id=7, view=view(), actor="bot", reason="the soak found a regression"),
    CampaignHalted(campaign_id=7, view=view(), actor="UREQ", reason=HOSTILE),
    CampaignResumed(campaign_id=7, view=view(CampaignState.SOAKING, 2), actor="UAPP2", reason=HOSTILE),
    DmsSkipped(campaign_id=7, view=view(CampaignState.SOAKING, 2), actor="UAPP2", dms="prod-us",
               reason=HOSTILE),
    WindowMoved(campaign_id=7, view=view(CampaignState.APPROVED, 0), actor="UREQ", dms="prod <!here>",
                start=datetime(2031, 1, 7, 22, 0, tzinfo=UTC), end=datetime(2031, 1, 8, 2, 0, tzinfo=UTC),
                reason=HOSTILE),
    CampaignAborted(campaign_id=7, view=view(CampaignState.ABORTED, 0), actor="UREQ", reason=HOSTILE,
                    still_upgrading=("prod <!here> (plan #2)",)),
    CampaignDone(campaign_id=7, view=view(CampaignState.DONE, 0)),
    CampaignChanged(campaign_id=7, view=view(CampaignState.WAVE_RUNNING, 2)),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda event: type(event).__name__)
def test_each_event_redraws_the_card_and_tells_its_news_in_the_thread(event: CampaignEvent) -> None:
    kind, body = encode(event)
    again = decode(kind, json.loads(json.dumps(body)))  # what the outbox of domain events keeps is JSON
    assert again == event
    calls = draw(again, settings=None)
    card = calls[0]
    assert card.kind == UPSERT and card.plan_id is None and campaign_of(card.role) == 7
    assert card.channel == "C0UPGRADES" and card.payload["text"].startswith("Campaign #7 to 10.5.0 CU18")
    assert "<!channel>" not in json.dumps(card.payload) and "<!here>" not in json.dumps(card.payload)
    ended = isinstance(event, CampaignDone | CampaignAborted)
    replies, pictures = calls[1:len(calls) - ended], calls[len(calls) - ended:]
    assert len(replies) == (0 if isinstance(event, CampaignChanged) else 1)
    # An ended campaign's timeline picture goes into the card's thread, after the reply it illustrates.
    assert [(p.kind, p.role, p.plan_id) for p in pictures] == [(PICTURE, campaign_role(7), None)] * ended
    for reply in replies:
        assert reply.kind == REPLY and reply.role == campaign_role(7) and reply.plan_id is None
        said = json.dumps(reply.payload)
        assert "<!channel>" not in said and "<!here>" not in said and "<https://evil" not in said
        assert reply.broadcast is isinstance(event, CampaignHalted | CampaignAborted | CampaignDone)


def test_each_reply_says_how_its_facts_were_established() -> None:
    told = {type(event).__name__ + (":" + getattr(event, "actor", "")): draw(event, settings=None)[1]
            for event in EVENTS if not isinstance(event, CampaignChanged)}
    text = {name: call.payload["text"] for name, call in told.items()}
    assert "<@UAPP1> (a person, in Slack)" in text["CampaignApproved:UAPP1"]
    assert "the bot checked through DataMiner's Web Services" in text["SoakChecked:"]
    bot_halt = text["CampaignHalted:bot"]
    assert "the bot halted it on what its soak check found" in bot_halt and "DataMiner reported" in bot_halt
    assert "new Critical alarm on &lt;!channel&gt;" in bot_halt
    assert "halted by <@UREQ> (a person, in Slack): &lt;!channel&gt;" in text["CampaignHalted:UREQ"]
    assert "resumed by <@UAPP2> (a person, in Slack): &lt;!channel&gt;" in text["CampaignResumed:UAPP2"]
    assert "skipped (a person confirmed): &lt;!channel&gt;" in text["WaveDone:"]
    assert "upgraded and verified (plan #2): the bot checked that DataMiner reports" in text["WaveDone:"]
    assert "(DataMiner reported it)" in text["CampaignCreated:UREQ"]


def test_the_role_names_the_campaign_and_no_plan_role_does() -> None:
    assert campaign_of(campaign_role(12)) == 12
    assert campaign_of("plan") is None and campaign_of(None) is None and campaign_of("campaign:x") is None
