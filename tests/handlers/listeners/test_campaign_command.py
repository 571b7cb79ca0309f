"""``/dm-upgrade campaign``: parsed by the slash grammar (bad input answered in the ack with the usage), then
one engine call whose card is the answer only the requester sees; nothing is stored."""

from __future__ import annotations

import pytest

from handlers.blocks.render import render_message
from handlers.listeners.command_parser import CampaignCommand, ParseError, parse_command
from tests.handlers.conftest import REQUESTER, Stack
from workflow.model.campaign import CampaignRequest


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


async def test_the_card_answers_the_requester(stack: Stack) -> None:
    response = await stack.slash("campaign 10.4 on default soak 12h")
    assert response.status_code == 200 and "Working on it" in response.text
    await stack.settle()
    answer = stack.ephemerals_for(REQUESTER)[-1]
    text = render_message(answer.blocks, answer.text).text
    assert text.startswith("== Campaign to 10.4.0 CU21: 1 DMS in 1 wave ==")
    assert "default (4 agents) on 10.2.0 CU5: 2 hops: 10.3.0 CU22 (full), 10.4.0 CU21 (full)" in text
    assert "not booked" in text and "Earliest end:" in text
    assert not stack.slack.calls_for("chat.postMessage")  # nothing posted to the channel
    assert not await stack.runtime.engine.read_history(limit=5)  # nothing stored


async def test_an_unknown_dms_is_one_line(stack: Stack) -> None:
    await stack.slash("campaign 10.4 on default then <!channel>")
    await stack.settle()
    answer = stack.ephemerals_for(REQUESTER)[-1].text
    assert "There is no DMS target named '&lt;!channel&gt;' (known: default)" in answer
    assert "<!channel>" not in answer and "\n" not in answer
