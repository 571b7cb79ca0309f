"""How a campaign's events look in Slack (``workflow.model.campaign_events``), drawn like a plan's
(``handlers.delivery.drawing``): pure, from the event alone, when the sender is about to send it.

- The campaign card (``handlers.blocks.campaign.stored_card``, with its buttons) is posted on
  ``CampaignCreated`` and edited in place on every change (an upsert of the campaign's own message).
- Its thread carries one reply per piece of news: approved, each wave started and done, each soak check,
  halted (with what was found), resumed (with the reason), a DMS skipped, aborted, done. A halt, an abort and
  the end are also shown in the channel.

Every reply says how its facts were established: what a person did in Slack ("a person confirmed"), what
the bot checked itself, and what DataMiner reported to it. Every text from a person or a DMS is escaped.
"""

from __future__ import annotations

from handlers import safe_text as safe
from handlers.blocks import campaign as blocks_campaign
from handlers.blocks.plan import Message, to_dicts, when
from handlers.blocks.progress import note
from workflow.model.campaign_events import (
    CampaignAborted,
    CampaignApproved,
    CampaignChanged,
    CampaignCreated,
    CampaignDone,
    CampaignEvent,
    CampaignHalted,
    CampaignResumed,
    DmsSkipped,
    SoakChecked,
    WaveDone,
    WaveStarted,
    WindowMoved,
    campaign_role,
)
from workflow.model.campaign_states import MemberState
from workflow.model.campaign_view import MemberView
from workflow.model.outbox import PICTURE, REPLY, UPSERT, Outgoing

BOT = "bot"
MAX_DETAIL_BLOCKS = 45  # a message holds 50 blocks: the news, then what planning found
# What the soak's check is, said with every check and every halt it causes.
SOAK_CHECK = ("the bot checked through DataMiner's Web Services: every agent running the target, no new "
              "critical alarm against the baseline, active elements not below it")


def draw_campaign(event: CampaignEvent) -> list[Outgoing]:
    """The card drawn again, then the thread reply that tells of ``event`` (none for a card-only change)."""
    view = event.view
    calls = [Outgoing(channel=view.channel, plan_id=None, kind=UPSERT, role=campaign_role(view.id),
                      payload=blocks_campaign.stored_card(view).kwargs())]
    text = None if isinstance(event, CampaignChanged) else _news(event)
    if text is not None:
        broadcast = isinstance(event, CampaignHalted | CampaignAborted | CampaignDone)
        message = note(text)
        if isinstance(event, CampaignCreated) and event.plan is not None:  # each DMS's path, the issues
            details = blocks_campaign.planned(event.plan)[:MAX_DETAIL_BLOCKS]
            message = Message(text=message.text, blocks=message.blocks + to_dicts(details))
        calls.append(Outgoing(channel=view.channel, plan_id=None, kind=REPLY, role=campaign_role(view.id),
                              broadcast=broadcast, payload=message.kwargs()))
    if isinstance(event, CampaignDone | CampaignAborted):  # the timeline picture, after the outcome it shows
        calls.append(Outgoing(channel=view.channel, plan_id=None, kind=PICTURE, role=campaign_role(view.id),
                              payload={}))
    return calls


def _who(actor: str) -> str:
    return "the bot" if actor == BOT else f"{safe.user(actor)} (a person, in Slack)"


def _names(members: tuple[MemberView, ...]) -> str:
    return ", ".join(safe.name(member.name) for member in members) or "no DMS"


def _outcome(member: MemberView) -> str:
    name = f"*{safe.name(member.name)}*"
    if member.state is MemberState.UPGRADED:
        plan = f" (plan #{member.plan_id})" if member.plan_id is not None else ""
        return (f"{name}: upgraded and verified{plan}: the bot checked that DataMiner reports every agent "
                "on the target and the verification passed")
    if member.state is MemberState.SKIPPED:
        return f"{name}: skipped (a person confirmed): {safe.mrkdwn(member.skip_reason)}"
    return f"{name}: {member.state.value}: {safe.mrkdwn(member.note)}"


def _news(event: CampaignEvent) -> str | None:
    view = event.view
    head = f"Campaign #{view.id} to {safe.name(view.target)}"
    match event:
        case CampaignCreated():
            count, waves = len(view.members), view.waves
            return (f":clipboard: {head} proposed by {_who(event.actor)}: {count} DMS{'s' * (count != 1)} in "
                    f"{waves} wave{'s' * (waves != 1)}, each planned from the version its DMS reported "
                    "(DataMiner reported it). It waits for an approver's approval; nothing runs before.")
        case CampaignApproved():
            return (f":white_check_mark: {head} approved by {_who(event.actor)} {when(view.approved_at)}. "
                    "Each DMS's plan is approved in their name once its window opens and its pre-check "
                    "passed (the bot checks both).")
        case WaveStarted():
            members = view.wave_members(event.wave)
            return (f":rocket: Wave {event.wave} started ({safe.mrkdwn(event.reason)}): "
                    f"{_names(members)}. The bot plans each DMS for its window.")
        case WaveDone():
            lines = "\n".join(f"• {_outcome(member)}" for member in view.wave_members(event.wave))
            return (f":heavy_check_mark: Wave {event.wave} done:\n{lines}\nSoaking until "
                    f"{when(view.soak_until)}; the bot checks the upgraded DMSs again at "
                    f"{when(view.next_check_at)}.")
        case SoakChecked():
            upgraded = ", ".join(safe.name(name) for name in event.checked) or "no DMS"
            follow = (f"the soak of wave {event.wave} is over" if event.last
                      else f"next check at {when(view.next_check_at)}")
            return (f":stethoscope: Soak check of wave {event.wave}: nothing found on {upgraded} "
                    f"({SOAK_CHECK}); {follow}.")
        case CampaignHalted():
            return _halted(event)
        case CampaignResumed():
            return (f":arrow_forward: {head} resumed by {_who(event.actor)}: {safe.mrkdwn(event.reason)}. "
                    f"It is {safe.name(view.status.label)} again; what a soak had found is accepted as its "
                    "new baseline, and a DMS whose plan ended without the upgrade is planned again.")
        case DmsSkipped():
            return (f":fast_forward: {safe.name(event.dms)} skipped by {_who(event.actor)}: "
                    f"{safe.mrkdwn(event.reason)}. It is no longer part of the campaign.")
        case WindowMoved():
            why = f": {safe.mrkdwn(event.reason)}" if event.reason else ""
            return (f":calendar: {safe.name(event.dms)}'s window moved by {_who(event.actor)} to "
                    f"{when(event.start)} to {when(event.end)}{why}. Its plan is made for this window when "
                    "its wave starts, or from then if the window has passed by then.")
        case CampaignAborted():
            running = ", ".join(safe.name(item) for item in event.still_upgrading)
            goes_on = f" Still upgrading, to its end: {running}." if running else ""
            return (f":no_entry: {head} aborted by {_who(event.actor)}: {safe.mrkdwn(event.reason)}. "
                    f"Every plan of it that waited was cancelled.{goes_on}")
        case CampaignDone():
            lines = "\n".join(f"• {_outcome(member)}" for member in view.members)
            return (f":tada: {head} done: every wave upgraded, verified and soaked (checked by the bot).\n"
                    f"{lines}")
    return None


def _halted(event: CampaignHalted) -> str:
    view = event.view
    found = [f"• *{safe.name(member.name)}*: {safe.mrkdwn(item.title)}: {safe.mrkdwn(item.detail)}"
             for member in view.wave_members(view.wave) for item in member.regressions]
    if event.actor != BOT:
        why = f"halted by {_who(event.actor)}: {safe.mrkdwn(event.reason, one_line=False)}"
    elif found:  # the reason lists the same findings: each on a line of its own instead
        why = (f"the bot halted it on what its soak check found ({SOAK_CHECK}); DataMiner reported:\n"
               + "\n".join(found))
    else:
        why = f"the bot halted it: {safe.mrkdwn(event.reason, one_line=False)}"
    return (f":octagonal_sign: Campaign #{view.id} halted in wave {view.wave}: {why}\nNothing more is "
            "approved or started until an approver resumes it (Resume…, with a reason) or someone aborts it.")
