"""Block Kit builders for the plan message, the approval request and the window modal: pure functions
from a ``PlanSnapshot`` to blocks, built with ``slack_sdk.models.blocks`` (which validates Slack's limits).

Long content never breaks a message: lists are folded ("…and N more") to stay under 3000 characters a
section, checkboxes are split in groups of 10 options, and the whole message under 50 blocks.
Progress, check results and final results live in ``handlers.blocks.progress``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    CheckboxesElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    Option,
    PlainTextObject,
    SectionBlock,
)

from handlers import safe_text as safe
from handlers.blocks import notes as blocks_notes
from handlers.ids import ActionId, BlockId, checklist_action_id, checklist_phase
from workflow.approvals import overrides_needed
from workflow.model.checklist import Phase, short_name
from workflow.model.snapshot import ItemView, PlanSnapshot
from workflow.model.states import PlanState

MAX_BLOCKS = 50
SECTION_LIMIT = 3000
TEXT_BUDGET = 2900  # room for the "…and N more" line
OPTION_TEXT_LIMIT = 75
OPTIONS_PER_CHECKBOXES = 10
HEADER_LIMIT = 150
FALLBACK_LIMIT = 3000
CONFIRM_LIMIT = 300
# States in which the window can still be (re)set and a pre-check run by hand.
_WAITING = frozenset({PlanState.PLANNED, PlanState.SCHEDULED, PlanState.PRECHECKED, PlanState.BLOCKED})
STATE_EMOJI: dict[PlanState, str] = {
    PlanState.PLANNED: ":calendar:",
    PlanState.SCHEDULED: ":calendar:",
    PlanState.PRECHECKED: ":white_check_mark:",
    PlanState.AWAITING_APPROVAL: ":hourglass:",
    PlanState.EXECUTING: ":rocket:",
    PlanState.CANCELLING: ":hourglass_flowing_sand:",
    PlanState.VERIFYING: ":hourglass_flowing_sand:",
    PlanState.DONE: ":white_check_mark:",
    PlanState.CANCELLED: ":no_entry:",
    PlanState.BLOCKED: ":warning:",
    PlanState.FAILED: ":x:",
    PlanState.EXPIRED: ":no_entry:",
}


@dataclass(frozen=True)
class Message:
    """What ``chat.postMessage``/``chat.update`` take: the notification text and the blocks."""

    text: str
    blocks: list[dict[str, Any]]

    def kwargs(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def fold_lines(lines: list[str], *, budget: int = TEXT_BUDGET, empty: str = "_none_") -> str:
    """Join lines until the budget is spent; the rest becomes "…and N more"."""
    if not lines:
        return empty
    kept: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        line = truncate(line, budget // 2)
        if used + len(line) + 1 > budget - 40:
            kept.append(f"…and {len(lines) - index} more")
            break
        kept.append(line)
        used += len(line) + 1
    return "\n".join(kept)


def when(moment: datetime | None) -> str:
    return "not set" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def minutes_text(minutes: float) -> str:
    if 0 < minutes < 0.5:  # a fast hop (simulator) would otherwise read "done in 0m"
        return "<1m"
    total = round(minutes)
    hours, rest = divmod(total, 60)
    return f"{hours}h{rest:02d}m" if hours else f"{rest}m"


def span(low: float, high: float) -> str:
    low_text, high_text = minutes_text(low), minutes_text(high)
    return low_text if low_text == high_text else f"{low_text} to {high_text}"


def window_text(snap: PlanSnapshot) -> str:
    if snap.window_start is None or snap.window_end is None:
        return "not set"
    return f"{when(snap.window_start)} to {when(snap.window_end)}"


def section(text: str, *, block_id: str | None = None, accessory: Any = None) -> SectionBlock:
    return SectionBlock(block_id=block_id, text=MarkdownTextObject(text=truncate(text, SECTION_LIMIT)),
                        accessory=accessory)


def context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=truncate(text, SECTION_LIMIT))])


def to_dicts(blocks: list[Block]) -> list[dict[str, Any]]:
    return [block.to_dict() for block in blocks]


def simulated_mark(snap: PlanSnapshot) -> str:
    """Appended wherever a plan is named: a plan on a simulated DMS never reads like a real upgrade."""
    return " [SIMULATED DMS]" if snap.dms_simulated else ""


def title_line(snap: PlanSnapshot) -> str:
    return (f"Plan #{snap.id}: DMS {safe.name(snap.dms_name)}{simulated_mark(snap)} {versions(snap)} "
            f"({safe.name(snap.track)}) — {snap.state.label}")


def versions(snap: PlanSnapshot) -> str:
    """``current → target``, for mrkdwn."""
    return f"{safe.name(snap.current_version)} → {safe.name(snap.target_version)}"


# ---------------------------------------------------------------------------------------------- plan message


def _hop_lines(snap: PlanSnapshot) -> list[str]:
    lines = []
    for hop in snap.hops:
        # The catalog (RELEASE_CATALOG may be a local file) is data too: only an http(s) URL becomes a link.
        rule = safe.mrkdwn(hop.rule, limit=safe.NAME_LIMIT)
        if hop.rule_url and hop.rule_url.startswith(("https://", "http://")):
            rule = f"<{safe.escape(safe.clean(hop.rule_url).replace('|', '%7C'))}|{rule}>"
        minutes = f", ~{minutes_text(hop.minutes)}" if hop.minutes else ""
        lines.append(f"{hop.position + 1}. *{safe.name(hop.version)}* ({safe.name(hop.package)}{minutes}) — "
                     f"{rule}\n      file: {blocks_notes.package_file_text(hop)}")
        lines += blocks_notes.hop_warning_lines(snap, hop.position)  # a known issue next to its hop
    return lines


def _requirement_lines(snap: PlanSnapshot) -> list[str]:
    requirements = dict.fromkeys(req for hop in snap.hops for req in hop.requirements)
    checks = dict.fromkeys(check for hop in snap.hops for check in hop.checks)
    return ([f"• {safe.mrkdwn(req)}" for req in requirements]
            + [f"• check: {safe.mrkdwn(check)}" for check in checks])


def _estimate_lines(snap: PlanSnapshot) -> list[str]:
    if snap.estimate is None:
        return []
    phases = snap.estimate.phases
    lines = [f"• {safe.mrkdwn(phase.phase)}: {span(phase.low_minutes, phase.high_minutes)}"
             for phase in phases]
    lines.append(f"*Total: {span(snap.estimate.low_minutes, snap.estimate.high_minutes)}*")
    return lines


def _option(item: ItemView) -> Option:
    mark = "(auto) " if item.kind == "auto" else ""
    optional = "" if item.required else " (optional)"
    description = None
    if item.checked and item.checked_by:
        description = safe.plain(f"by {item.checked_by}" + (f": {item.detail}" if item.detail else ""),
                                 limit=OPTION_TEXT_LIMIT)
    elif item.detail:
        description = safe.plain(item.detail, limit=OPTION_TEXT_LIMIT)
    name = short_name(item.key)  # what `tick` takes, the same in every plan
    label = safe.plain(mark + (f"{name}: " if name else "") + item.title + optional, limit=OPTION_TEXT_LIMIT)
    return Option(value=item.key, text=PlainTextObject(text=label),
                  description=PlainTextObject(text=description) if description else None)


def checklist_groups(snap: PlanSnapshot) -> list[tuple[str, Phase, tuple[ItemView, ...]]]:
    """(action_id, phase, items) of every checkboxes element: one per phase, split by 10 options."""
    groups: list[tuple[str, Phase, tuple[ItemView, ...]]] = []
    for phase, items in snap.checklist_by_phase.items():
        for start in range(0, len(items), OPTIONS_PER_CHECKBOXES):
            part = start // OPTIONS_PER_CHECKBOXES
            action_id = checklist_action_id(phase.value if part == 0 else f"{phase.value}-{part + 1}")
            groups.append((action_id, phase, items[start:start + OPTIONS_PER_CHECKBOXES]))
    return groups


def checklist_items_for(snap: PlanSnapshot, action_id: str) -> tuple[ItemView, ...]:
    """The items behind a checkboxes element, by its action_id; ValueError if there is none."""
    checklist_phase(action_id)  # raises ValueError for anything that is not a checklist id
    for group_id, _, items in checklist_groups(snap):
        if group_id == action_id:
            return items
    raise ValueError(f"plan #{snap.id} has no checklist group {action_id!r}")


def checklist_block(action_id: str, *, plan_id: int) -> str:
    """``block_id`` of a checkboxes section: the action id and the plan (checkboxes carry no value)."""
    return f"{action_id}#{plan_id}"


def plan_of_checklist_block(block_id: str) -> int:
    """The plan id in a checklist ``block_id``; ValueError if it has none."""
    _, sep, number = block_id.rpartition("#")
    if not sep or not (number.isascii() and number.isdigit()):
        raise ValueError(f"not a checklist block id: {block_id!r}")
    return int(number)


def _checklist_blocks(snap: PlanSnapshot, *, room: int) -> list[Block]:
    groups = checklist_groups(snap)
    blocks: list[Block] = []
    for index, (action_id, phase, items) in enumerate(groups):
        if len(blocks) >= room - 1 and index < len(groups) - 1:
            rest = sum(len(group[2]) for group in groups[index:])
            blocks.append(context(f"…and {rest} more checklist items (see `/dm-upgrade status {snap.id}`)"))
            break
        checked = [_option(item) for item in items if item.checked]
        element = CheckboxesElement(action_id=action_id, options=[_option(item) for item in items],
                                    initial_options=checked or None)
        first = action_id == checklist_action_id(phase.value)
        label = f"*{phase.label}*" if first else f"*{phase.label}* (continued)"
        blocks.append(section(label, block_id=checklist_block(action_id, plan_id=snap.id), accessory=element))
    return blocks


def _plan_buttons(snap: PlanSnapshot) -> ActionsBlock | None:
    buttons: list[ButtonElement] = []
    if snap.state in _WAITING:
        value = str(snap.id)
        buttons.append(ButtonElement(text="Set window", action_id=ActionId.SET_WINDOW.value, value=value))
        buttons.append(ButtonElement(text="Run check now", action_id=ActionId.RUN_CHECK.value, value=value))
    running = snap.state in (PlanState.EXECUTING, PlanState.VERIFYING)
    if not snap.terminal and snap.state is not PlanState.CANCELLING:
        # While a hop runs the confirmation says what a cancel cannot do; its own action id, so a
        # click on an older message (confirmed with the old text) is asked again.
        effect = blocks_notes.CANCEL_RUNNING_EFFECT if running else "Nothing has changed on the DMS yet."
        buttons.append(ButtonElement(
            text="Cancel", action_id=(ActionId.CANCEL_RUNNING if running else ActionId.CANCEL).value,
            value=str(snap.id), style="danger",
            confirm=ConfirmObject(
                title="Cancel this upgrade?",
                text=truncate(f"Plan #{snap.id} ({versions(snap)}) will be cancelled. {effect}",
                              CONFIRM_LIMIT),
                confirm="Cancel the upgrade", deny="Keep it", style="danger",
            ),
        ))
    return ActionsBlock(block_id=BlockId.PLAN_ACTIONS.value, elements=buttons) if buttons else None


def plan_message(snap: PlanSnapshot, *, notes: Sequence[str] = ()) -> Message:
    """The interactive plan message, edited in place as the plan changes. ``notes``: what the plan's
    settings add (``handlers.blocks.notes.plan_notes``: who can approve, when the bot acts)."""
    emoji = STATE_EMOJI.get(snap.state, "")
    head: list[Block] = [
        HeaderBlock(block_id=BlockId.PLAN_HEADER.value,
                    text=safe.plain(f"Upgrade plan #{snap.id}: {snap.dms_name}{simulated_mark(snap)}",
                                    limit=HEADER_LIMIT)),
        section(
            f"*{safe.name(snap.current_version)}* → *{safe.name(snap.target_version)}* "
            f"(track: {safe.name(snap.track_label)})\n"
            f"{emoji} State: *{snap.state.label}*   ·   Requested by {safe.user(snap.requester)}\n"
            f"Window: {window_text(snap)}",
            block_id=BlockId.PLAN_STATUS.value,
        ),
        *[section(text) for text in (fold_lines(blocks_notes.plan_warning_lines(snap), empty=""),
                                      "\n".join(notes)) if text],
        DividerBlock(),
        section(f"*Upgrade path* ({len(snap.hops)} hop{'s' if len(snap.hops) != 1 else ''})\n"
                + fold_lines(_hop_lines(snap), budget=TEXT_BUDGET - 40)),
        section("*Requirements and prerequisite checks*\n"
                + fold_lines(_requirement_lines(snap), budget=TEXT_BUDGET - 60)),
        section("*Time estimate per MOP phase*\n" + fold_lines(_estimate_lines(snap), budget=TEXT_BUDGET - 60,
                                                               empty="_no estimate_")),
    ]
    if snap.precheck is not None:
        verdict = "passed" if snap.precheck.passed else f"failed ({len(snap.precheck.failed)} problem(s))"
        head.append(context(f"Last pre-upgrade check {verdict}, {when(snap.precheck.finished_at)}"))
    head.append(DividerBlock())
    tail: list[Block] = []
    buttons = _plan_buttons(snap)
    if buttons is not None:
        tail.append(buttons)
    room = MAX_BLOCKS - len(head) - len(tail)
    blocks = head + _checklist_blocks(snap, room=room) + tail
    return Message(text=truncate(title_line(snap), FALLBACK_LIMIT), blocks=to_dicts(blocks))


# -------------------------------------------------------------------------------------------- approval


def approval_request(snap: PlanSnapshot, *, approvers: tuple[str, ...]) -> Message:
    who = ", ".join(safe.user(user) for user in approvers[:20]) or "an upgrade approver"
    if len(approvers) > 20:
        who += f" …and {len(approvers) - 20} more"
    # Redrawn when a later check passes, so a stale warning disappears.
    needs = overrides_needed(snap)
    detail = ""
    if needs:
        listed = "\n".join(f"• {safe.mrkdwn(need)}" for need in needs[:10])
        if len(needs) > 10:
            listed += f"\n• …and {len(needs) - 10} more (the plan message lists every open item)"
        detail = f"\n:warning: Approving needs an override reason (the Approve button asks for it):\n{listed}"
    text = (f":lock: *Approval needed* for plan #{snap.id}: {versions(snap)} on {safe.name(snap.dms_name)}."
            f"\nThe window is open ({window_text(snap)}). Approvers: {who}{detail}")
    # The override and reject forms are confirmations of their own (with a Back button): no dialog first.
    confirm = None if needs else ConfirmObject(
        title="Approve the upgrade?",
        text=truncate(f"The bot upgrades {safe.name(snap.dms_name)} to {safe.name(snap.target_version)} now.",
                      CONFIRM_LIMIT),
        confirm="Approve", deny="Not yet")
    buttons = ActionsBlock(block_id=BlockId.APPROVAL_ACTIONS.value, elements=[
        ButtonElement(text="Approve", action_id=ActionId.APPROVE.value, value=str(snap.id), style="primary",
                      confirm=confirm),
        ButtonElement(text="Reject", action_id=ActionId.REJECT.value, value=str(snap.id), style="danger"),
    ])
    return Message(text=f"Approval needed for plan #{snap.id}", blocks=to_dicts([section(text), buttons]))


def approval_decided(snap: PlanSnapshot) -> Message:
    """The approval request after the decision: the buttons replaced by who decided, and when."""
    decision = snap.approval
    if decision is None:
        return approval_closed(snap, why=f"the plan is {snap.state.label}")
    if decision.decision == "approved":
        line = f":white_check_mark: *Approved* by {safe.user(decision.actor)} at {when(decision.decided_at)}"
        if decision.override:
            line += f"\nOverride reason: {safe.mrkdwn(decision.reason)}"
    else:
        line = (f":x: *Rejected* by {safe.user(decision.actor)} at {when(decision.decided_at)}: "
                f"{safe.mrkdwn(decision.reason)}")
    return Message(text=f"Plan #{snap.id} {decision.decision} by {safe.user(decision.actor)}",
                   blocks=to_dicts([section(line, block_id=BlockId.APPROVAL_DECISION.value)]))


def approval_closed(snap: PlanSnapshot, *, why: str) -> Message:
    line = f":no_entry: Approval for plan #{snap.id} is no longer possible: {why}"
    return Message(text=line, blocks=to_dicts([section(line, block_id=BlockId.APPROVAL_DECISION.value)]))
