"""``SlackNotifier``: the engine's events, drawn in Slack.

- The plan message is posted on ``PlanCreated`` and edited in place on every change.
- Its thread carries one status message edited in place (hops, agents, progress bar, ETA), milestones as
  replies, and failures and the final result as replies also broadcast to the channel.
- The approval request (Approve / Reject) is replaced by who decided, and when.

``notify`` never waits for Slack: it queues the calls on a ``ChannelPacer`` (at most one call per second per
channel, edits of one message coalesced) and returns, so a slow or rate-limited Slack never slows an
upgrade. Edits are "upserts" decided when the call runs: the first one posts, the next ones edit, and the
message references are stored in the database so threads and edits survive a restart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from dms.durations import duration_text
from handlers import blocks, blocks_cube, blocks_notes, blocks_progress
from handlers import safe_text as safe
from handlers.slack_web import ChannelPacer
from workflow.events import (
    AgentProgress,
    ApprovalGranted,
    ApprovalRejected,
    ApprovalRequested,
    CheckFinished,
    CheckStarted,
    CubeStepConfirmed,
    CubeStepRequested,
    DmsConnectionLost,
    DmsConnectionRestored,
    EtaChanged,
    Event,
    HopFinished,
    HopStarted,
    ItemTicked,
    PlanCreated,
    ReminderDue,
    StateChanged,
    UpgradeCancelled,
    UpgradeExpired,
    UpgradeFailed,
    UpgradeFinished,
    WindowScheduled,
)
from workflow.settings import WorkflowSettings
from workflow.store.message_refs import MessageRefs
from workflow.store.snapshot import PlanSnapshot
from workflow.store.states import PlanState

log = logging.getLogger(__name__)

PLAN, STATUS, APPROVAL = "plan", "status", "approval"
# Chat.update answers these when the message is gone: post it again rather than lose it.
_GONE = frozenset({"message_not_found", "cant_update_message", "channel_not_found"})
_PLAN_CHANGES = (PlanCreated, WindowScheduled, StateChanged, CheckFinished, ItemTicked, ApprovalRequested,
                 ApprovalGranted, ApprovalRejected, HopFinished, UpgradeFinished, UpgradeFailed,
                 UpgradeCancelled, UpgradeExpired)


class SlackNotifier:
    """Implements ``workflow.events.Notifier`` on the Slack Web API."""

    def __init__(self, *, web_client: AsyncWebClient, refs: MessageRefs, pacer: ChannelPacer,
                 settings: WorkflowSettings | None = None) -> None:
        self._client = web_client
        # With settings the plan message says who can approve and when the bot acts (issue 12).
        self._settings = settings
        self._approvers: dict[int, tuple[str, ...]] = {}  # the approvers each request named
        self._store = refs
        self._pacer = pacer
        self._refs: dict[tuple[int, str], tuple[str, str]] = {}  # (plan, role) -> (channel, ts)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._requested: set[int] = set()  # plans whose approval request was queued in this process
        self.failures = 0  # calls that failed for good (after the client's retries)

    # ------------------------------------------------------------------ the Notifier protocol

    async def notify(self, event: Event) -> None:
        snap = event.snapshot
        if isinstance(event, _PLAN_CHANGES):
            notes = blocks_notes.plan_notes(snap, settings=self._settings) if self._settings else ()
            self._upsert(snap.id, PLAN, snap.channel, blocks.plan_message(snap, notes=notes), in_thread=False)
        match event:
            case StateChanged():
                self._state_changed(event)
            case WindowScheduled():
                self._reply(snap.id, snap.channel, blocks_progress.note(
                    f":calendar: Window set to {blocks.window_text(snap)} by {_who(event.actor)}."))
            case ItemTicked():
                self._redraw_approval_request(snap)  # an open item it listed may just have been ticked
            case CheckStarted():
                name = "Pre-upgrade check" if event.kind == "pre" else "Verification"
                self._reply(snap.id, snap.channel, blocks_progress.note(
                    f":hourglass_flowing_sand: {name} started (by {_who(event.actor)})."))
            case CheckFinished():
                result = blocks_progress.check_result(snap, kind=event.kind, results=event.results,
                                                      passed=event.passed)
                self._reply(snap.id, snap.channel, result, broadcast=not event.passed)
                self._redraw_approval_request(snap)
            case ReminderDue():
                items = "\n".join(f"• {safe.mrkdwn(title, limit=300)}" for title in event.open_items)
                opens = blocks.when(snap.window_start)
                self._reply(snap.id, snap.channel, blocks_progress.note(
                    f":stopwatch: The window opens at {opens}. Still open:\n{items}"))
            case ApprovalRequested():
                self._requested.add(snap.id)
                self._approvers[snap.id] = event.approvers
                self._upsert(snap.id, APPROVAL, snap.channel,
                             blocks.approval_request(snap, approvers=event.approvers), in_thread=True)
            case ApprovalGranted() | ApprovalRejected():
                self._upsert(snap.id, APPROVAL, snap.channel, blocks.approval_decided(snap), in_thread=True)
                if isinstance(event, ApprovalRejected):  # announced in the channel, like a cancel
                    self._reply(snap.id, snap.channel, blocks_progress.rejected(
                        snap, actor=event.actor, reason=event.reason), broadcast=True)
            case HopStarted():
                text = f":rocket: Hop {event.hop_index + 1}/{len(snap.hops)} started: {_hop(event)}" \
                       f"{' (resumed)' if event.resumed else ''}."
                self._reply(snap.id, snap.channel, blocks_progress.note(text))
                self._status(event)
            case CubeStepRequested() | CubeStepConfirmed():
                self._cube_step(event)
            case HopFinished():
                took = f" in {duration_text(event.minutes * 60)}" if event.minutes else ""
                self._reply(snap.id, snap.channel, blocks_progress.note(
                    f":heavy_check_mark: Hop {event.hop_index + 1}/{len(snap.hops)} done{took}: "
                    f"every agent runs {safe.name(event.version)}."))
                self._status(event)
            case AgentProgress() | EtaChanged():
                self._status(event)
            case DmsConnectionLost() | DmsConnectionRestored():
                self._reply(snap.id, snap.channel, blocks_progress.note(_connection_note(event)))
            case UpgradeFinished() | UpgradeFailed() | UpgradeCancelled() | UpgradeExpired():
                self._outcome(event)
            case _:
                pass

    def _outcome(self, event: UpgradeFinished | UpgradeFailed | UpgradeCancelled | UpgradeExpired) -> None:
        """How a plan ended, broadcast to the channel."""
        snap = event.snapshot
        match event:
            case UpgradeFinished():
                self._status(event)
                self._reply(snap.id, snap.channel, blocks_progress.finished(snap, results=event.results),
                            broadcast=True)
                ask = blocks_progress.key_functionalities_request(snap)
                if ask is not None:
                    self._reply(snap.id, snap.channel, ask)
            case UpgradeFailed():
                self._status(event)
                self._reply(snap.id, snap.channel, blocks_progress.failed(
                    snap, reason=event.reason, guidance=event.guidance, agents=event.agents), broadcast=True)
            case UpgradeCancelled():
                self._close_approval(snap, why=f"the plan was cancelled by {_who(event.actor)}")
                self._reply(snap.id, snap.channel, blocks_progress.cancelled(
                    snap, actor=event.actor, reason=event.reason, agents=event.agents, settled=event.settled),
                    broadcast=True)
            case UpgradeExpired():
                self._close_approval(snap, why="the window closed")
                expired = f":no_entry: Plan #{snap.id} expired: the window closed without an approval."
                self._reply(snap.id, snap.channel, blocks_progress.note(expired), broadcast=True)

    # ------------------------------------------------------------------ lifecycle

    async def drain(self) -> None:
        """Wait until every queued Slack call has been made (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self._pacer.drain()

    async def aclose(self, *, timeout_s: float = 10.0) -> None:
        """Flush what is queued (bounded), then stop the pacer."""
        try:
            await asyncio.wait_for(self.drain(), timeout=timeout_s)
        except TimeoutError:
            log.warning("stopping with Slack calls still queued")
        await self._pacer.aclose()

    def message_ref(self, plan_id: int, role: str) -> tuple[str, str] | None:
        """(channel, ts) of a plan's message in ``role`` ("plan", "status", "approval"), from the database."""
        cached = self._refs.get((plan_id, role))
        if cached is not None:
            return cached
        found = self._store.get(plan_id=plan_id, role=role)
        if found is None:
            return None
        self._refs[(plan_id, role)] = found
        return found

    # ------------------------------------------------------------------ queueing

    def _spawn(self, coro: Awaitable[Any], *, what: str) -> None:
        async def guarded() -> None:
            try:
                await coro
            except Exception:
                self.failures += 1
                log.exception("Slack call failed for good: %s", what)

        task = asyncio.get_running_loop().create_task(guarded(), name=f"slack:{what}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _upsert(
        self, plan_id: int, role: str, channel: str, message: blocks.Message, *, in_thread: bool
    ) -> None:
        """Post the role's message the first time, edit it afterwards; edits waiting their turn coalesce."""
        async def call() -> None:
            ref = self.message_ref(plan_id, role)
            if ref is not None:
                try:
                    await self._client.chat_update(channel=ref[0], ts=ref[1], **message.kwargs())
                    return
                except SlackApiError as exc:
                    if exc.response.get("error") not in _GONE:
                        raise
                    log.warning("plan #%s: the %s message is gone; posting it again", plan_id, role)
            thread_ts = None
            if in_thread:
                parent = self.message_ref(plan_id, PLAN)
                thread_ts = parent[1] if parent else None
            answer = await self._client.chat_postMessage(
                channel=channel, thread_ts=thread_ts, **message.kwargs()
            )
            self._save(plan_id, role, channel=str(answer["channel"]), ts=str(answer["ts"]),
                       thread_ts=thread_ts)

        self._spawn(self._pacer.update(channel, f"{role}:{plan_id}", call), what=f"{role} #{plan_id}")

    def _reply(
        self, plan_id: int, channel: str, message: blocks.Message, *, broadcast: bool = False
    ) -> None:
        """A reply in the plan's thread (in order, never coalesced); ``broadcast``: in the channel too."""
        async def call() -> None:
            parent = self.message_ref(plan_id, PLAN)
            extra: dict[str, Any] = {}
            if parent is not None:
                extra["thread_ts"] = parent[1]
                if broadcast:
                    extra["reply_broadcast"] = True
            await self._client.chat_postMessage(channel=channel, **extra, **message.kwargs())

        self._spawn(self._pacer.post(channel, call), what=f"reply #{plan_id}")

    def _cube_step(self, event: CubeStepRequested | CubeStepConfirmed) -> None:
        """Watch driver: the step's message with its Done in Cube button, then the same message confirmed."""
        snap = event.snapshot
        if isinstance(event, CubeStepRequested):
            message = blocks_cube.step_request(snap, hop_index=event.hop_index, step=event.step,
                                               instructions=event.instructions, deadline=event.deadline)
        else:
            message = blocks_cube.step_confirmed(snap, hop_index=event.hop_index, step=event.step,
                                                 actor=event.actor)
        self._upsert(snap.id, blocks_cube.role(event.hop_index, event.step), snap.channel, message,
                     in_thread=True)

    def _status(self, event: Event) -> None:
        snap = event.snapshot
        agents = event.agents if isinstance(event, AgentProgress) else None
        eta = event.eta if isinstance(event, EtaChanged) else None
        message = blocks_progress.status_message(snap, agents=agents, eta=eta)
        self._upsert(snap.id, STATUS, snap.channel, message, in_thread=True)

    def _redraw_approval_request(self, snap: PlanSnapshot) -> None:
        """A check finished (or an item was ticked) while the request waits: redraw it, so what it warns
        about is current."""
        if snap.state is not PlanState.AWAITING_APPROVAL or snap.approval is not None:
            return
        if snap.id not in self._requested and self.message_ref(snap.id, APPROVAL) is None:
            return
        default = tuple(self._settings.upgrade_approvers) if self._settings else ()
        message = blocks.approval_request(snap, approvers=self._approvers.get(snap.id, default))
        self._upsert(snap.id, APPROVAL, snap.channel, message, in_thread=True)

    def _state_changed(self, event: StateChanged) -> None:
        snap = event.snapshot
        if self.message_ref(snap.id, STATUS) is not None:
            # The status message follows every move (it used to stay at "executing 0%" after a cancel).
            self._status(event)
        if event.to_state == PlanState.CANCELLING.value:
            self._close_approval(snap, why=f"the plan is being cancelled by {_who(event.actor)}")
            notice = blocks_progress.cancelling(snap, actor=event.actor, reason=event.reason)
            self._reply(snap.id, snap.channel, notice, broadcast=True)

    def _close_approval(self, snap: PlanSnapshot, *, why: str) -> None:
        """An approval request still showing its buttons says why it is closed (if one was posted)."""
        if snap.approval is None and (snap.id in self._requested or self.message_ref(snap.id, APPROVAL)):
            # Not edit-only: this edit may replace a request still waiting to be posted.
            message = blocks.approval_closed(snap, why=why)
            self._upsert(snap.id, APPROVAL, snap.channel, message, in_thread=True)

    def _save(self, plan_id: int, role: str, *, channel: str, ts: str, thread_ts: str | None) -> None:
        self._store.save(plan_id=plan_id, role=role, channel=channel, ts=ts, thread_ts=thread_ts)
        self._refs[(plan_id, role)] = (channel, ts)


def _hop(event: HopStarted) -> str:
    return f"{safe.name(event.version)} ({safe.name(event.package)})"
def _connection_note(event: DmsConnectionLost | DmsConnectionRestored) -> str:
    """Once per outage of the DMS under a running upgrade, and once when it is back (not per poll)."""
    if isinstance(event, DmsConnectionLost):
        until = f" until {blocks.when(event.deadline)}" if event.deadline else ""
        return (f":electric_plug: The DMS {event.dms_name} does not answer; the upgrade waits and keeps "
                f"asking{until} (the hop's deadline).")
    return (f":white_check_mark: The DMS {event.dms_name} answers again (after "
            f"{blocks.minutes_text(event.minutes)}); the upgrade goes on.")


def _who(actor: str) -> str:
    if actor == "bot":
        return "the bot"
    return safe.user(actor)
