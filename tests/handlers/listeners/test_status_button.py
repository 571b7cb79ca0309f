"""The short status carries a button that shows the whole plan: the full card is one click away (and one
word: ``status <id> full``)."""

from __future__ import annotations

from handlers.ids import ActionId
from tests.handlers.conftest import CHANNEL, REQUESTER, Stack
from tests.handlers.listeners.test_actions import planned
from tests.support.polling import wait_until


def _has_button(blocks: list[dict[str, object]], action_id: str) -> bool:
    return any(element.get("action_id") == action_id for block in blocks if block.get("type") == "actions"
               for element in block.get("elements", []))  # type: ignore[union-attr]


async def test_the_short_status_has_a_button_for_the_whole_plan(stack: Stack) -> None:
    await planned(stack)
    plan_id = stack.runtime.engine.status(channel=CHANNEL).id
    response = await stack.slash(f"status {plan_id}")
    assert response.status_code == 200
    await stack.settle()
    told = stack.ephemerals_for(REQUESTER)
    short = next(m for m in told if f"Plan #{plan_id}" in m.text)
    assert _has_button(short.blocks, ActionId.STATUS_FULL.value)
    assert "Backup taken" not in str(short.blocks)  # the checklist is not in the short answer

    before = len(told)
    await stack.click(ActionId.STATUS_FULL.value, value=str(plan_id), message=stack.top_messages()[0],
                      user=REQUESTER)
    await wait_until(lambda: len(stack.ephemerals_for(REQUESTER)) > before, what="the whole plan")
    assert "Backup taken" in str(stack.ephemerals_for(REQUESTER)[-1].blocks)
