"""The App Home tab (``views.publish``) as Block Kit: pure builders from ``workflow.home.HomeView``.

Text from people or a DMS (DMS names, versions, checklist titles) is escaped before it goes into mrkdwn;
user ids become mentions. A tab holds at most 100 blocks, so each list shows its first few entries and
says how many more there are.
"""

from __future__ import annotations

import re
from typing import Any

from handlers import safe_text as safe
from handlers.blocks.plan import STATE_EMOJI, truncate, when
from handlers.ids import ActionId
from workflow.home import HomeCampaign, HomePlan, HomeView
from workflow.model.campaign_states import CampaignState
from workflow.model.campaign_view import CampaignView

MAX_PER_LIST = 6  # four lists of (section + actions) stay well inside the tab's 100 blocks
SECTION_LIMIT = 3000
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,30}$")
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,30}$")


def who(user: str) -> str:
    return safe.user(user)


def _section(text: str, *, accessory: dict[str, Any] | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section",
                             "text": {"type": "mrkdwn", "text": truncate(text, SECTION_LIMIT)}}
    if accessory is not None:
        block["accessory"] = accessory
    return block


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": truncate(text, 150)}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(text, SECTION_LIMIT)}]}


def _button(text: str, *, action_id: str, value: str, url: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {"type": "button", "text": {"type": "plain_text", "text": text},
                              "action_id": action_id, "value": value}
    if url:
        button["url"] = url
    return button


def _plan_line(item: HomePlan) -> str:
    s = item.snapshot
    emoji = STATE_EMOJI.get(s.state, "")
    return (f"{emoji} *Plan #{s.id}* on *{safe.name(s.dms_name)}*: {safe.name(s.current_version)} → "
            f"{safe.name(s.target_version)} — {s.state.label}")


def _plan_blocks(item: HomePlan, detail: str, *, links: dict[int, str]) -> list[dict[str, Any]]:
    plan_id = item.snapshot.id
    link = links.get(plan_id)
    accessory = _button("Open thread", action_id=ActionId.HOME_THREAD.value, value=str(plan_id),
                        url=link) if link else None
    blocks = [_section(f"{_plan_line(item)}\n{detail}", accessory=accessory)]
    if item.may_check:
        blocks.append({"type": "actions", "elements": [
            _button("Run pre-check", action_id=ActionId.HOME_CHECK.value, value=str(plan_id))]})
    return blocks


def _listed(
    items: tuple[HomePlan, ...], detail: Any, *, links: dict[int, str], empty: str
) -> list[dict[str, Any]]:
    if not items:
        return [_context(empty)]
    blocks: list[dict[str, Any]] = []
    for item in items[:MAX_PER_LIST]:
        blocks += _plan_blocks(item, detail(item), links=links)
    if len(items) > MAX_PER_LIST:
        blocks.append(_context(f"…and {len(items) - MAX_PER_LIST} more: `/dm-upgrade history`"))
    return blocks


def _upcoming(item: HomePlan) -> str:
    s = item.snapshot
    return (f"Window: {when(s.window_start)} · requested by {who(s.requester)} · approval: {item.approval}")


def _executing(item: HomePlan) -> str:
    s = item.snapshot
    return f"Hop {min(item.hops_done + 1, len(s.hops))}/{len(s.hops)} · ETA {when(s.eta)}"


def _result(item: HomePlan) -> str:
    return f"Ended {when(item.snapshot.updated_at)} · requested by {who(item.snapshot.requester)}"


def _where(view: CampaignView) -> str:
    return f"<#{view.channel}>" if _CHANNEL_ID.match(view.channel) else safe.name(view.channel)


def campaign_waits(view: CampaignView) -> str:
    """What a campaign waits on, and on whom, as its stored state says."""
    state, wave = view.state, view.wave
    if state is CampaignState.PROPOSED:
        return "an approver's approval (*Approve the campaign* on its card)"
    if state is CampaignState.APPROVED:
        return "the bot: wave 1 starts at its next pass"
    if state is CampaignState.SOAKING:
        return (f"the soak of wave {wave} until {when(view.soak_until)}; the bot checks the upgraded DMSs "
                f"again at {when(view.next_check_at)}")
    if state is CampaignState.HALTED:
        return (f"an approver to resume it (*Resume…* on its card, with a reason), or anyone to abort it. "
                f"{safe.mrkdwn(view.halt_reason, limit=300)}")
    waiting = [f"{safe.name(m.name)}: {safe.mrkdwn(m.note or m.state.value, limit=200)}"
               for m in view.wave_members(wave) if not m.state.settled]
    return f"wave {wave}'s DMSs: " + "; ".join(waiting) if waiting else "the bot: the wave soaks next"


def _campaign_blocks(campaigns: tuple[HomeCampaign, ...]) -> list[dict[str, Any]]:
    if not campaigns:
        return [_context("No campaign is under way.")]
    blocks = [_section(f"*Campaign #{c.view.id}* to {safe.name(c.view.target)} — {c.view.status.label} "
                       f"(card in {_where(c.view)})\nWaits on {campaign_waits(c.view)}")
              for c in campaigns[:MAX_PER_LIST]]
    if len(campaigns) > MAX_PER_LIST:
        blocks.append(_context(f"…and {len(campaigns) - MAX_PER_LIST} more under way"))
    return blocks


def _yours(item: HomeCampaign) -> str:
    view = item.view
    what = ("your approval: *Approve the campaign* on its card" if view.state is CampaignState.PROPOSED
            else "you to resume it (*Resume…* on its card, with a reason), or an abort")
    return f"*Campaign #{view.id}* to {safe.name(view.target)} waits on {what} in {_where(view)}."


def home_view(home: HomeView, *, links: dict[int, str], notice: str | None = None) -> dict[str, Any]:
    """The ``view`` for ``views.publish``; ``links``: plan id -> permalink of the plan's message."""
    blocks: list[dict[str, Any]] = [_header("DataMiner upgrades"),
                                    _context(f"For {who(home.user)} · as of {when(home.now)} · times in UTC")]
    if notice:
        blocks.append(_section(f":information_source: {safe.literal(notice)}"))
    blocks += [{"type": "divider"}, _header("Waiting on you")]
    yours = [item for item in home.campaigns if item.yours]
    if not home.approvals and not home.manual_items and not yours:
        blocks.append(_context("Nothing waits on you."))
    blocks += [_section(_yours(item)) for item in yours[:MAX_PER_LIST]]
    for item in home.approvals[:MAX_PER_LIST]:
        blocks += _plan_blocks(item, "Your approval is requested: approve or reject in the plan's thread.",
                               links=links)
    if len(home.approvals) > MAX_PER_LIST:
        blocks.append(_context(f"…and {len(home.approvals) - MAX_PER_LIST} more: `/dm-upgrade history`"))
    if home.manual_items:
        lines = [f"• Plan #{m.plan_id} ({safe.name(m.dms_name)}): {safe.literal(m.title)}"
                 for m in home.manual_items[:20]]
        more = len(home.manual_items) - 20
        blocks.append(_section("*Manual checklist items you own:*\n" + "\n".join(lines)
                               + (f"\n…and {more} more" if more > 0 else "")))
    blocks += [{"type": "divider"}, _header("Campaigns")]
    blocks += _campaign_blocks(home.campaigns)
    blocks += [{"type": "divider"}, _header("Executing now")]
    blocks += _listed(home.executing, _executing, links=links, empty="No upgrade is running.")
    blocks += [{"type": "divider"}, _header("Upcoming windows")]
    blocks += _listed(home.upcoming, _upcoming, links=links, empty="No upgrade is planned.")
    blocks += [{"type": "divider"}, _header("Last result per DMS")]
    blocks += _listed(home.last_results, _result, links=links, empty="No upgrade has finished yet.")
    return {"type": "home", "blocks": blocks[:100]}
