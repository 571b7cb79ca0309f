"""Buttons and checkboxes of the plan message and the approval request: ack, parse, call the engine, answer.

Refusals (not an approver, already decided, outside the window, an automatic checklist item unticked by
hand) are told to the clicker only, ephemerally; the engine records them in the audit log.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from handlers import safe_text as safe
from handlers.blocks import decisions as blocks_decisions
from handlers.blocks import notes as blocks_notes
from handlers.blocks import plan as blocks
from handlers.blocks import progress as blocks_progress
from handlers.blocks.plan import Message
from handlers.button_values import ButtonValue, PlanButton
from handlers.delivery.ephemerals import Ephemerals
from handlers.ids import CHECKLIST_ACTION_PATTERN, ActionId
from handlers.listeners.commands import UNEXPECTED
from handlers.listeners.middleware import ListenerWork
from workflow.engine import UpgradeEngine
from workflow.model.errors import AlreadyDecided, UserError
from workflow.roles import Action

log = logging.getLogger(__name__)


class Click:
    """The parts of a ``block_actions`` payload the listeners use."""

    def __init__(self, body: dict[str, Any], *, button: ButtonValue | None = None,
                 tell: Ephemerals | None = None) -> None:
        # The payload middleware (handlers.listeners.payloads) checked the body's shape and read the button's
        # typed value; the ids are checked here too (``valid``): they become audit actors and recipients.
        self.body = body
        self.button = button
        self.action: dict[str, Any] = (body.get("actions") or [{}])[0]
        self.user = str(_field(body.get("user"), "id"))
        container = body.get("container") or {}
        self.channel = str(container.get("channel_id") or _field(body.get("channel"), "id"))
        self.message_ts = str(container.get("message_ts") or "")
        self.thread_ts: str | None = container.get("thread_ts")
        self.trigger_id = str(body.get("trigger_id") or "")
        self._tell = tell or Ephemerals()

    @property
    def valid(self) -> bool:
        return bool(safe.slack_id(self.user) and safe.slack_id(self.channel, kinds="CGD"))

    async def answer(self, client: AsyncWebClient, message: Message | str) -> None:
        """Tell the clicker only, in the click's thread; kept for later while Slack is down."""
        await self._tell.tell(client, channel=self.channel, user=self.user, message=message,
                              thread_ts=self.thread_ts)

    def plan_id(self) -> int:
        if not isinstance(self.button, PlanButton):
            raise UserError("This button does not name a plan; use /dm-upgrade status")
        return self.button.plan_id


def _field(part: object, key: str) -> object:
    return part.get(key) or "" if isinstance(part, dict) else part or ""


def already_decided_text(exc: AlreadyDecided) -> str:
    return (f"Plan #{exc.plan_id} was already {exc.decision} by {safe.user(exc.decided_by)} at "
            f"{blocks.when(exc.decided_at)}.")


async def _answer_error(client: AsyncWebClient, click: Click, exc: Exception, *, refused: str = "") -> None:
    if isinstance(exc, AlreadyDecided):
        text = already_decided_text(exc)
    elif isinstance(exc, UserError):
        # The ephemeral shows up in the channel without the button next to it: say what was refused.
        text = f"{refused}: {exc.message}" if refused else exc.message
    else:
        log.exception("action %s failed", click.action.get("action_id"), exc_info=exc)
        text = UNEXPECTED
    await click.answer(client, text)


Job = Callable[[UpgradeEngine, AsyncWebClient, Click], Awaitable[None]]


async def _open_window_form(engine: UpgradeEngine, client: AsyncWebClient, click: Click) -> None:
    await engine.authorize(plan_id=click.plan_id(), action=Action.SET_WINDOW, actor=click.user)
    snap = await engine.read_status(plan_id=click.plan_id())
    view = blocks_decisions.window_modal(snap, channel=click.channel, now=engine.now())
    await client.views_open(trigger_id=click.trigger_id, view=view)


async def _run_check(engine: UpgradeEngine, client: AsyncWebClient, click: Click) -> None:
    await engine.run_check(plan_id=click.plan_id(), actor=click.user)


async def _tick_checklist(engine: UpgradeEngine, client: AsyncWebClient, click: Click) -> None:
    try:
        plan_id = blocks.plan_of_checklist_block(str(click.action.get("block_id") or ""))
        snap = await engine.read_status(plan_id=plan_id)
        items = blocks.checklist_items_for(snap, str(click.action.get("action_id") or ""))
    except ValueError:
        raise UserError("This checklist does not belong to a plan; use /dm-upgrade status") from None
    options = click.action.get("selected_options")
    options = options if isinstance(options, list) else []
    selected = {str(option.get("value")) for option in options if isinstance(option, dict)}
    refused: list[str] = []
    for item in items:
        wanted = item.key in selected
        if wanted == item.checked:
            continue
        try:
            await engine.tick(plan_id=plan_id, key=item.key, actor=click.user, checked=wanted)
        except UserError as exc:
            refused.append(f"“{safe.mrkdwn(item.title, limit=300)}”: {exc.message}")
    if refused:
        # Slack already shows the click; draw the plan as it really is, then say why.
        fresh = blocks.plan_message(await engine.read_status(plan_id=plan_id))
        await client.chat_update(channel=click.channel, ts=click.message_ts, **fresh.kwargs())
        await click.answer(client, "Not changed:\n" + "\n".join(refused))


async def _show_full_status(engine: UpgradeEngine, client: AsyncWebClient, click: Click) -> None:
    """The short status's button: the whole plan, to the clicker only (as ``status <id> full``)."""
    snap = await engine.read_status(plan_id=click.plan_id())
    lead = blocks_notes.next_step(snap, settings=engine.settings, now=engine.now())
    full = blocks_progress.status_summary(snap, lead=lead,
                                          notes=blocks_notes.plan_notes(snap, settings=engine.settings))
    await click.answer(client, full)


# Every button and checkbox: the action id (or pattern), what it does, and how a refusal is introduced.
# Approve, reject and cancel live in ``handlers.listeners.decisions`` (they open modals and confirmations).
ACTIONS: tuple[tuple[str | re.Pattern[str], Job, str], ...] = (
    (ActionId.SET_WINDOW.value, _open_window_form, ""),
    (ActionId.RUN_CHECK.value, _run_check, ""),
    (ActionId.STATUS_FULL.value, _show_full_status, ""),
    (CHECKLIST_ACTION_PATTERN, _tick_checklist, ""),
)


def register(app: AsyncApp, *, engine: UpgradeEngine, work: ListenerWork,
             tell: Ephemerals | None = None) -> None:
    for action, job, refused in ACTIONS:
        app.action(action)(listener(engine=engine, work=work, job=job, refused=refused, tell=tell))


def listener(*, engine: UpgradeEngine, work: ListenerWork, job: Job, refused: str,
             tell: Ephemerals | None = None) -> Any:
    """Ack, then run the job after the pending acks; every refusal and failure is told to the clicker."""

    async def listener(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient,
                       context: dict[str, Any]) -> None:
        await ack()
        click = Click(body, button=context.get("button"), tell=tell)
        if not click.valid:
            log.warning("ignored a click without a valid user or channel id")
            return
        async with work.track():
            await work.after_acks()
            try:
                await job(engine, client, click)
            except Exception as exc:
                await _answer_error(client, click, exc, refused=refused)

    return listener
