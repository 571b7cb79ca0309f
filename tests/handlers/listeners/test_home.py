"""The App Home tab end to end: signed ``app_home_opened`` events and clicks over HTTP, the view checked
as the fake Slack received it from ``views.publish``."""

from __future__ import annotations

import json
from typing import Any

from handlers.ids import ActionId
from tests.handlers.conftest import APPROVER, REQUESTER, SECRET, Stack, awaiting_approval
from tests.support import slack_requests as sr
from tests.support.polling import wait_until
from workflow.store.states import PlanState

STRANGER = "UOTHER"


async def open_home(stack: Stack, user: str) -> dict[str, Any]:
    before = len(stack.slack.calls_for("views.publish"))
    response = await stack.post(sr.app_home_opened(signing_secret=SECRET, user_id=user))
    assert response.status_code == 200
    await wait_until(lambda: any(c.params.get("user_id") == user
                                 for c in stack.slack.calls_for("views.publish")[before:]),
                     what=f"the Home tab of {user}")
    return stack.slack.extras.home_views[user]


def text_of(view: dict[str, Any]) -> str:
    return json.dumps(view["blocks"])


def part(view: dict[str, Any], start: str, end: str) -> str:
    text = text_of(view)
    return text[text.index(start):text.index(end)]


def buttons(view: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for block in view["blocks"]:
        found += [e for e in block.get("elements", []) if e.get("type") == "button"]
        if (block.get("accessory") or {}).get("type") == "button":
            found.append(block["accessory"])
    return found


async def test_each_person_sees_what_they_may_act_on(stack: Stack) -> None:
    plan_id, _ = await awaiting_approval(stack)
    approver = await open_home(stack, APPROVER)
    assert approver["type"] == "home" and len(approver["blocks"]) <= 100
    waiting = part(approver, "Waiting on you", "Executing")
    assert f"Plan #{plan_id}" in waiting and "Your approval is requested" in waiting
    assert "approval: waiting" in text_of(approver) and f"requested by <@{REQUESTER}>" in text_of(approver)
    links = [b for b in buttons(approver) if b["action_id"] == ActionId.HOME_THREAD.value]
    assert links and links[0]["url"].startswith("https://fake.slack.com/archives/")

    requester = await open_home(stack, REQUESTER)
    waiting = part(requester, "Waiting on you", "Executing")
    assert "Your approval is requested" not in waiting  # no self-approval
    assert any(b["action_id"] == ActionId.HOME_CHECK.value for b in buttons(requester))

    stranger = await open_home(stack, STRANGER)
    assert "Nothing waits on you." in text_of(stranger)
    assert f"Plan #{plan_id}" in text_of(stranger)  # the upcoming window is visible to everyone
    assert not any(b["action_id"] == ActionId.HOME_CHECK.value for b in buttons(stranger))


async def test_the_pre_check_button_checks_who_clicks(stack: Stack) -> None:
    plan_id, _ = await awaiting_approval(stack)
    await open_home(stack, STRANGER)
    runs = len(stack.runtime.engine.status(plan_id=plan_id).checklist)
    checks_before = stack.runtime.engine.status(plan_id=plan_id).precheck
    publishes = len(stack.slack.calls_for("views.publish"))
    response = await stack.post(sr.home_button(signing_secret=SECRET, action_id=ActionId.HOME_CHECK.value,
                                               value=str(plan_id), user_id=STRANGER))
    assert response.status_code == 200
    await wait_until(lambda: len(stack.slack.calls_for("views.publish")) > publishes, what="the refusal")
    await stack.settle()
    assert "Not started: Only the requester or an upgrade approver" in text_of(
        stack.slack.extras.home_views[STRANGER])
    assert stack.runtime.engine.status(plan_id=plan_id).precheck == checks_before
    assert len(stack.runtime.engine.status(plan_id=plan_id).checklist) == runs

    response = await stack.post(sr.home_button(signing_secret=SECRET, action_id=ActionId.HOME_CHECK.value,
                                               value=str(plan_id), user_id=REQUESTER))
    assert response.status_code == 200
    await wait_until(lambda: "Pre-upgrade check of plan" in text_of(stack.slack.extras.home_views.get(
        REQUESTER, {"blocks": []})), what="the requester's check to start")
    await stack.settle()
    after = stack.runtime.engine.status(plan_id=plan_id).precheck
    assert after is not None and checks_before is not None and after.id != checks_before.id


async def test_the_tab_follows_the_plan_to_its_result_with_few_publishes(stack: Stack) -> None:
    plan_id, approval = await awaiting_approval(stack)
    await open_home(stack, APPROVER)
    publishes = len(stack.slack.calls_for("views.publish"))
    await stack.click(ActionId.APPROVE.value, value=str(plan_id), message=approval, user=APPROVER)
    await wait_until(lambda: stack.runtime.engine.status(plan_id=plan_id).state is PlanState.DONE,
                     timeout_s=30, what="the upgrade to finish")
    await stack.settle()
    view = stack.slack.extras.home_views[APPROVER]
    results = text_of(view)[text_of(view).index("Last result per DMS"):]
    assert f"Plan #{plan_id}" in results and "done" in results
    assert "No upgrade is running." in text_of(view)
    # Many state changes and hops, debounced into a few publishes, never two at once for one user.
    refreshes = len(stack.slack.calls_for("views.publish")) - publishes
    assert 1 <= refreshes <= 6, refreshes
