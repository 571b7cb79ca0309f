"""Campaigns on the App Home tab, end to end: each campaign under way with what it waits on, in "Waiting on
you" only for whom may give it (an approver, not the requester), and every open tab published again when a
campaign changes."""

from __future__ import annotations

import json
from typing import Any

from handlers.ids import ActionId
from tests.handlers.conftest import APPROVER, CHANNEL, REQUESTER, Stack
from tests.handlers.listeners.test_home import open_home, part, text_of
from tests.support.polling import wait_until


async def test_campaigns_say_what_they_wait_on_and_whom(stack: Stack) -> None:
    await stack.slash("campaign 10.4 on default soak 12h")
    await wait_until(lambda: any(m.text.startswith("Campaign #1 ") for m in stack.top_messages()),
                     what="the campaign card")
    approver = await open_home(stack, APPROVER)
    waiting = part(approver, "Waiting on you", "Campaigns")
    assert "*Campaign #1* to 10.4.0 CU21 waits on your approval" in waiting and f"<#{CHANNEL}>" in waiting
    listed = part(approver, '"Campaigns"', "Executing now")
    assert "proposed" in listed and "Waits on an approver's approval" in listed
    requester = await open_home(stack, REQUESTER)
    assert "Campaign #1" not in part(requester, "Waiting on you", "Campaigns")  # not their own approval
    assert "Nothing waits on you." in part(requester, "Waiting on you", "Campaigns")

    card = next(m for m in stack.top_messages() if m.text.startswith("Campaign #1 "))
    before = len(stack.slack.calls_for("views.publish"))
    await stack.click(ActionId.CAMPAIGN_APPROVE.value, value="1", message=card, user=APPROVER)

    def wave_running() -> dict[str, Any] | None:
        """The approver's tab as published while wave 1 ran (the wave may be done by the time the test
        looks again: its one upgrade runs on a fast simulated DMS)."""
        for call in stack.slack.calls_for("views.publish")[before:]:
            view = call.params.get("view")
            view = json.loads(view) if isinstance(view, str) else view
            if call.params.get("user_id") == APPROVER and "wave 1 running" in json.dumps(view):
                return view
        return None

    await wait_until(lambda: wave_running() is not None, what="the approver's tab published again")
    published = wave_running()
    assert published is not None
    assert "Campaign #1" not in part(published, "Waiting on you", "Campaigns")
    assert "Waits on wave 1's DMSs: default:" in text_of(published)
    await stack.settle()
    assert "Campaign #1" not in part(stack.slack.extras.home_views[APPROVER], "Waiting on you", "Campaigns")
