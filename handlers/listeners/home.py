"""The App Home tab: published on ``app_home_opened`` and refreshed when a plan or a campaign changes, for
every person who opened it; its buttons open a plan's thread (a link) or run the pre-check (who clicks is
checked). Campaigns under way are listed with what each waits on (``campaigns``: the campaign engine's).

``views.publish`` is rate limited (tier 4) and a publish replaces the whole tab, so ``HomePublisher``
keeps at most one publish per user at a time and coalesces a burst of changes into one publish after a
short debounce (the latest state is what matters, never each step).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from handlers.blocks.home import home_view
from handlers.button_values import PlanButton
from handlers.ids import ActionId
from handlers.listeners.middleware import ListenerWork
from workflow.engine import UpgradeEngine
from workflow.events import (
    ApprovalRequested,
    Event,
    HopFinished,
    ItemTicked,
    PlanCreated,
    StateChanged,
    WindowScheduled,
)
from workflow.home import HomeCampaign, HomeView
from workflow.model.errors import UserError

log = logging.getLogger(__name__)

ThreadOf = Callable[[int], Awaitable[tuple[str, str] | None]]
CampaignsOf = Callable[[str], Awaitable[tuple[HomeCampaign, ...]]]  # a person's campaigns, by user id
REFRESH_ON = (PlanCreated, WindowScheduled, StateChanged, ItemTicked, ApprovalRequested, HopFinished)
DEBOUNCE_S = 2.0


class HomePublisher:
    """Implements ``workflow.events.Notifier``: refreshes the Home tab of everyone who opened it."""

    def __init__(self, *, web_client: AsyncWebClient, engine: Callable[[], UpgradeEngine],
                 thread_of: ThreadOf, debounce_s: float = DEBOUNCE_S,
                 campaigns: CampaignsOf | None = None) -> None:
        self._client = web_client
        self._engine = engine
        self._campaigns = campaigns
        self._thread_of = thread_of
        self._debounce_s = debounce_s
        self._viewers: set[str] = set()  # who opened the tab since this process started
        self._dirty: set[str] = set()
        self._notices: dict[str, str] = {}
        self._running: dict[str, asyncio.Task[None]] = {}
        self._links: dict[int, str] = {}  # plan id -> permalink (they never change)
        self.publishes = 0

    async def notify(self, event: Event) -> None:
        if isinstance(event, REFRESH_ON):
            for user in list(self._viewers):
                self.request(user)

    def refresh_all(self) -> None:
        """Something every tab shows changed (a campaign): publish each again, debounced."""
        for user in list(self._viewers):
            self.request(user)

    def request(self, user: str, *, notice: str | None = None, now: bool = False) -> None:
        """Publish ``user``'s tab soon (``now``: without the debounce); never two publishes at once."""
        self._viewers.add(user)
        self._dirty.add(user)
        if notice:
            self._notices[user] = notice
        running = self._running.get(user)
        if running is None or running.done():
            delay = 0.0 if now else self._debounce_s
            task = asyncio.get_running_loop().create_task(self._run(user, delay), name=f"home:{user}")
            self._running[user] = task

    async def drain(self) -> None:
        while any(not task.done() for task in self._running.values()):
            await asyncio.gather(*self._running.values(), return_exceptions=True)

    async def _run(self, user: str, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        while user in self._dirty:
            self._dirty.discard(user)
            try:
                await self._publish(user, notice=self._notices.pop(user, None))
            except Exception:
                log.exception("publishing the Home tab of %s failed", user)
            if user in self._dirty:  # changed while publishing: wait for the burst to end
                await asyncio.sleep(self._debounce_s)

    async def _publish(self, user: str, *, notice: str | None) -> None:
        home = await self._engine().home(user=user)
        if self._campaigns is not None:
            home = dataclasses.replace(home, campaigns=await self._campaigns(user))
        links = await self._permalinks(home)
        await self._client.views_publish(user_id=user, view=home_view(home, links=links, notice=notice))
        self.publishes += 1

    async def _permalinks(self, home: HomeView) -> dict[int, str]:
        groups = (home.approvals, home.executing, home.upcoming, home.last_results)
        plans = {item.snapshot.id for group in groups for item in group}
        for plan_id in plans - set(self._links):
            ref = await self._thread_of(plan_id)
            if ref is None:
                continue
            try:
                answer = await self._client.chat_getPermalink(channel=ref[0], message_ts=ref[1])
            except SlackApiError as exc:
                log.warning("no permalink for plan #%s: %s", plan_id, exc.response.get("error"))
                continue
            self._links[plan_id] = str(answer["permalink"])
        return {plan_id: link for plan_id, link in self._links.items() if plan_id in plans}


def register(app: AsyncApp, *, engine: UpgradeEngine, work: ListenerWork, publisher: HomePublisher) -> None:
    @app.event("app_home_opened")
    async def on_home_opened(event: dict[str, Any]) -> None:
        if event.get("tab", "home") == "home":
            publisher.request(str(event["user"]), now=True)

    @app.action(ActionId.HOME_THREAD.value)
    async def on_open_thread(ack: AsyncAck) -> None:
        await ack()  # a link button: Slack opens the URL; the app only acknowledges the click

    @app.action(ActionId.HOME_CHECK.value)
    async def on_run_check(ack: AsyncAck, body: dict[str, Any], context: dict[str, Any]) -> None:
        await ack()
        async with work.track():
            user = str(body["user"]["id"])
            button = context.get("button")
            try:
                if not isinstance(button, PlanButton):
                    raise UserError("This button does not name a plan")
                await engine.run_check_from_home(plan_id=button.plan_id, actor=user)
                notice = f"Pre-upgrade check of plan #{button.plan_id} started; see the plan's thread."
            except UserError as exc:
                notice = f"Not started: {exc.message}"
            publisher.request(user, notice=notice, now=True)
