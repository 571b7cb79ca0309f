"""``OutboxSender``: delivers the Slack outbox (``workflow.store.outbox``) until Slack takes every message.

One delivery in flight per channel, in the order the messages were written, spaced by the ``ChannelPacer``
(about one call per second per channel, shared with the timeline pictures). What happens to a message:

- Slack took it: the row goes (a first post records where the message lives, for later edits and threads);
- Slack or the network failed for now (429 after the client's own retries, 5xx, connection errors, an
  invalid token an operator can fix): the row waits and is tried again, backing off up to five minutes;
  the channel's later messages wait behind it, the other channels go on;
- Slack refuses it for good (``channel_not_found``, ``not_in_channel``, ``invalid_blocks``, ...): the row is
  kept as refused, logged and audited, and the channel's next message goes out.

Rows left by a stopped or killed process are delivered by the next sender that runs (this one after a
restart, or another replica once the dead one's claim expires).

A campaign's rows (no plan; their role names the campaign, ``workflow.model.campaign_events.campaign_role``)
are its card, posted once and edited afterwards, and replies in the card's thread; where the card lives is
kept by ``campaign_messages`` (``workflow.campaign_outbox.CampaignMessages``, given by the composition root).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from handlers.delivery.ephemerals import expired, post_kept
from handlers.delivery.slack_web import NETWORK_ERRORS, ChannelPacer, classify
from workflow.campaign_outbox import CampaignMessages
from workflow.leases import replica_owner
from workflow.model.campaign_events import CARD, campaign_of
from workflow.model.clock import utc_now
from workflow.model.errors import DatabaseBusy
from workflow.model.outbox import CLAIM_TTL_S, EPHEMERAL, PICTURE, REPLY, Claimed, Draw
from workflow.outbox import TAKE_LIMIT, Outbox

log = logging.getLogger(__name__)

# Uploads a plan's (or a campaign's) timeline picture into ``channel`` (its thread when ``thread_ts``),
# unpaced: the sender paces it with the channel's other calls.
Picture = Callable[[int, str, str | None], Awaitable[None]]

# chat.update answers these when the message is gone: post it again rather than lose it.
_GONE = frozenset({"message_not_found", "cant_update_message"})


class AnswerExpired(Exception):
    """A kept ephemeral answer outlived a response URL's life before Slack took it."""


class OutboxSender:
    def __init__(
        self,
        *,
        web_client: AsyncWebClient,
        outbox: Outbox,
        pacer: ChannelPacer,
        draw: Draw,
        picture: Picture | None = None,
        campaign_picture: Picture | None = None,
        owner: str | None = None,
        poll_s: float = 2.0,
        retry_base_s: float = 2.0,
        claim_ttl_s: float = CLAIM_TTL_S,
    ) -> None:
        self._client = web_client
        self._outbox = outbox
        self._picture = picture
        self._campaign_picture = campaign_picture
        self._pacer = pacer
        self._draw = draw
        self.owner = owner or replica_owner()
        # Rows written by other replicas, and retries coming due, are found by polling this often.
        self._poll_s = poll_s
        self._retry_base_s = retry_base_s
        # A dead replica's claim blocks its channel until it expires, so claims are short (two lease lengths)
        # and a call that takes longer than most of one is given up (and retried) before the claim runs out.
        self._claim_ttl_s = claim_ttl_s
        self._cache: dict[tuple[int, str], tuple[str, str]] = {}  # (plan, role) -> (channel, ts)
        # Where campaign cards live; without it a campaign's card could only be posted, never edited.
        self.campaign_messages: CampaignMessages | None = None
        self._cards: dict[int, tuple[str, str]] = {}  # campaign -> (channel, ts) of its card
        self._in_flight: dict[str, asyncio.Task[None]] = {}
        self._claimed: dict[asyncio.Task[None], Claimed] = {}  # what each delivery in flight holds
        self._wakeup: asyncio.Event | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._claiming = asyncio.Lock()
        self.sent = self.retries = self.refusals = 0

    # ------------------------------------------------------------------ drawing

    async def _draw_events(self) -> None:
        """Draw the domain events the workflow wrote into Slack calls, oldest first, until none is left.
        A database that does not answer now leaves them where they are, for the next round."""
        try:
            while await self._outbox.draw_events(self._draw) >= TAKE_LIMIT:
                pass
        except DatabaseBusy:
            log.info("the outbox of events cannot be read now; the sender tries again")
        except Exception:
            log.exception("drawing the outbox of events failed")

    # ------------------------------------------------------------------ lifecycle

    def wake(self) -> None:
        """Something was written: look now (starts the sender on first use)."""
        if self._loop_task is None or self._loop_task.done():
            self._wakeup = asyncio.Event()
            self._loop_task = asyncio.get_running_loop().create_task(self._run(), name="slack-outbox")
        assert self._wakeup is not None
        self._wakeup.set()

    async def drain(self) -> None:
        """Until nothing is due and nothing is in flight (a row waiting for its retry is not due yet)."""
        while True:
            await self._draw_events()
            looked_at_every_channel = await self._dispatch()
            # Done only when a look that skipped no channel found nothing: a channel skipped because its
            # delivery was in flight may have its next message due once that delivery ended meanwhile.
            if looked_at_every_channel and not self._in_flight:
                log.debug("outbox: drained")
                return
            await asyncio.gather(*list(self._in_flight.values()), return_exceptions=True)

    async def aclose(self) -> int:
        """Stop sending; what is still pending stays in the database for the next sender. A row whose call
        was cut short is handed back (its claim cleared), so another sender need not wait for the claim to
        expire. How many were handed back."""
        cut = dict(self._claimed)
        tasks = [t for t in (self._loop_task, *self._in_flight.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._loop_task = None
        self._in_flight.clear()
        handed = 0
        for task, row in cut.items():
            if task.cancelled():
                try:
                    await self._outbox.hand_back(row_id=row.id)
                    handed += 1
                except Exception:  # it expires by itself: another sender takes it then
                    log.exception("handing back outbox message %s failed", row.id)
        self._claimed.clear()
        return handed

    def depth(self) -> int:
        """Messages still to send, and events not drawn yet (blocking: for callers off the loop)."""
        return self._outbox.depth()

    async def message_ref(self, plan_id: int, role: str) -> tuple[str, str] | None:
        """(channel, ts) of a plan's message in ``role``: cached once known, else read off the loop."""
        cached = self._cache.get((plan_id, role))
        if cached is not None:
            return cached
        found = await self._outbox.message_ref(plan_id=plan_id, role=role)
        if found is not None:
            self._cache[(plan_id, role)] = found
        return found

    # ------------------------------------------------------------------ the loop

    async def _run(self) -> None:
        assert self._wakeup is not None
        while True:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancel that arrives as the
            # event is set, and the stopped sender would then go on sending.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_s):
                    await self._wakeup.wait()
            self._wakeup.clear()
            await self._draw_events()
            await self._dispatch()

    async def _dispatch(self) -> bool:
        """Claim what is due and start delivering it; True when no channel was skipped (nothing in flight
        when it looked) and nothing was claimed."""
        async with self._claiming:  # the loop and a drain never claim at the same time
            return await self._claim_and_start()

    async def _claim_and_start(self) -> bool:
        try:
            busy = frozenset(self._in_flight)
            claimed = await self._outbox.claim_due(owner=self.owner, skip_channels=busy,
                                                   ttl_s=self._claim_ttl_s)
        except DatabaseBusy:
            return True  # the next wake or poll tries again; nothing was claimed
        except Exception:
            log.exception("reading the Slack outbox failed")
            return True
        log.debug("outbox: claimed %s, skipped %s", [(r.id, r.channel, r.kind, r.role) for r in claimed],
                  sorted(busy))
        loop = asyncio.get_running_loop()
        for row in claimed:
            task = loop.create_task(self._deliver(row), name=f"slack-outbox:{row.channel}")
            self._in_flight[row.channel] = task
            self._claimed[task] = row
            task.add_done_callback(functools.partial(self._finished, row.channel))
        return not claimed and not busy

    def _finished(self, channel: str, task: asyncio.Task[None]) -> None:
        # Only this task's entry: the callback runs a moment after the task ends, and a dispatch in between
        # may already have started the channel's next delivery (forgetting that one let ``drain`` return
        # while it was still on its way).
        if self._in_flight.get(channel) is task:
            del self._in_flight[channel]
        if not task.cancelled():  # a cancelled one is handed back by ``aclose``
            self._claimed.pop(task, None)
        if self._wakeup is not None:
            self._wakeup.set()  # the channel's next message may be waiting

    async def _deliver(self, row: Claimed) -> None:
        try:
            async with asyncio.timeout(self._claim_ttl_s * 0.7):  # not wait_for: see ``_run``
                posted = await self._pacer.post(row.channel, lambda: self._call(row))
        except AnswerExpired:
            await self._failed(row, "expired: not taken by Slack within a response URL's 30 minutes",
                               permanent=True)
        except SlackApiError as exc:
            code, transient = classify(exc)
            await self._failed(row, f"Slack answered {code}", permanent=not transient)
        except NETWORK_ERRORS as exc:
            await self._failed(row, f"Slack unreachable: {type(exc).__name__}", permanent=False)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug of ours: keep the message and try again later, loudly
            log.exception("sending outbox message %s failed", row.id)
            await self._failed(row, f"{type(exc).__name__}", permanent=False)
        else:
            self.sent += 1
            await self._record(self._outbox.delivered(row_id=row.id, posted=posted))

    async def _failed(self, row: Claimed, error: str, *, permanent: bool) -> None:
        if permanent:
            self.refusals += 1
            log.error("%s: Slack refused a message for channel %s for good (%s); it was audited and "
                      "the channel's next messages go on", _whose(row), row.channel, error)
            await self._record(self._outbox.refused(row_id=row.id, error=error))
            return
        self.retries += 1
        log.warning("%s: Slack did not take a message for channel %s (%s, attempt %d); it waits and is "
                    "sent again", _whose(row), row.channel, error, row.attempts + 1)
        await self._record(self._outbox.retry(row_id=row.id, error=error, base_s=self._retry_base_s))

    async def _record(self, write: Awaitable[object]) -> None:
        try:
            await write
        except Exception:
            # The claim expires and the row is tried again: at worst a message is sent twice, never lost.
            log.exception("recording an outbox delivery failed")

    # ------------------------------------------------------------------ the Slack calls

    async def _call(self, row: Claimed) -> tuple[str, str, str | None] | None:
        """Make the row's call; for an upsert that posted, where the message now lives."""
        if row.kind == EPHEMERAL:
            if expired(row.payload, now=utc_now()):
                raise AnswerExpired
            await post_kept(self._client, channel=row.channel, payload=row.payload)
            return None
        if row.kind == PICTURE:
            campaign = campaign_of(row.role) if row.plan_id is None else None
            if campaign is not None and self._campaign_picture is not None:
                card = await self._card(campaign)
                await self._campaign_picture(campaign, card[0] if card else row.channel,
                                             card[1] if card else None)
                return None
            parent = await self.message_ref(row.plan_id, "plan") if row.plan_id is not None else None
            if self._picture is not None and row.plan_id is not None:
                await self._picture(row.plan_id, parent[0] if parent else row.channel,
                                    parent[1] if parent else None)
            return None
        if row.kind == REPLY:
            extra: dict[str, Any] = {}
            parent = await self._thread_of(row)
            if parent is not None:
                extra["thread_ts"] = parent[1]
                if row.broadcast:
                    extra["reply_broadcast"] = True
            await self._client.chat_postMessage(channel=row.channel, **extra, **row.payload)
            return None
        campaign = campaign_of(row.role) if row.plan_id is None else None
        if campaign is not None:
            await self._upsert_card(row, campaign)
            return None
        assert row.plan_id is not None and row.role is not None
        ref = await self.message_ref(row.plan_id, row.role)
        if ref is not None:
            try:
                await self._client.chat_update(channel=ref[0], ts=ref[1], **row.payload)
                return None
            except SlackApiError as exc:
                if classify(exc)[0] not in _GONE:
                    raise
                log.warning("plan #%s: the %s message is gone; posting it again", row.plan_id, row.role)
        elif row.edit_only:
            return None  # a redraw of a message that was never posted: nothing to redraw
        thread_ts = None
        if row.in_thread:
            parent = await self.message_ref(row.plan_id, "plan")
            thread_ts = parent[1] if parent else None
        answer = await self._client.chat_postMessage(channel=row.channel, thread_ts=thread_ts, **row.payload)
        channel, ts = str(answer["channel"]), str(answer["ts"])
        self._cache[(row.plan_id, row.role)] = (channel, ts)
        return channel, ts, thread_ts

    async def _thread_of(self, row: Claimed) -> tuple[str, str] | None:
        """The message a reply goes under: its plan's message, or its campaign's card."""
        if row.plan_id is not None:
            return await self.message_ref(row.plan_id, "plan")
        campaign = campaign_of(row.role)
        return await self._card(campaign) if campaign is not None else None

    async def _card(self, campaign_id: int) -> tuple[str, str] | None:
        cached = self._cards.get(campaign_id)
        if cached is None and self.campaign_messages is not None:
            cached = await self.campaign_messages.get(campaign_id=campaign_id, role=CARD)
            if cached is not None:
                self._cards[campaign_id] = cached
        return cached

    async def _upsert_card(self, row: Claimed, campaign_id: int) -> None:
        """Post the campaign's card the first time, edit it afterwards (as a plan's message)."""
        ref = await self._card(campaign_id)
        if ref is not None:
            try:
                await self._client.chat_update(channel=ref[0], ts=ref[1], **row.payload)
                return
            except SlackApiError as exc:
                if classify(exc)[0] not in _GONE:
                    raise
                log.warning("campaign #%s: the card is gone; posting it again", campaign_id)
        elif row.edit_only:
            return
        answer = await self._client.chat_postMessage(channel=row.channel, **row.payload)
        posted = (str(answer["channel"]), str(answer["ts"]))
        self._cards[campaign_id] = posted
        if self.campaign_messages is None:
            log.warning("campaign #%s: its card was posted but cannot be found again after a restart",
                        campaign_id)
            return
        await self.campaign_messages.save(campaign_id=campaign_id, role=CARD, channel=posted[0], ts=posted[1])


def _whose(row: Claimed) -> str:
    """Whose message a log line is about: a plan's, a campaign's, or a person's answer."""
    if row.plan_id is not None:
        return f"plan #{row.plan_id}"
    campaign = campaign_of(row.role)
    return f"campaign #{campaign}" if campaign is not None else f"an answer to {row.payload.get('user')}"
