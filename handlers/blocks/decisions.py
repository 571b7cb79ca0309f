"""Block Kit for the decisions that need more than a click: the upgrade window (a plan's modal, and the
inputs a campaign's *Move a window…* asks with), the override-reason modal (approving over a failed
pre-check, open items or a window shorter than the estimate), the reject-reason modal, and the confirmation
of a cancel while a hop runs. Pure functions, built with ``slack_sdk.models``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    DatePickerElement,
    InputBlock,
    PlainTextInputElement,
    TimePickerElement,
)
from slack_sdk.models.views import View

from handlers import safe_text as safe
from handlers.blocks.notes import CANCEL_RUNNING_EFFECT
from handlers.blocks.plan import Message, section, to_dicts, truncate, versions
from handlers.button_values import CancelRunningButton
from handlers.ids import ActionId, BlockId, CallbackId
from workflow.model.snapshot import PlanSnapshot
from workflow.model.text import duration_written

REASON_MAX = 1000
DEFAULT_WINDOW_MINUTES = 240
# The reason travels in the confirmation button's value (2000 characters at most) after the plan id.
_VALUE_REASON_MAX = 1500


def _plan_line(snap: PlanSnapshot) -> str:
    # The versions are the DMS's own text (the current one is what it reported): escaped like the name.
    return f"Plan #{snap.id}: {versions(snap)} on {safe.name(snap.dms_name)}"


def window_inputs(*, start: datetime | None = None, minutes: int | None = None,
                  duration_hint: str = "Like 4h, 90m or 2h30m (15 minutes to 7 days)") -> list[InputBlock]:
    """Start date and time (UTC pickers) and a duration as people write it. Without ``minutes`` the duration
    may stay empty (a campaign's moved window keeps its length)."""
    day = start.astimezone(UTC).strftime("%Y-%m-%d") if start is not None else None
    clock = start.astimezone(UTC).strftime("%H:%M") if start is not None else None
    return [
        InputBlock(block_id=BlockId.WINDOW_DATE.value, label="Start date (UTC)",
                   element=DatePickerElement(action_id=ActionId.WINDOW_DATE.value, initial_date=day)),
        InputBlock(block_id=BlockId.WINDOW_TIME.value, label="Start time (UTC)",
                   element=TimePickerElement(action_id=ActionId.WINDOW_TIME.value, initial_time=clock)),
        InputBlock(block_id=BlockId.WINDOW_DURATION.value, label="Duration", optional=minutes is None,
                   hint=duration_hint,
                   element=PlainTextInputElement(
                       action_id=ActionId.WINDOW_DURATION.value, max_length=10,
                       initial_value=duration_written(minutes) if minutes is not None else None)),
    ]


def window_modal(snap: PlanSnapshot, *, channel: str, now: datetime) -> dict[str, Any]:
    """The "Set window" modal of one plan: its window when it has one, else tomorrow at this hour for 4h."""
    start = snap.window_start or (now + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    minutes = DEFAULT_WINDOW_MINUTES
    if snap.window_start is not None and snap.window_end is not None:
        minutes = int((snap.window_end - snap.window_start).total_seconds() // 60) or DEFAULT_WINDOW_MINUTES
    view = View(
        type="modal",
        callback_id=CallbackId.WINDOW_MODAL.value,
        title="Upgrade window",
        submit="Set window",
        close="Cancel",
        private_metadata=json.dumps({"plan_id": snap.id, "channel": channel}),
        blocks=[section(f"{_plan_line(snap)}. Times are in *UTC*."),
                *window_inputs(start=start, minutes=minutes)],
    )
    return view.to_dict()


def _reason_input(*, label: str, hint: str) -> InputBlock:
    return InputBlock(block_id=BlockId.DECISION_REASON.value, label=label, hint=hint,
                      element=PlainTextInputElement(action_id=ActionId.DECISION_REASON.value, multiline=True,
                                                    min_length=3, max_length=REASON_MAX))


def override_modal(snap: PlanSnapshot, *, needs: Sequence[str], channel: str) -> dict[str, Any]:
    """Approve over what the rules would refuse: every waived item named, and the reason asked for."""
    waived = "\n".join(f"• {safe.literal(need)}" for need in needs)
    view = View(
        type="modal", callback_id=CallbackId.OVERRIDE_MODAL.value, title="Approve with override",
        submit="Approve", close="Back",
        private_metadata=json.dumps({"plan_id": snap.id, "channel": channel}),
        blocks=[
            section(f"{_plan_line(snap)}.\n:warning: Approving now overrides:\n{truncate(waived, 2500)}"),
            _reason_input(label="Why approve anyway?",
                          hint="Audited and shown in the plan's thread, e.g. the alarm is a known lab issue"),
        ],
    )
    return view.to_dict()


def reject_modal(snap: PlanSnapshot, *, channel: str) -> dict[str, Any]:
    view = View(
        type="modal", callback_id=CallbackId.REJECT_MODAL.value, title="Reject the upgrade",
        submit="Reject", close="Back",
        private_metadata=json.dumps({"plan_id": snap.id, "channel": channel}),
        blocks=[
            section(f"{_plan_line(snap)}.\nRejecting cancels the plan; the channel is told why."),
            _reason_input(label="Why reject?", hint="Audited and announced in the channel"),
        ],
    )
    return view.to_dict()


def cancel_running_value(plan_id: int, reason: str) -> str:
    return CancelRunningButton(plan_id=plan_id, reason=reason[:_VALUE_REASON_MAX]).encode()


def cancel_running_prompt(snap: PlanSnapshot, *, reason: str) -> Message:
    """Asked (ephemerally) before cancelling a plan whose hop runs on the DMS."""
    text = (f":warning: *Cancel plan #{snap.id} while it is {snap.state.label}?*\n{_plan_line(snap)}.\n"
            f"{CANCEL_RUNNING_EFFECT}")
    button = ButtonElement(text="Cancel the upgrade", action_id=ActionId.CANCEL_RUNNING.value, style="danger",
                           value=cancel_running_value(snap.id, reason))
    blocks = [section(text), ActionsBlock(block_id=BlockId.CANCEL_CONFIRM.value, elements=[button])]
    return Message(text=f"Cancel plan #{snap.id} while it runs?", blocks=to_dicts(blocks))
