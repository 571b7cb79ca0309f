"""The timeline picture in the plan's thread: posted when the plan ends (done, failed, cancelled) and on
``/dm-upgrade timeline [id]`` at any time.

Files upload v2 (``files.getUploadURLExternal``, the upload, ``files.completeUploadExternal``: slack_sdk's
``files_upload_v2``; scope ``files:write``). The picture is drawn in a worker thread and only then queued
on the channel's pacer, so the drawing never holds the event loop or the channel's other messages, and the
upload lands after the final result that was queued before it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from handlers.delivery.slack_web import ChannelPacer
from workflow.events import Event, UpgradeCancelled, UpgradeFailed, UpgradeFinished
from workflow.timeline import Timeline

log = logging.getLogger(__name__)

# (channel, ts) of the plan's message, whose thread gets the picture; None when it was never posted.
ThreadOf = Callable[[int], tuple[str, str] | None]
ENDINGS = (UpgradeFinished, UpgradeFailed, UpgradeCancelled)


def filename(plan_id: int) -> str:
    return f"plan-{plan_id}-timeline.png"


class TimelinePoster:
    """Implements ``workflow.events.Notifier``: the picture when a plan ends; ``post`` on request."""

    def __init__(self, *, web_client: AsyncWebClient, pacer: ChannelPacer, load: Callable[[int], Timeline],
                 thread_of: ThreadOf) -> None:
        self._client = web_client
        self._pacer = pacer
        self._load = load
        self._thread_of = thread_of
        self._tasks: set[asyncio.Task[Any]] = set()
        self.failures = 0

    async def notify(self, event: Event) -> None:
        if isinstance(event, ENDINGS):
            work = self._post_quietly(event.plan_id, event.snapshot.channel)
            task = asyncio.get_running_loop().create_task(work, name=f"timeline:{event.plan_id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _post_quietly(self, plan_id: int, channel: str) -> None:
        try:
            await self.post(plan_id, channel=channel)
        except Exception:
            # The picture is a convenience: the thread already says how the plan ended.
            self.failures += 1
            log.exception("posting the timeline of plan #%s failed", plan_id)

    async def post(self, plan_id: int, *, channel: str, comment: str | None = None) -> None:
        """Draw the plan's timeline now and upload it into the plan's thread (or ``channel``)."""
        from handlers.blocks.timeline_chart import render_png_async  # matplotlib: only where it is drawn

        timeline = await asyncio.to_thread(self._load, plan_id)
        picture = await render_png_async(timeline)
        parent = self._thread_of(plan_id)
        where, thread_ts = (parent[0], parent[1]) if parent else (channel, None)
        text = comment or f"Timeline of plan #{plan_id} ({timeline.state.label}), times in UTC."

        async def upload() -> None:
            await self._client.files_upload_v2(
                channel=where, thread_ts=thread_ts, file=picture, filename=filename(plan_id),
                title=f"Plan #{plan_id} timeline", initial_comment=text,
                alt_txt=f"Timeline of upgrade plan #{plan_id}: phases, hops, verification and agents",
            )

        await self._pacer.post(where, upload)
