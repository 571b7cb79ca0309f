"""Block Kit for the decisions that need more than a click: the override-reason modal (approving
over a failed pre-check, open items or a window shorter than the estimate), the reject-reason modal, and the
confirmation of a cancel while a hop runs. Pure functions, built with ``slack_sdk.models``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, ButtonElement, InputBlock, PlainTextInputElement
from slack_sdk.models.views import View

from handlers import safe_text as safe
from handlers.blocks.notes import CANCEL_RUNNING_EFFECT
from handlers.blocks.plan import Message, section, to_dicts, truncate
from handlers.button_values import CancelRunningButton
from handlers.ids import ActionId, BlockId, CallbackId
from workflow.model.snapshot import PlanSnapshot

REASON_MAX = 1000
# The reason travels in the confirmation button's value (2000 characters at most) after the plan id.
_VALUE_REASON_MAX = 1500


def _plan_line(snap: PlanSnapshot) -> str:
    where = safe.name(snap.dms_name)
    return f"Plan #{snap.id}: {snap.current_version} → {snap.target_version} on {where}"


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
