"""The watch driver's messages: one Cube step at a time, with the "Done in Cube" button that confirms it.

The button's value names the plan, the hop and the step (``<plan>:<hop index>:<step>``), so a click on an
old message confirms exactly what it showed; the engine refuses a step already confirmed or not asked for.
"""

from __future__ import annotations

from datetime import datetime

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement

from handlers import safe_text as safe
from handlers.blocks import Message, section, simulated_mark, to_dicts, truncate, when
from handlers.ids import ActionId
from workflow.store.snapshot import PlanSnapshot

STEP_TITLES = {"upload": "Upload only", "upgrade": "Upgrade"}


def role(hop_index: int, step: str) -> str:
    """The message role of one step (edited in place when it is confirmed)."""
    return f"cube-{hop_index}-{step}"


def button_value(plan_id: int, hop_index: int, step: str) -> str:
    return f"{plan_id}:{hop_index}:{step}"


def parse_button_value(value: str) -> tuple[int, int, str]:
    """``<plan>:<hop index>:<step>``; ValueError for anything else."""
    plan, hop, step = value.split(":")
    if not (plan.isdigit() and hop.isdigit() and step in STEP_TITLES):
        raise ValueError(value)
    return int(plan), int(hop), step


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
