"""``HomePublisher``: a burst of plan changes becomes few publishes, never two at once for one person."""

from __future__ import annotations

import asyncio
from typing import Any

from handlers.listeners.home import HomePublisher
from tests.handlers.conftest import START, make_snapshot
from workflow.events import StateChanged
from workflow.home import HomeView


class SlowSlack:
    """Records ``views.publish`` calls and how many ran at once for one user."""

    def __init__(self) -> None:
        self.published: list[str] = []
        self.running: dict[str, int] = {}
        self.most_at_once = 0

    async def views_publish(self, *, user_id: str, view: dict[str, Any]) -> dict[str, Any]:
        self.running[user_id] = self.running.get(user_id, 0) + 1
        self.most_at_once = max(self.most_at_once, self.running[user_id])
        await asyncio.sleep(0.02)  # a slow Web API call, while more changes arrive
        self.running[user_id] -= 1
        self.published.append(user_id)
        return {"ok": True}

    async def chat_getPermalink(self, **kwargs: Any) -> dict[str, Any]:  # slack_sdk spells it so
        return {"ok": True, "permalink": "https://fake.slack.com/archives/C/p1"}


class Engine:
    async def home(self, *, user: str) -> HomeView:
        return HomeView(user=user, now=START, upcoming=(), executing=(), last_results=(), approvals=(),
                        manual_items=())


async def test_a_burst_of_changes_is_coalesced_per_user() -> None:
    slack = SlowSlack()
    engine = Engine()
    publisher = HomePublisher(web_client=slack, engine=lambda: engine,  # type: ignore[arg-type]
                              thread_of=lambda _: None, debounce_s=0.01)
    publisher.request("U0ALICE", now=True)
    publisher.request("U0BOB", now=True)
    await publisher.drain()
    assert sorted(slack.published) == ["U0ALICE", "U0BOB"]
    event = StateChanged(plan_id=1, snapshot=make_snapshot(), from_state="scheduled", to_state="prechecked",
                         actor="bot")
    for _ in range(50):
        await publisher.notify(event)
        await asyncio.sleep(0.001)
    await publisher.drain()
    assert slack.most_at_once == 1
    per_user = {user: slack.published.count(user) for user in ("U0ALICE", "U0BOB")}
    assert all(2 <= count <= 6 for count in per_user.values()), per_user  # not 51
    assert publisher.publishes == len(slack.published)
