"""What the App Home tab shows one person: every DMS's upcoming windows, the upgrades executing now, the
last result per DMS, and what waits on this person (approvals they may give, manual items they own).

A person sees only what they may act on in the "waiting on you" part: approvals only when they are an
approver (and not the requester, unless self-approval is allowed), manual checklist items only of plans
they requested (the requester owns the MOP's manual steps). The pre-check button is offered to, and
accepted from, the requester and the approvers only (``may_run_check``).

Campaigns under way are listed too, each with what it waits on (``HomeCampaign``, read by the campaign
engine, ``CampaignEngine.home``): one waits on this person when they may give what it waits for (its
approval, or a resume after a halt).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from workflow.model.campaign_view import CampaignView
from workflow.model.states import IN_FLIGHT, TERMINAL, PlanState
from workflow.store import plans
from workflow.store.snapshot import PlanSnapshot, load_snapshot

UPCOMING = frozenset({PlanState.PLANNED, PlanState.SCHEDULED, PlanState.PRECHECKED, PlanState.BLOCKED,
                      PlanState.AWAITING_APPROVAL})

CHECKABLE = frozenset({PlanState.PLANNED, PlanState.SCHEDULED, PlanState.PRECHECKED, PlanState.BLOCKED,
                       PlanState.AWAITING_APPROVAL})
RECENT = 200  # finished plans looked at for the last result per DMS


def may_run_check(*, requester: str, user: str, is_approver: bool) -> bool:
    return user == requester or is_approver


def approval_status(snap: PlanSnapshot) -> str:
    """"approved", "rejected", "waiting" (the request is out) or "not yet requested"."""
    if snap.approval is not None:
        return snap.approval.decision
    return "waiting" if snap.state is PlanState.AWAITING_APPROVAL else "not yet requested"


@dataclass(frozen=True)
class HomePlan:
    snapshot: PlanSnapshot
    approval: str  # approval_status()
    may_check: bool  # this person may run the pre-check now

    @property
    def hops_done(self) -> int:
        return sum(1 for hop in self.snapshot.hops if hop.status == "done")


@dataclass(frozen=True)
class ManualItem:
    plan_id: int
    dms_name: str
    title: str


@dataclass(frozen=True)
class HomeCampaign:
    view: CampaignView
    yours: bool  # it waits on this person: an approval or a resume they may give


@dataclass(frozen=True)
class HomeView:
    user: str
    now: datetime
    upcoming: tuple[HomePlan, ...]  # by DMS, then window
    executing: tuple[HomePlan, ...]
    last_results: tuple[HomePlan, ...]  # the latest finished plan of each DMS
    approvals: tuple[HomePlan, ...]  # waiting for an approval this person may give
    manual_items: tuple[ManualItem, ...]  # open manual items of this person's plans
    campaigns: tuple[HomeCampaign, ...] = ()  # every campaign under way, oldest first


def load_home(
    session: Session, *, user: str, is_approver: bool, allow_self_approval: bool, now: datetime
) -> HomeView:
    """The Home tab's content for ``user``, from one session."""
    active = [load_snapshot(session, plan_id=p.id) for p in plans.active_plans(session) if p.id is not None]

    def item(snap: PlanSnapshot) -> HomePlan:
        may_check = snap.state in CHECKABLE and may_run_check(requester=snap.requester, user=user,
                                                               is_approver=is_approver)
        return HomePlan(snapshot=snap, approval=approval_status(snap), may_check=may_check)

    far = datetime.max.replace(tzinfo=now.tzinfo)
    upcoming = sorted((s for s in active if s.state in UPCOMING),
                      key=lambda s: (s.dms_name, s.window_start or far, s.id))
    executing = sorted((s for s in active if s.state in IN_FLIGHT), key=lambda s: (s.dms_name, s.id))
    approvals = [s for s in active if s.state is PlanState.AWAITING_APPROVAL and s.approval is None
                 and is_approver and (allow_self_approval or s.requester != user)]
    manual = [ManualItem(plan_id=s.id, dms_name=s.dms_name, title=i.title)
              for s in active if s.requester == user and s.state in UPCOMING
              for i in s.checklist if i.kind == "manual" and not i.checked]
    return HomeView(
        user=user, now=now, upcoming=tuple(map(item, upcoming)), executing=tuple(map(item, executing)),
        last_results=tuple(map(item, _last_results(session))), approvals=tuple(map(item, approvals)),
        manual_items=tuple(manual),
    )


def _last_results(session: Session) -> list[PlanSnapshot]:
    latest: dict[str, int] = {}
    for plan in plans.list_plans(session, states=sorted(TERMINAL), limit=RECENT):  # newest first
        if plan.id is not None:
            latest.setdefault(plan.dms_name, plan.id)
    return [load_snapshot(session, plan_id=plan_id) for _, plan_id in sorted(latest.items())]

