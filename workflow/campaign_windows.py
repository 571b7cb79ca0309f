"""Moving a campaign DMS's window before its wave starts: a person confirms the proposed windows by
approving the campaign, or moves one first (the card's *Move a window…*). The same rules as planning:
the window starts in the future and not before the previous wave can have soaked, and it must not overlap
a plan already under way on its DMS. Once the DMS's plan is made (its wave started), its window is the
plan's: moved on the plan's own message (*Set window*), as any plan's.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from workflow import campaigns as planning
from workflow.campaign_outbox import CampaignNews
from workflow.context import WorkflowContext
from workflow.model.campaign_events import WindowMoved
from workflow.model.campaign_states import MemberState
from workflow.model.campaign_view import CampaignView, MemberView
from workflow.model.errors import RuleViolation, UserError
from workflow.store import campaigns

MAX_WINDOW = timedelta(days=2)  # a maintenance window, as a typed one (workflow.model.campaign)


def _earliest(view: CampaignView, member: MemberView, *, now: datetime) -> datetime:
    """Now, and for a later wave the end of the previous wave's last window plus the soak."""
    earlier = [m.window_end for m in view.wave_members(member.wave - 1) if m.window_end is not None]
    soaked = max(earlier) + timedelta(minutes=view.soak_minutes) if earlier else now
    return max(now, soaked)


def check_move(view: CampaignView, *, dms: str, start: datetime, length: timedelta | None,
               now: datetime) -> tuple[datetime, datetime]:
    """The new window of ``dms``, or a UserError saying why it cannot be moved there."""
    if view.state.terminal:
        raise RuleViolation(f"Campaign #{view.id} is {view.status.label}: its windows no longer move")
    try:
        member = view.member(dms)
    except KeyError:
        raise UserError(f"Campaign #{view.id} has no DMS named {dms!r}") from None
    if member.state is not MemberState.WAITING:
        where = (f"its plan #{member.plan_id} is made: move it with that plan's Set window button"
                 if member.plan_id is not None else f"it is {member.state.value}")
        raise RuleViolation(f"The window of {dms} cannot move here: {where}")
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    earliest = _earliest(view, member, now=now)
    if start < earliest:
        after = ("now" if earliest == now
                 else f"wave {member.wave - 1} can have soaked ({earliest:%Y-%m-%d %H:%M} UTC)")
        raise UserError(f"The window of {dms} cannot start at {start:%Y-%m-%d %H:%M} UTC, before {after}")
    current = (member.window_end - member.window_start
               if member.window_start is not None and member.window_end is not None else None)
    given = length or current
    if given is None or not timedelta(0) < given <= MAX_WINDOW:
        raise UserError("A window lasts more than 0 minutes and at most 2 days: give its length, e.g. 4h")
    return start, start + given


async def move_window(context: WorkflowContext, news: CampaignNews, view: CampaignView, *, dms: str,
                      start: datetime, length: timedelta | None, actor: str, reason: str) -> None:
    """Move ``dms``'s window (checked as ``check_move`` and against a plan under way on it), audited, its
    card redrawn and the move told in its thread, in one unit of work."""
    new_start, new_end = check_move(view, dms=dms, start=start, length=length, now=context.now())

    def unit(session: Session) -> None:
        busy = planning.busy_plans(session, names=[dms]).get(dms)
        planning.clear_of(dms, busy, start=new_start)
        row = next(m for m in campaigns.members(session, campaign_id=view.id) if m.dms_name == dms)
        if row.state != MemberState.WAITING.value:  # its wave started meanwhile
            raise RuleViolation(f"The window of {dms} cannot move here: its wave started meanwhile")
        before = (row.window_start, row.window_end)
        now = context.now()
        campaigns.set_member(session, row, now=now, window_start=new_start, window_end=new_end,
                             note=f"window moved by {actor}")
        moved = {"dms": dms, "from": [t.isoformat() if t else None for t in before],
                 "to": [new_start.isoformat(), new_end.isoformat()]}
        campaigns.record(session, campaign_id=view.id, actor=actor, action="window_moved", now=now,
                         reason=reason, detail=moved)
        news.record(session, WindowMoved, view.id, actor=actor, dms=dms, start=new_start, end=new_end,
                    reason=reason)

    await context.unit(unit)
    news.wake()
