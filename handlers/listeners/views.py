"""The "Set window" modal's submission: field errors (``response_action: errors``) or the window set.

Unlike the other listeners this one calls the engine *before* acking: the only way to show an error on a
modal field is the ack itself. ``set_window`` is a short database write (no DMS call), well inside 3 s.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from handlers import safe_text as safe
from handlers.ids import ActionId, BlockId, CallbackId
from handlers.listeners.command_parser import ParseError, parse_duration, parse_start
from handlers.listeners.middleware import ListenerWork
from workflow.engine import UpgradeEngine
from workflow.model.errors import UserError
from workflow.plan_requests import window_length_problem

log = logging.getLogger(__name__)



def _dict(value: object) -> dict[str, Any]:
    """Slack sends objects here; anything else reads as an empty form rather than a crash."""
    return value if isinstance(value, dict) else {}


def _value(values: dict[str, Any], block: BlockId, action: ActionId, field: str) -> str:
    state = _dict(_dict(values.get(block.value)).get(action.value))
    return str(state.get(field) or "").strip()


def read_window(values: dict[str, Any]) -> tuple[Any, int | None, dict[str, str]]:
    """(start, minutes, errors by block_id) from the modal's ``state.values``."""
    errors: dict[str, str] = {}
    date = _value(values, BlockId.WINDOW_DATE, ActionId.WINDOW_DATE, "selected_date")
    time_text = _value(values, BlockId.WINDOW_TIME, ActionId.WINDOW_TIME, "selected_time")
    duration = _value(values, BlockId.WINDOW_DURATION, ActionId.WINDOW_DURATION, "value")
    start = None
    minutes: int | None = None
    if not date:
        errors[BlockId.WINDOW_DATE.value] = "Pick the start date"
    if not time_text:
        errors[BlockId.WINDOW_TIME.value] = "Pick the start time (UTC)"
    if date and time_text:
        try:
            start = parse_start(date, time_text)
        except ParseError as exc:
            errors[BlockId.WINDOW_DATE.value] = exc.problem
    try:
        minutes = parse_duration(duration or "")
        problem = window_length_problem(minutes)
        if problem is not None:
            errors[BlockId.WINDOW_DURATION.value] = problem
    except ParseError as exc:
        errors[BlockId.WINDOW_DURATION.value] = exc.problem
    return start, minutes, errors


def register(app: AsyncApp, *, engine: UpgradeEngine, work: ListenerWork) -> None:
    @app.view(CallbackId.WINDOW_MODAL.value)
    async def on_window(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        async with work.track():
            await _on_window(ack, body, view)

    async def _on_window(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        user_field = body.get("user")
        user = safe.slack_id(user_field.get("id") if isinstance(user_field, dict) else user_field)
        if user is None:
            log.warning("ignored a form submitted without a valid user id")
            await ack()
            return
        try:
            plan_id = int(json.loads(view.get("private_metadata") or "{}")["plan_id"])
        except (ValueError, KeyError, TypeError, OverflowError, RecursionError):
            await ack(response_action="errors",
                      errors={BlockId.WINDOW_DATE.value: "This form lost its plan; open it again"})
            return
        start, minutes, errors = read_window(_dict(_dict(view.get("state")).get("values")))
        if errors or start is None:
            await ack(response_action="errors", errors=errors)
            return
        try:
            await engine.set_window(plan_id=plan_id, start=start, minutes=minutes, actor=user)
        except UserError as exc:
            await ack(response_action="errors", errors={BlockId.WINDOW_DATE.value: exc.message[:2000]})
            return
        except Exception:
            log.exception("setting the window of plan #%s failed", plan_id)
            await ack(response_action="errors",
                      errors={BlockId.WINDOW_DATE.value: "The bot could not save the window; see its log"})
            return
        await ack()
