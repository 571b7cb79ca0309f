"""The campaign card: a campaign planned dry (``CampaignPlan``) as Block Kit, pure.

One section per wave (each DMS with its version, its own path, estimate and proposed window), the soak
between waves, the known issues met on any path (once each, with where), the campaign-wide notes and the
earliest end. The card says that nothing is stored or booked: the windows are proposals. DMS names and the
versions a DMS reported go through ``safe.mrkdwn``; the catalog's own text through ``safe.literal``.
The CLI prints the same card through ``handlers.blocks.render``.
"""

from __future__ import annotations

from slack_sdk.models.blocks import Block, HeaderBlock, PlainTextObject

from dms.upgrade_path import Hop, PathWarning, WarningKind
from handlers import safe_text as safe
from handlers.blocks import notes as blocks_notes
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
from handlers.ids import SLASH_COMMAND
from workflow.model.campaign import CampaignDms, CampaignPlan, KnownIssue, Wave

DRY_RUN = ("Dry run: nothing is stored, approved or started. The windows are proposed (the earliest "
           "possible), not booked.")


def duration(minutes: int) -> str:
    """A soak as people write it: ``90m``, ``1h30m``, ``24h``, ``36h``, ``2d``."""
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest}m"
    if rest:
        return f"{hours}h{rest}m"
    return f"{hours // 24}d" if hours >= 48 and hours % 24 == 0 else f"{hours}h"


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
    soak = duration(campaign.soak_minutes) + ("" if campaign.soak_given else " (the default)")
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
        f"Each DMS can be planned today with `{SLASH_COMMAND} plan {campaign.target} on <dms> at "
        "<YYYY-MM-DD HH:MM>`; approving and running the campaign as one is not built yet.")))
    text = f"{title(campaign)}, earliest end {when(campaign.end)} (dry run, windows proposed)"
    return Message(text=text, blocks=to_dicts(blocks))
