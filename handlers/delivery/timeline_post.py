"""The timeline picture in the plan's thread: when the plan ends (done, failed, cancelled), as the last call
of its outcome in the outbox, and on ``/dm-upgrade timeline [id]`` at any time.

Files upload v2 (``files.getUploadURLExternal``, the upload, ``files.completeUploadExternal``: slack_sdk's
``files_upload_v2``; scope ``files:write``). The plan is read off the loop like every read, and the picture
is drawn in a worker thread, so neither holds the event loop. At a plan's end the outbox sender makes the
call (``upload``) in the channel's order, after the outcome it shows, and retries it like any other message;
on request, ``post`` paces it itself.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from slack_sdk.web.async_client import AsyncWebClient

from handlers.delivery.slack_web import ChannelPacer
from workflow.timeline import Timeline

log = logging.getLogger(__name__)

# (channel, ts) of the plan's message, whose thread gets the picture; None when it was never posted.
ThreadOf = Callable[[int], Awaitable[tuple[str, str] | None]]


def filename(plan_id: int) -> str:
    return f"plan-{plan_id}-timeline.png"


class TimelinePoster:
    """Draws a plan's timeline and uploads it: for the outbox sender at a plan's end, and on request."""

    def __init__(self, *, web_client: AsyncWebClient, pacer: ChannelPacer,
                 load: Callable[[int], Awaitable[Timeline]], thread_of: ThreadOf) -> None:
        self._client = web_client
        self._pacer = pacer
        self._load = load
        self._thread_of = thread_of

    async def post(self, plan_id: int, *, channel: str, comment: str | None = None) -> None:
        """Draw the plan's timeline now and upload it into the plan's thread (or ``channel``), paced."""
        parent = await self._thread_of(plan_id)
        where, thread_ts = (parent[0], parent[1]) if parent else (channel, None)
        await self._pacer.post(where, lambda: self.upload(plan_id, where, thread_ts, comment=comment))

    async def upload(self, plan_id: int, channel: str, thread_ts: str | None, *,
                     comment: str | None = None) -> None:
        """Draw the timeline and upload it into ``channel`` (the thread ``thread_ts``), unpaced."""
        from handlers.blocks.timeline_chart import render_png_async  # matplotlib: only where it is drawn

        timeline = await self._load(plan_id)
        picture = await render_png_async(timeline)
        text = comment or f"Timeline of plan #{plan_id} ({timeline.state.label}), times in UTC."
        await self._client.files_upload_v2(
            channel=channel, thread_ts=thread_ts, file=picture, filename=filename(plan_id),
            title=f"Plan #{plan_id} timeline", initial_comment=text,
            alt_txt=f"Timeline of upgrade plan #{plan_id}: phases, hops, verification and agents",
        )
