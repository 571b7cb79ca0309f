"""``SlackNotifier``: the engine's events, told in Slack through the outbox of domain events.

The workflow writes each event in the transaction of the change it tells of
(``workflow.store.event_outbox``); nothing is drawn or staged when it happens. The ``OutboxSender`` takes
the events in order, draws each into Slack calls (``handlers.delivery.drawing``, pure) in the same unit of
work, and delivers the calls in order per channel until Slack takes them, across restarts and replicas.
``notify`` only tells the sender to look now instead of at its next poll.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from handlers.delivery import drawing
from handlers.delivery.outbox_sender import OutboxSender, Picture
from handlers.delivery.slack_web import ChannelPacer
from workflow.campaign_outbox import CampaignMessages
from workflow.event_codec import decode
from workflow.events import Event
from workflow.model.outbox import CLAIM_TTL_S, Outgoing
from workflow.outbox import Outbox
from workflow.settings import WorkflowSettings

log = logging.getLogger(__name__)

PLAN, STATUS, APPROVAL = drawing.PLAN, drawing.STATUS, drawing.APPROVAL


class SlackNotifier:
    """Implements ``workflow.events.Notifier`` on the Slack Web API, reading the outbox of domain events."""

    # The workflow records every event in the outbox with its change (``workflow.events.reads_outbox``).
    reads_outbox = True

    def __init__(self, *, web_client: AsyncWebClient, outbox: Outbox, pacer: ChannelPacer,
                 settings: WorkflowSettings | None = None, picture: Picture | None = None,
                 poll_s: float = 2.0, retry_base_s: float = 2.0, claim_ttl_s: float = CLAIM_TTL_S,
                 campaign_messages: CampaignMessages | None = None,
                 campaign_picture: Picture | None = None) -> None:
        self._settings = settings
        self._pacer = pacer
        self.drawn = 0  # messages drawn into the outbox (more than were sent: waiting edits merge)
        self.sender = OutboxSender(web_client=web_client, outbox=outbox, pacer=pacer, draw=self.draw,
                                   picture=picture, campaign_picture=campaign_picture, poll_s=poll_s,
                                   retry_base_s=retry_base_s, claim_ttl_s=claim_ttl_s)
        self.sender.campaign_messages = campaign_messages  # where campaign cards live, for their edits

    @property
    def failures(self) -> int:
        """Messages Slack refused for good (audited), in this process."""
        return self.sender.refusals

    # ------------------------------------------------------------------ the Notifier protocol

    async def notify(self, event: Event) -> None:
        """The event is in the outbox already (written with its change): look now."""
        self.sender.wake()

    def start(self) -> None:
        """Deliver what an earlier run left in the outbox (call with the loop running)."""
        self.sender.wake()

    def draw(self, kind: str, body: dict[str, Any]) -> list[Outgoing]:
        """An event row of the outbox as Slack calls (runs in the sender's unit of work, off the loop)."""
        calls = drawing.draw(decode(kind, body), settings=self._settings)
        self.drawn += len(calls)
        return calls

    # ------------------------------------------------------------------ lifecycle

    async def drain(self) -> None:
        """Wait until every message that is due has been delivered (tests, shutdown); a message waiting for
        its retry is not due."""
        await self.sender.drain()
        await self._pacer.drain()

    async def aclose(self, *, timeout_s: float = 10.0) -> int:
        """Deliver what is due (bounded), then stop; the rest waits in the outbox for the next start (or
        another replica). How many claimed messages were handed back unsent."""
        try:
            await asyncio.wait_for(self.drain(), timeout=timeout_s)
        except TimeoutError:
            log.warning("stopping with Slack messages still due; they stay in the outbox")
        handed = await self.sender.aclose()
        await self._pacer.aclose()
        return handed

    async def message_ref(self, plan_id: int, role: str) -> tuple[str, str] | None:
        """(channel, ts) of a plan's message in ``role`` ("plan", "status", "approval"), from the database."""
        return await self.sender.message_ref(plan_id, role)
