"""No synchronous database call on the event loop: a lock held by another process would freeze every
listener (acks included) for as long as it waits. A whole upgrade over signed HTTP, from the plan to done,
with every SQL statement the bot runs on the loop's thread recorded; the test's own reads don't count."""

from __future__ import annotations

import pytest

from handlers.ids import ActionId
from tests.handlers.conftest import APPROVER, Stack, awaiting_approval, stack  # noqa: F401  (the fixture)
from tests.support.polling import wait_until
from workflow.store.database import watch_loop
from workflow.store.states import PlanState

OURS = ("/bot/", "/handlers/", "/workflow/", "/dms/")


def bot_frames(stack_frames: list[str]) -> list[str]:
    return [frame for frame in stack_frames if any(part in frame for part in OURS) and "/.venv/" not in frame]


@pytest.mark.timeout(120)
async def test_a_whole_upgrade_runs_no_sql_on_the_loop(stack: Stack) -> None:  # noqa: F811
    seen = watch_loop(stack.runtime.db)
    plan_id, approval = await awaiting_approval(stack)
    await stack.click(ActionId.APPROVE.value, value=str(plan_id), message=approval, user=APPROVER)
    await wait_until(lambda: stack.runtime.engine.status(plan_id=plan_id).state is PlanState.DONE,
                     timeout_s=60, what="the upgrade to finish")
    await stack.settle()
    await stack.slash(f"status {plan_id}")
    await stack.settle()
    by_bot = [entry for entry in seen if not any("/tests/" in frame for frame in entry)]
    where = sorted({" <- ".join(reversed(bot_frames(entry)[-3:])) + f"  [{entry[-1]}]" for entry in by_bot})
    assert not by_bot, "SQL on the event loop:\n" + "\n".join(where)
