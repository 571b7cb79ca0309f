"""The ``/dm-upgrade`` slash command: ack within Slack's 3 seconds, then parse, call the engine, answer.

Bad input is answered in the ack itself (parsing is pure and instant) and creates nothing. A Slack retry
(``X-Slack-Retry-Num``) of ``plan`` never makes a second plan: the command's ``trigger_id`` is the engine's
dedupe key, and a retry that arrives while the first copy is still working is only acknowledged (so is
one of ``campaign``; a later one is refused by the engine: its DMSs are in the first campaign already).

``campaign`` stores the campaign (``CampaignEngine.create``) and its card, with its buttons, is posted in
the channel from the outbox of domain events; without a campaign engine it is the dry run the CLI prints.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from handlers import safe_text as safe
from handlers.blocks import campaign as blocks_campaign
from handlers.blocks import decisions as blocks_decisions
from handlers.blocks import notes as blocks_notes
from handlers.blocks import progress as blocks_progress
from handlers.blocks.plan import Message
from handlers.delivery.ephemerals import Ephemerals
from handlers.delivery.timeline_post import TimelinePoster
from handlers.ids import SLASH_COMMAND
from handlers.listeners.checklist_command import tick_named
from handlers.listeners.command_parser import (
    HELP_TEXT,
    CampaignCommand,
    CancelCommand,
    CheckCommand,
    Command,
    HelpCommand,
    HistoryCommand,
    ParseError,
    PlanCommand,
    StatusCommand,
    TickCommand,
    TimelineCommand,
    parse_command,
)
from handlers.listeners.middleware import ListenerWork
from workflow.campaign_engine import CampaignEngine
from workflow.engine import UpgradeEngine
from workflow.model.errors import NotFound, UserError
from workflow.model.snapshot import PlanSnapshot

log = logging.getLogger(__name__)

WORKING = "Working on it…"
# Engine work after the ack runs in a few slots: a burst of commands is acked first, then worked off,
# instead of every command's database and DMS work competing with the acks still to be sent.
WORK_SLOTS = 2
UNEXPECTED = "Something went wrong on the bot's side; the details are in its log."


class CommandRunner:
    """What the listener does after the ack; separate so it reads as the table of subcommands."""

    def __init__(self, *, engine: UpgradeEngine, work: ListenerWork, slots: int = WORK_SLOTS,
                 timeline: TimelinePoster | None = None, tell: Ephemerals | None = None,
                 campaigns: CampaignEngine | None = None) -> None:
        self._engine = engine
        self._campaigns = campaigns
        self._tell = tell or Ephemerals()
        self._timeline = timeline
        self._work = work
        self._in_flight: set[str] = set()
        self._slots = slots
        self._semaphore: asyncio.Semaphore | None = None  # made in the running loop, on first use

    def claim(self, key: str) -> bool:
        """False if a copy of this command is already being worked on (claimed before any await)."""
        if key in self._in_flight:
            return False
        self._in_flight.add(key)
        return True

    async def run(self, parsed: Command, *, client: AsyncWebClient, user: str, channel: str,
                  dedupe_key: str | None) -> None:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self._slots)
        await self._work.after_acks()
        try:
            async with self._semaphore:
                answer = await self._dispatch(parsed, user=user, channel=channel, dedupe_key=dedupe_key)
        except UserError as exc:
            # The usage goes with syntax errors only (ParseError, answered before this): a version the
            # catalog does not know or a downgrade needs no syntax lesson, just the reason.
            text = safe.literal(exc.message)
            await self._tell.tell(client, channel=channel, user=user, message=text)
            return
        except Exception:
            log.exception("/dm-upgrade %s failed", type(parsed).__name__)
            answer = UNEXPECTED
        if answer is not None:
            await self._tell.tell(client, channel=channel, user=user, message=answer)

    async def _dispatch(self, parsed: Command, *, user: str, channel: str,
                        dedupe_key: str | None) -> Message | str | None:
        engine = self._engine
        match parsed:
            case PlanCommand():
                try:
                    await engine.create_plan(
                        target=parsed.version, track=parsed.track, window_start=parsed.window_start,
                        window_minutes=parsed.window_minutes, requester=user, channel=channel,
                        dms=parsed.dms, dedupe_key=dedupe_key, confirmed_current=parsed.current,
                    )
                finally:
                    if dedupe_key is not None:
                        self._in_flight.discard(dedupe_key)
                return None  # the plan message itself is the answer (the notifier posts it)
            case StatusCommand():
                snap = await self._find(parsed.plan_id, channel=channel, latest=True)
                settings = engine.settings
                lead = blocks_notes.next_step(snap, settings=settings, now=engine.now())
                if not parsed.full:
                    return blocks_progress.status_short(snap, lead=lead)
                return blocks_progress.status_summary(snap, lead=lead,
                                                      notes=blocks_notes.plan_notes(snap, settings=settings))
            case TickCommand():
                return await tick_named(engine, parsed, actor=user)
            case CheckCommand():
                plan_id = (await self._find(parsed.plan_id, channel=channel)).id
                await engine.run_check(plan_id=plan_id, actor=user)
                return f"Pre-upgrade check of plan #{plan_id} started; see the plan's thread."
            case CancelCommand():
                snap = await engine.read_status(plan_id=parsed.plan_id)
                if snap.state.in_flight:
                    # A hop may be running on the DMS: say what a cancel cannot do, and let them confirm.
                    return blocks_decisions.cancel_running_prompt(snap, reason=parsed.reason)
                await engine.cancel(plan_id=parsed.plan_id, actor=user, reason=parsed.reason)
                return None  # the cancellation is broadcast in the plan's thread
            case HistoryCommand():
                return blocks_progress.history(await engine.read_history(limit=10))
            case TimelineCommand():
                return await self._post_timeline(parsed.plan_id, channel=channel)
            case CampaignCommand():
                return await self._campaign(parsed, user=user, channel=channel, dedupe_key=dedupe_key)
            case HelpCommand():
                return HELP_TEXT
        raise AssertionError(f"unhandled command {parsed!r}")

    async def _campaign(self, parsed: CampaignCommand, *, user: str, channel: str,
                        dedupe_key: str | None) -> Message | None:
        """Stored, its card posted in the channel (the answer); without a campaign engine, a dry run."""
        try:
            if self._campaigns is None:  # every DMS read and planned, nothing stored
                return blocks_campaign.campaign_card(await self._engine.plan_campaign(parsed.request))
            await self._campaigns.create(parsed.request, requester=user, channel=channel)
            return None
        finally:
            if dedupe_key is not None:
                self._in_flight.discard(dedupe_key)

    async def _post_timeline(self, plan_id: int | None, *, channel: str) -> str:
        """The current picture, during the execution too, into the plan's thread."""
        plan = await self._find_any(plan_id, channel=channel)
        if self._timeline is None:
            raise UserError("Timeline pictures are not available in this bot")
        await self._timeline.post(plan.id, channel=plan.channel or channel)
        return f"Timeline of plan #{plan.id} posted in its thread."

    async def _find_any(self, plan_id: int | None, *, channel: str) -> PlanSnapshot:
        """Like ``_find``, and without an active plan the latest plan of any state."""
        try:
            return await self._find(plan_id, channel=channel)
        except NotFound:
            latest = await self._engine.read_history(limit=1) if plan_id is None else []
            if not latest:
                raise
            return latest[0]

    async def _find(self, plan_id: int | None, *, channel: str, latest: bool = False) -> PlanSnapshot:
        """The given plan; without an id the active plan of this channel, else any active plan; with
        ``latest`` (status), else this channel's latest plan, so a plan that just finished is shown."""
        if plan_id is not None:
            return await self._engine.read_status(plan_id=plan_id)
        try:
            return await self._engine.read_status(channel=channel)
        except NotFound:
            try:
                return await self._engine.read_status()
            except NotFound:
                recent = [s for s in await self._engine.read_history(limit=20)
                          if s.channel == channel] if latest else []
                if not recent:
                    raise
                return recent[0]


def register(app: AsyncApp, *, engine: UpgradeEngine, work: ListenerWork,
             timeline: TimelinePoster | None = None, tell: Ephemerals | None = None,
             campaigns: CampaignEngine | None = None) -> None:
    runner = CommandRunner(engine=engine, work=work, timeline=timeline, tell=tell, campaigns=campaigns)

    @app.command(SLASH_COMMAND)
    async def on_command(ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient) -> None:
        async with work.track():
            await _on_command(ack, command, client)

    async def _on_command(ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient) -> None:
        try:
            parsed = parse_command(str(command.get("text") or ""))
        except ParseError as exc:
            await ack(text=str(exc))
            return
        if isinstance(parsed, HelpCommand):
            await ack(text=HELP_TEXT)
            return
        user, channel = safe.slack_id(command.get("user_id")), safe.slack_id(command.get("channel_id"),
                                                                              kinds="CGD")
        if user is None or channel is None:
            log.warning("ignored a slash command without a valid user or channel id")
            await ack()
            return
        trigger = str(command.get("trigger_id") or "")
        trigger = trigger if re.fullmatch(r"[0-9A-Za-z._-]{1,128}", trigger) else ""  # it is stored
        dedupe_key = f"slash:{trigger}" if trigger else None
        once = isinstance(parsed, PlanCommand | CampaignCommand)
        if once and dedupe_key is not None and not runner.claim(dedupe_key):
            await ack()  # a Slack retry while the first copy still works: that copy answers
            return
        slow = isinstance(parsed, PlanCommand | CheckCommand | TimelineCommand | CampaignCommand)
        await ack(text=WORKING) if slow else await ack()
        await runner.run(parsed, client=client, user=user, channel=channel, dedupe_key=dedupe_key)
