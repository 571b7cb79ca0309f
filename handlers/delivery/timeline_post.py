"""The timeline picture in the plan's thread: when the plan ends (done, failed, cancelled), as the last call
of its outcome in the outbox, and on ``/dm-upgrade timeline [id]`` at any time. A campaign's picture goes
into its card's thread when it ends (done or aborted), the same way.

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
from workflow.campaign_timeline import CampaignTimeline
from workflow.timeline import Timeline

log = logging.getLogger(__name__)

# (channel, ts) of the plan's message, whose thread gets the picture; None when it was never posted.
ThreadOf = Callable[[int], Awaitable[tuple[str, str] | None]]


def filename(plan_id: int) -> str:
    return f"plan-{plan_id}-timeline.png"


class TimelinePoster:
    """Draws a plan's timeline and uploads it: for the outbox sender at a plan's end, and on request."""

    def __init__(self, *, web_client: AsyncWebClient, pacer: ChannelPacer,
                 load: Callable[[int], Awaitable[Timeline]], thread_of: ThreadOf,
                 load_campaign: Callable[[int], Awaitable[CampaignTimeline]] | None = None) -> None:
        self._client = web_client
        self._pacer = pacer
        self._load = load
        self._thread_of = thread_of
        self._load_campaign = load_campaign

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

    async def upload_campaign(self, campaign_id: int, channel: str, thread_ts: str | None) -> None:
        """Draw a campaign's timeline and upload it into ``channel`` (its card's thread), unpaced."""
        from handlers.blocks.campaign_chart import render_campaign_png_async  # matplotlib, as above

        if self._load_campaign is None:
            return
        timeline = await self._load_campaign(campaign_id)
        picture = await render_campaign_png_async(timeline)
        await self._client.files_upload_v2(
            channel=channel, thread_ts=thread_ts, file=picture,
            filename=f"campaign-{campaign_id}-timeline.png",
            title=f"Campaign #{campaign_id} timeline",
            initial_comment=f"Timeline of campaign #{campaign_id} ({timeline.state}), times in UTC.",
            alt_txt=f"Timeline of campaign #{campaign_id}: each DMS's window and upgrade, soaks and halts",
        )
