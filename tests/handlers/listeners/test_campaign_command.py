"""``/dm-upgrade campaign``: parsed by the slash grammar (bad input answered in the ack with the usage),
then the campaign stored and its card, with its buttons, posted in the channel; a refusal only the
requester sees."""

from __future__ import annotations

import pytest

from handlers.blocks.render import render_message
from handlers.ids import ActionId
from handlers.listeners.command_parser import CampaignCommand, ParseError, parse_command
from tests.handlers.conftest import CHANNEL, REQUESTER, Stack
from workflow.model.campaign import CampaignRequest
from workflow.model.campaign_states import CampaignState


def test_the_slash_grammar_reads_a_campaign() -> None:
    parsed = parse_command("campaign 10.5 on staging then prod-eu prod-us soak 24h")
    assert parsed == CampaignCommand(request=CampaignRequest(
        target="10.5", waves=(("staging",), ("prod-eu", "prod-us")), soak_minutes=1440, soak_given=True))


@pytest.mark.parametrize(("text", "problem"), [
    ("campaign", "`campaign` needs a target and `on &lt;dms&gt;`"),
    ("campaign 10.5 on a then a", "DMS `a` is named twice (waves 1 and 2)"),
    ("campaign 10.5 on a soak <!channel>", "`&lt;!channel&gt;` is not a soak duration"),
])
def test_bad_campaigns_answer_with_the_usage(text: str, problem: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_command(text)
    reply = str(caught.value)
    assert problem in reply and "<!channel>" not in reply
    assert "Usage:" in reply and "campaign &lt;version&gt; on &lt;dms&gt;" in reply


async def test_the_campaign_is_stored_and_its_card_posted_with_its_buttons(stack: Stack) -> None:
    response = await stack.slash("campaign 10.4 on default soak 12h")
    assert response.status_code == 200 and "Working on it" in response.text
    await stack.settle()
    card = next(m for m in stack.top_messages() if m.text.startswith("Campaign #"))
    text = render_message(card.blocks, card.text).text
    assert text.startswith("== Campaign #1 to 10.4.0 CU21: proposed ==")
    assert "default 10.2.0 CU5 → 10.4.0 CU21: waiting" in text and "not approved yet" in text
    buttons = [e["action_id"] for b in card.blocks if b["type"] == "actions" for e in b["elements"]]
    assert buttons == [ActionId.CAMPAIGN_APPROVE.value, ActionId.CAMPAIGN_MOVE.value,
                       ActionId.CAMPAIGN_ABORT.value]
    proposed = [m.text for m in stack.slack.thread(CHANNEL, card.ts)]
    assert len(proposed) == 1 and "proposed by <@UREQ> (a person, in Slack)" in proposed[0]
    assert (await stack.runtime.campaigns.view(1)).state is CampaignState.PROPOSED
    assert not stack.ephemerals_for(REQUESTER)  # the card in the channel is the answer


async def test_an_unknown_dms_is_one_line(stack: Stack) -> None:
    await stack.slash("campaign 10.4 on default then <!channel>")
    await stack.settle()
    answer = stack.ephemerals_for(REQUESTER)[-1].text
    assert "There is no DMS target named '&lt;!channel&gt;' (known: default)" in answer
    assert "<!channel>" not in answer and "\n" not in answer
