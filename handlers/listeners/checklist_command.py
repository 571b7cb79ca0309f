"""``/dm-upgrade tick <id> <item> ...`` (and ``untick``): checklist items by their short names.

A name is the same in every plan (``workflow.model.checklist.SHORT_NAMES``), so a runbook that ticks
``backup`` works whatever number the item has in this plan. Every name is looked up before anything is
ticked: one unknown name changes nothing. The engine checks who may tick what, as for a checkbox click.
"""

from __future__ import annotations

from handlers import safe_text as safe
from handlers.listeners.command_parser import TickCommand
from workflow.engine import UpgradeEngine
from workflow.model.checklist import SHORT_NAMES, key_named, short_name
from workflow.model.errors import UserError


async def tick_named(engine: UpgradeEngine, command: TickCommand, *, actor: str) -> str:
    """Tick (or untick) the named items of the plan; the answer names them. UserError for an unknown one."""
    snap = await engine.read_status(plan_id=command.plan_id)
    keys = [item.key for item in snap.checklist]
    chosen: list[str] = []
    for name in command.items:
        key = key_named(name, keys=keys)
        if key is None:
            known = ", ".join(f"`{n}`" for n in SHORT_NAMES.values() if key_named(n, keys=keys))
            raise UserError(f"Plan #{snap.id} has no checklist item `{safe.clean(name, limit=100)}`. "
                            f"Its items' short names: {known}")
        chosen.append(key)
    for key in dict.fromkeys(chosen):
        await engine.tick(plan_id=snap.id, key=key, actor=actor, checked=command.checked)
    done = ", ".join(short_name(key) or key for key in dict.fromkeys(chosen))
    return f"{'Ticked' if command.checked else 'Unticked'} {done} on plan #{snap.id}."
