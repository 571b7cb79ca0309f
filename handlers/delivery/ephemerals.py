"""``Ephemerals``: answers only one person sees (refusals, errors, ``status``), not lost while Slack is down.

An answer is sent at once (``chat.postEphemeral``): the person is waiting for it, and the outbox's pacing
(one call a second per channel, in order behind the plan's messages) would only delay it. When Slack or the
network fails for now (429 or 5xx after the client's own retries, a connection error), the answer goes into
the Slack outbox instead (``workflow.model.outbox.EPHEMERAL``), where the sender tries it again with its
backoff, across restarts and replicas, until Slack takes it or it is older than a ``response_url`` lives
(30 minutes): then it expires, logged and audited. An answer Slack refuses for good (``channel_not_found``,
``user_not_in_channel``, ...) would be refused again later: it is logged, not kept.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from handlers.blocks import progress as blocks_progress
from handlers.blocks.plan import Message
from handlers.delivery.slack_web import NETWORK_ERRORS, classify
from workflow.model.clock import utc_now
from workflow.model.outbox import EPHEMERAL, EPHEMERAL_LIFE_S, Outgoing
from workflow.outbox import Outbox

log = logging.getLogger(__name__)

EXPIRES = "expires_at"  # the payload's key for when the answer stops being worth sending (ISO 8601, UTC)


def ephemeral_call(*, channel: str, user: str, content: dict[str, Any], thread_ts: str | None,
                   now: datetime) -> Outgoing:
    """The outbox row for an answer to ``user`` given at ``now``."""
    payload: dict[str, Any] = {**content, "user": user,
                               EXPIRES: (now + timedelta(seconds=EPHEMERAL_LIFE_S)).isoformat()}
    if thread_ts:
        payload["thread_ts"] = thread_ts
    return Outgoing(channel=channel, plan_id=None, kind=EPHEMERAL, payload=payload)


def expired(payload: dict[str, Any], *, now: datetime) -> bool:
    """True when the answer is older than a response URL lives (or says no expiry it can be held to)."""
    try:
        return datetime.fromisoformat(str(payload.get(EXPIRES))) <= now
    except ValueError:
        return True


async def post_kept(client: AsyncWebClient, *, channel: str, payload: dict[str, Any]) -> None:
    """The sender's call for a kept answer (its expiry checked by the caller)."""
    call = {key: value for key, value in payload.items() if key != EXPIRES}
    await client.chat_postEphemeral(channel=channel, **call)


class Ephemerals:
    """Tells one person something now, or keeps it in ``outbox`` (and ``wake``s its sender) while Slack is
    down. Without an outbox (a Bolt app built without a runtime) an answer Slack did not take is logged."""

    def __init__(self, *, outbox: Outbox | None = None, wake: Callable[[], None] | None = None,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self._outbox = outbox
        self._wake = wake
        self._clock = clock
        self.kept = 0  # answers handed to the outbox in this process

    async def tell(self, client: AsyncWebClient, *, channel: str, user: str, message: Message | str,
                   thread_ts: str | None = None) -> None:
        """Never raises: the person's answer is sent, kept for later, or (refused for good) logged."""
        content = (message if isinstance(message, Message) else blocks_progress.note(message)).kwargs()
        extra: dict[str, Any] = {"thread_ts": thread_ts} if thread_ts else {}
        try:
            await client.chat_postEphemeral(channel=channel, user=user, **extra, **content)
            return
        except SlackApiError as exc:
            code, transient = classify(exc)
        except NETWORK_ERRORS as exc:
            code, transient = f"Slack unreachable: {type(exc).__name__}", True
        if not transient:
            log.warning("could not answer %s in %s: Slack answered %s", user, channel, code)
            return
        await self._keep(ephemeral_call(channel=channel, user=user, content=content, thread_ts=thread_ts,
                                        now=self._clock()), error=code)

    async def _keep(self, call: Outgoing, *, error: str) -> None:
        if self._outbox is None:
            log.warning("could not answer %s in %s (%s), and there is no outbox to keep it in",
                        call.payload["user"], call.channel, error)
            return
        try:
            await self._outbox.enqueue(call)
        except Exception:  # the database as well as Slack: nothing is left to keep it in
            log.exception("could not answer %s in %s (%s) nor keep the answer for later",
                          call.payload["user"], call.channel, error)
            return
        self.kept += 1
        log.info("Slack did not take an answer to %s in %s (%s); it is kept and sent again for up to %d "
                 "minutes", call.payload["user"], call.channel, error, EPHEMERAL_LIFE_S // 60)
        if self._wake is not None:
            self._wake()
