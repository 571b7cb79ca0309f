"""A person's steps in DataMiner Cube, each with the button that reports it.

* The watch driver's steps, one at a time, with "Done in Cube". The button's value names the plan, the hop
  and the step (``<plan>:<hop index>:<step>``), so a click on an old message confirms exactly what it
  showed; the engine refuses a step already confirmed or not asked for.
* The day-before *Upload only* (both drivers: no documented automation has it), with "Done in Cube: checks
  passed" and "Checks failed", which opens a modal for what Cube reported.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, InputBlock, PlainTextInputElement
from slack_sdk.models.views import View

from handlers import safe_text as safe
from handlers.blocks.plan import Message, section, simulated_mark, to_dicts, truncate, when
from handlers.button_values import CubeStepButton
from handlers.ids import ActionId, BlockId, CallbackId
from workflow.model.snapshot import PlanSnapshot

STEP_TITLES = {"upload": "Upload only", "upgrade": "Upgrade"}


def role(hop_index: int, step: str) -> str:
    """The message role of one step (edited in place when it is confirmed)."""
    return f"cube-{hop_index}-{step}"


def button_value(plan_id: int, hop_index: int, step: str) -> str:
    return CubeStepButton(plan_id=plan_id, hop_index=hop_index, step=step).encode()


def _head(snap: PlanSnapshot, hop_index: int, step: str) -> str:
    hop = snap.hops[hop_index] if 0 <= hop_index < len(snap.hops) else None
    version = f" to {hop.version}" if hop is not None else ""
    return (f"Hop {hop_index + 1}/{len(snap.hops)}{version}, step *{STEP_TITLES.get(step, step)}* in "
            f"DataMiner Cube (plan #{snap.id}, {snap.dms_name}{simulated_mark(snap)})")


def step_request(
    snap: PlanSnapshot, *, hop_index: int, step: str, instructions: tuple[str, ...], deadline: datetime
) -> Message:
    lines = "\n".join(f"{n}. {safe.literal(line)}" for n, line in enumerate(instructions, start=1))
    text = (f":bust_in_silhouette: {_head(snap, hop_index, step)}\n{lines}\n"
            f"Click *Done in Cube* by {when(deadline)}; until then the bot waits.")
    blocks: list[Block] = [
        section(truncate(text, 2900)),
        ActionsBlock(elements=[ButtonElement(
            text="Done in Cube", action_id=ActionId.CUBE_DONE.value, style="primary",
            value=button_value(snap.id, hop_index, step))]),
    ]
    return Message(text=f"Plan #{snap.id}: {STEP_TITLES.get(step, step)} in Cube, hop {hop_index + 1}",
                   blocks=to_dicts(blocks))


def step_confirmed(snap: PlanSnapshot, *, hop_index: int, step: str, actor: str) -> Message:
    text = f":white_check_mark: {_head(snap, hop_index, step)}: done in Cube, confirmed by <@{actor}>."
    return Message(text=f"Plan #{snap.id}: {STEP_TITLES.get(step, step)} confirmed by <@{actor}>",
                   blocks=to_dicts([section(text)]))


UPLOAD_ONLY_ROLE = "upload-only"  # one message per plan, edited when a person reports
REPORT_MAX = 1000


def upload_only_request(snap: PlanSnapshot, *, file: str, instructions: tuple[str, ...]) -> Message:
    lines = "\n".join(f"{n}. {safe.literal(line)}" for n, line in enumerate(instructions, start=1))
    text = (f":bust_in_silhouette: *Upload only* of `{safe.literal(file)}` in DataMiner Cube, before the "
            f"window (plan #{snap.id}, {safe.name(snap.dms_name)}{simulated_mark(snap)}). Not checked by the "
            f"bot: no documented automation has Upload only.\n{lines}\n"
            "The approval waits for this report, or for an override reason.")
    value = str(snap.id)
    blocks: list[Block] = [
        section(truncate(text, 2900)),
        ActionsBlock(elements=[
            ButtonElement(text="Done in Cube: checks passed", action_id=ActionId.UPLOAD_PASSED.value,
                          style="primary", value=value),
            ButtonElement(text="Checks failed", action_id=ActionId.UPLOAD_FAILED.value, style="danger",
                          value=value),
        ]),
    ]
    return Message(text=f"Plan #{snap.id}: Upload only of {file} in Cube, then report it here",
                   blocks=to_dicts(blocks))


def upload_only_reported(
    snap: PlanSnapshot, *, file: str, actor: str, passed: bool, report: str
) -> Message:
    if passed:
        text = (f":white_check_mark: *Upload only* of `{safe.literal(file)}` (plan #{snap.id}): prerequisite "
                f"checks passed in Cube, confirmed by {safe.user(actor)}.")
    else:
        text = (f":x: *Upload only* of `{safe.literal(file)}` (plan #{snap.id}): prerequisite checks failed "
                f"in Cube, reported by {safe.user(actor)}: {safe.mrkdwn(report, limit=REPORT_MAX)}")
    return Message(text=f"Plan #{snap.id}: Upload only {'passed' if passed else 'failed'} in Cube",
                   blocks=to_dicts([section(truncate(text, 2900))]))


def upload_failed_modal(snap: PlanSnapshot, *, channel: str) -> dict[str, Any]:
    view = View(
        type="modal", callback_id=CallbackId.UPLOAD_FAILED_MODAL.value, title="Upload only failed",
        submit="Report", close="Back",
        private_metadata=json.dumps({"plan_id": snap.id, "channel": channel}),
        blocks=[
            section(f"Plan #{snap.id} on {safe.name(snap.dms_name)}: the report blocks the plan until Upload "
                    "only passes (or an approver overrides)."),
            InputBlock(block_id=BlockId.DECISION_REASON.value, label="What did Cube report?",
                       hint="Which prerequisite check failed, and its message; audited, shown in the thread",
                       element=PlainTextInputElement(action_id=ActionId.DECISION_REASON.value, multiline=True,
                                                     min_length=3, max_length=REPORT_MAX)),
        ],
    )
    return view.to_dict()
