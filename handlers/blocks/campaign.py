"""The campaign card: a campaign planned dry (``CampaignPlan``) as Block Kit, pure; and a stored campaign
(``CampaignView``) with its buttons (approve, halt, resume, skip a DMS, abort) and the modal they open.

One section per wave (each DMS with its version, its own path, estimate and proposed window), the soak
between waves, the known issues met on any path (once each, with where), the campaign-wide notes and the
earliest end. The card says that nothing is stored or booked: the windows are proposals. DMS names and the
versions a DMS reported go through ``safe.mrkdwn``; the catalog's own text through ``safe.literal``.
The CLI prints the same card through ``handlers.blocks.render``.
"""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    HeaderBlock,
    InputBlock,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from dms.upgrade_path import Hop, PathWarning, WarningKind
from handlers import safe_text as safe
from handlers.blocks import notes as blocks_notes
from handlers.blocks.decisions import window_inputs
from handlers.blocks.plan import (
    HEADER_LIMIT,
    Message,
    context,
    fold_lines,
    section,
    span,
    to_dicts,
    truncate,
    when,
)
from handlers.button_values import CampaignButton
from handlers.ids import SLASH_COMMAND, ActionId, BlockId, CallbackId
from workflow.model.campaign import CampaignDms, CampaignPlan, KnownIssue, Wave
from workflow.model.campaign_states import CampaignState, MemberState
from workflow.model.campaign_view import CampaignView, MemberView
from workflow.model.text import duration_written

DRY_RUN = ("Dry run: nothing is stored, approved or started. The windows are proposed (the earliest "
           "possible), not booked.")


def _hop(hop: Hop) -> str:
    return f"{safe.mrkdwn(str(hop.version))} ({hop.package.value})"


def _dms_lines(item: CampaignDms) -> list[str]:
    name, current = safe.mrkdwn(item.name), safe.mrkdwn(str(item.current))
    hops = ", ".join(_hop(hop) for hop in item.hops)
    count = f"{len(item.hops)} hop{'s' if len(item.hops) != 1 else ''}"
    estimate, execution = item.estimate, item.estimate.execution
    lines = [
        f"• *{name}* ({item.agents} agent{'s' if item.agents != 1 else ''}) on {current}: {count}: {hops}",
        f"    estimate {span(estimate.low_minutes, estimate.high_minutes)} in all, the upgrade itself "
        f"{span(execution.low_minutes, execution.high_minutes)}; proposed window {when(item.window_start)} "
        f"to {when(item.window_end)}",
    ]
    return lines + [f"    {blocks_notes.warning_line(warning)}" for warning in item.warnings]


def _wave_text(wave: Wave) -> str:
    title = f"*Wave {wave.number}*: {when(wave.start)} to {when(wave.end)}"
    return fold_lines([title, *[line for item in wave.dms for line in _dms_lines(item)]])


def _issue_line(issue: KnownIssue) -> str:
    warning = PathWarning(kind=WarningKind.KNOWN_ISSUE, text=issue.text, url=issue.url)
    line = blocks_notes.warning_line(warning)
    return f"{line} On: {safe.mrkdwn('; '.join(issue.where))}"


def title(campaign: CampaignPlan) -> str:
    count, waves = len(campaign.dms), len(campaign.waves)
    return (f"Campaign to {campaign.target}: {count} DMS{'s' if count != 1 else ''} in {waves} "
            f"wave{'s' if waves != 1 else ''}")


def campaign_card(campaign: CampaignPlan) -> Message:
    soak = duration_written(campaign.soak_minutes) + ("" if campaign.soak_given else " (the default)")
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=truncate(safe.plain(title(campaign)), HEADER_LIMIT))),
        context(f":calendar: Planned {when(campaign.planned_at)}. {DRY_RUN}"),
    ]
    for wave in campaign.waves:
        blocks.append(section(_wave_text(wave)))
        if wave.number < len(campaign.waves):
            blocks.append(context(f":hourglass: Soak {soak} after wave {wave.number}, then wave "
                                  f"{wave.number + 1}"))
    if campaign.known_issues:
        issues = fold_lines([_issue_line(issue) for issue in campaign.known_issues])
        blocks.append(section(f"*Known issues on the paths*\n{issues}"))
    if campaign.notes:
        blocks.append(context(fold_lines([blocks_notes.warning_line(note) for note in campaign.notes])))
    between = f"; soak {soak} between waves" if len(campaign.waves) > 1 else ""
    blocks.append(section(f"*Earliest end:* {when(campaign.end)} (the last wave's windows{between})"))
    blocks.append(context(safe.literal(
        f"To store and run it, send `{SLASH_COMMAND} campaign {campaign.target} on <dms> ...` in Slack or "
        "the console: its card there has the buttons to approve, halt, resume, skip a DMS and abort it.")))
    text = f"{title(campaign)}, earliest end {when(campaign.end)} (dry run, windows proposed)"
    return Message(text=text, blocks=to_dicts(blocks))


def planned(campaign: CampaignPlan) -> list[Block]:
    """What planning found, for a stored campaign's thread: each wave's DMSs with their own paths and
    estimates, the known issues on any path, the notes and the earliest end."""
    blocks: list[Block] = [section(_wave_text(wave)) for wave in campaign.waves]
    if campaign.known_issues:
        issues = fold_lines([_issue_line(issue) for issue in campaign.known_issues])
        blocks.append(section(f"*Known issues on the paths*\n{issues}"))
    if campaign.notes:
        blocks.append(context(fold_lines([blocks_notes.warning_line(note) for note in campaign.notes])))
    blocks.append(section(f"*Earliest end:* {when(campaign.end)} (the last wave's windows, after the soaks)"))
    return blocks


# ------------------------------------------------------------------ a stored campaign

# What each button does, said on the modal it opens (the reason is audited with it).
_EFFECT = {
    ActionId.CAMPAIGN_HALT: "Halting stops the campaign from approving plans and starting waves; an upgrade "
                            "already running on a DMS goes on.",
    ActionId.CAMPAIGN_RESUME: "Resuming goes back where the campaign was halted. From a soak, what the soak "
                              "found is accepted and the soak starts again; a DMS whose plan ended without "
                              "the upgrade is planned again.",
    ActionId.CAMPAIGN_SKIP: "Skipping takes the DMS out of the campaign; its plan is cancelled if it still "
                            "waits. A DMS whose upgrade runs cannot be skipped.",
    ActionId.CAMPAIGN_ABORT: "Aborting ends the campaign: every plan of it that still waits is cancelled; an "
                             "upgrade already running goes on to its end.",
    ActionId.CAMPAIGN_MOVE: "A DMS whose wave has not started gets its plan for the new window. Times are in "
                            "UTC; without a duration the window keeps its length.",
}
_REQUIRED = frozenset({ActionId.CAMPAIGN_RESUME, ActionId.CAMPAIGN_SKIP})
_TITLES = {ActionId.CAMPAIGN_HALT: "Halt the campaign", ActionId.CAMPAIGN_RESUME: "Resume the campaign",
           ActionId.CAMPAIGN_SKIP: "Skip a DMS", ActionId.CAMPAIGN_ABORT: "Abort the campaign",
           ActionId.CAMPAIGN_MOVE: "Move a window"}
REASON_MAX = 1000


def skippable(view: CampaignView) -> tuple[str, ...]:
    """The DMSs a person could still skip (the engine decides; a running one is refused there)."""
    if view.state.terminal:
        return ()
    return tuple(m.name for m in view.members if m.state in (MemberState.WAITING, MemberState.PLANNED,
                                                               MemberState.STOPPED))


def movable(view: CampaignView) -> tuple[str, ...]:
    """The DMSs whose window may still move here: their wave has not started (the engine decides)."""
    if view.state.terminal:
        return ()
    return tuple(m.name for m in view.members if m.state is MemberState.WAITING)


def _member_line(member: MemberView, *, target: str) -> list[str]:
    plan = f", plan #{member.plan_id}" if member.plan_id is not None else ""
    lines = [f"• *{safe.mrkdwn(member.name)}* {safe.mrkdwn(member.current_version)} → {safe.mrkdwn(target)}: "
             f"{member.state.value}{plan}; window {when(member.window_start)} to {when(member.window_end)}"]
    if member.skip_reason:
        lines.append(f"    skipped (a person confirmed): {safe.mrkdwn(member.skip_reason)}")
    elif member.note:
        lines.append(f"    {safe.mrkdwn(member.note)}")
    lines.extend(f"    :x: {safe.mrkdwn(found.title)}: {safe.mrkdwn(found.detail)} ({found.source.value})"
                 for found in member.regressions if found.source is not None)
    return lines


def _buttons(view: CampaignView) -> ActionsBlock | None:
    value = CampaignButton(campaign_id=view.id).encode()
    wanted: list[ActionId] = []
    if view.state is CampaignState.PROPOSED:
        wanted.append(ActionId.CAMPAIGN_APPROVE)
    elif view.state in (CampaignState.APPROVED, CampaignState.WAVE_RUNNING, CampaignState.SOAKING):
        wanted.append(ActionId.CAMPAIGN_HALT)
    elif view.state is CampaignState.HALTED:
        wanted.append(ActionId.CAMPAIGN_RESUME)
    if skippable(view) and view.state is not CampaignState.PROPOSED:
        wanted.append(ActionId.CAMPAIGN_SKIP)
    if movable(view):
        wanted.append(ActionId.CAMPAIGN_MOVE)
    if not view.state.terminal:
        wanted.append(ActionId.CAMPAIGN_ABORT)
    if not wanted:
        return None
    labels = {ActionId.CAMPAIGN_APPROVE: "Approve the campaign", ActionId.CAMPAIGN_HALT: "Halt",
              ActionId.CAMPAIGN_RESUME: "Resume…", ActionId.CAMPAIGN_SKIP: "Skip a DMS…",
              ActionId.CAMPAIGN_ABORT: "Abort…", ActionId.CAMPAIGN_MOVE: "Move a window…"}
    elements = []
    for action in wanted:
        style = "primary" if action is ActionId.CAMPAIGN_APPROVE else (
            "danger" if action is ActionId.CAMPAIGN_ABORT else None)
        confirm = ConfirmObject(title="Approve the campaign?", confirm="Approve", deny="Back", text=(
            "Each DMS's plan is then approved in your name once its window opens and its pre-check "
            "passed.")) if action is ActionId.CAMPAIGN_APPROVE else None
        elements.append(ButtonElement(text=labels[action], action_id=action.value, value=value, style=style,
                                      confirm=confirm))
    return ActionsBlock(block_id=BlockId.CAMPAIGN_ACTIONS.value, elements=elements)


def stored_card(view: CampaignView) -> Message:
    """A stored campaign: its status, each wave's DMSs with their plans and findings, and its buttons."""
    heading = f"Campaign #{view.id} to {view.target}: {view.status.label}"
    approval = (f"approved by {safe.user(view.approved_by)} {when(view.approved_at)}" if view.approved_by
                else "not approved yet")
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=truncate(safe.plain(heading), HEADER_LIMIT))),
        context(f"Requested by {safe.user(view.requester)}; {approval}; "
                f"soak {duration_written(view.soak_minutes)} after each wave"),
    ]
    if view.state is CampaignState.SOAKING:
        blocks.append(context(f":hourglass: Soaking until {when(view.soak_until)}; the bot checks the "
                              f"upgraded DMSs again at {when(view.next_check_at)}"))
    if view.halt_reason:
        blocks.append(section(f":octagonal_sign: *Halted:* {safe.mrkdwn(view.halt_reason, one_line=False)}"))
    for wave in range(1, view.waves + 1):
        members = view.wave_members(wave)
        lines = [line for member in members for line in _member_line(member, target=view.target)]
        blocks.append(section(fold_lines([f"*Wave {wave}*", *lines])))
    buttons = _buttons(view)
    if buttons is not None:
        blocks.append(buttons)
    return Message(text=f"{heading} ({view.waves} waves)", blocks=to_dicts(blocks))


def campaign_modal(view: CampaignView, *, action: ActionId, channel: str) -> dict[str, Any]:
    """The reason (required to resume and to skip); to skip or move a window, which DMS; to move it, the
    new start and length. The engine decides."""
    required = action in _REQUIRED
    blocks: list[Block] = [section(f"Campaign #{view.id} to {safe.mrkdwn(view.target)}, "
                                   f"{view.status.label}.\n{_EFFECT[action]}")]
    if action in (ActionId.CAMPAIGN_SKIP, ActionId.CAMPAIGN_MOVE):
        names = skippable(view) if action is ActionId.CAMPAIGN_SKIP else movable(view)
        options = [Option(text=safe.plain(name, limit=75), value=name) for name in names[:100]]
        blocks.append(InputBlock(block_id=BlockId.CAMPAIGN_SKIP_DMS.value, label="Which DMS?",
                                 element=StaticSelectElement(action_id=ActionId.CAMPAIGN_SKIP_DMS.value,
                                                             options=options)))
    if action is ActionId.CAMPAIGN_MOVE:
        blocks.extend(window_inputs(duration_hint="Like 4h, 90m or 2h30m; empty keeps the window's length"))
    blocks.append(InputBlock(
        block_id=BlockId.CAMPAIGN_REASON.value, label="Why?", optional=not required,
        hint="Audited" + ("" if required else "; optional"),
        element=PlainTextInputElement(action_id=ActionId.CAMPAIGN_REASON.value, multiline=True,
                                      min_length=3 if required else None, max_length=REASON_MAX)))
    modal = View(type="modal", callback_id=CallbackId.CAMPAIGN_MODAL.value, title=_TITLES[action],
                 submit="Confirm", close="Back", blocks=blocks, private_metadata=json.dumps(
                     {"campaign_id": view.id, "action": action.value, "channel": channel}))
    return modal.to_dict()
