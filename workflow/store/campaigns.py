"""Campaigns in the database: create one from its dry plan, read it, move it (the state machine is
``workflow.model.campaign_states``), and change its DMSs. Every function runs in the caller's transaction;
every move and every person's action writes its audit row in the same one, so both are committed or neither.

Audit rows of a campaign carry ``campaign_id`` in their detail and an action starting with ``campaign.``
(the audit table's ``plan_id`` is a plan's; the rows of a DMS's own plan keep theirs).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from dms.models import CheckResult
from workflow.model.campaign import CampaignPlan
from workflow.model.campaign_states import (
    CampaignState,
    CampaignStatus,
    IllegalCampaignMove,
    MemberState,
    check_move,
)
from workflow.model.campaign_view import CampaignView, MemberView
from workflow.model.errors import NotFound, RuleViolation
from workflow.model.states import MAX_PLAN_ID
from workflow.store import audit
from workflow.store.tables import AuditEvent, Campaign, CampaignDms

ACTIVE = tuple(state.value for state in CampaignState if not state.terminal)


def create(session: Session, *, plan: CampaignPlan, requester: str, channel: str, now: datetime) -> Campaign:
    """Store the dry plan as a PROPOSED campaign; refuses a DMS already in another active campaign."""
    busy = [f"{row.dms_name} (campaign #{row.campaign_id})" for row in
            session.exec(select(CampaignDms).join(Campaign, col(Campaign.id) == col(CampaignDms.campaign_id))
                         .where(col(Campaign.state).in_(ACTIVE),
                                col(CampaignDms.dms_name).in_([item.name for item in plan.dms])))]
    if busy:
        raise RuleViolation("A DMS belongs to one active campaign at a time: " + ", ".join(busy)
                            + " (finish or abort that campaign first)")
    campaign = Campaign(state=CampaignState.PROPOSED.value, waves=len(plan.waves),
                        target_version=str(plan.target), requester=requester, channel=channel,
                        soak_minutes=plan.soak_minutes, created_at=now, updated_at=now)
    session.add(campaign)
    session.flush()
    assert campaign.id is not None
    for wave in plan.waves:
        for position, item in enumerate(wave.dms):
            session.add(CampaignDms(
                campaign_id=campaign.id, wave=wave.number, position=position, dms_name=item.name,
                state=MemberState.WAITING.value, current_version=str(item.current),
                window_start=item.window_start, window_end=item.window_end, updated_at=now))
    record(session, campaign_id=campaign.id, actor=requester, action="created", now=now,
           to_state=CampaignState.PROPOSED.value,
           reason=f"{len(plan.dms)} DMSs in {len(plan.waves)} waves to {plan.target}",
           detail={"waves": [[item.name for item in wave.dms] for wave in plan.waves]})
    session.flush()
    return campaign


def get(session: Session, *, campaign_id: int, for_update: bool = False) -> Campaign:
    """The campaign, or NotFound (also for an id too large for the column)."""
    statement = select(Campaign).where(col(Campaign.id) == campaign_id)
    if for_update:
        statement = statement.with_for_update()
    row = session.exec(statement).first() if 1 <= campaign_id <= MAX_PLAN_ID else None
    if row is None:
        raise NotFound(f"There is no campaign #{campaign_id}")
    return row


def members(session: Session, *, campaign_id: int, wave: int | None = None) -> list[CampaignDms]:
    statement = select(CampaignDms).where(col(CampaignDms.campaign_id) == campaign_id)
    if wave is not None:
        statement = statement.where(col(CampaignDms.wave) == wave)
    return list(session.exec(statement.order_by(col(CampaignDms.wave), col(CampaignDms.position))))


def member(session: Session, *, campaign_id: int, dms_name: str) -> CampaignDms:
    for row in members(session, campaign_id=campaign_id):
        if row.dms_name == dms_name:
            return row
    raise NotFound(f"Campaign #{campaign_id} has no DMS named {dms_name!r}")


def active_ids(session: Session) -> list[int]:
    """Every campaign the poll may have work for, oldest first."""
    rows = session.exec(select(Campaign.id).where(col(Campaign.state).in_(ACTIVE)).order_by(col(Campaign.id)))
    return [row for row in rows if row is not None]


def status(row: Campaign) -> CampaignStatus:
    return CampaignStatus(CampaignState(row.state), row.wave)


def move(session: Session, *, campaign_id: int, to: CampaignStatus, actor: str, reason: str, now: datetime,
         expected: CampaignStatus | None = None, detail: dict[str, Any] | None = None) -> Campaign:
    """Move the campaign to ``to`` with its audit row; ``IllegalCampaignMove`` names both states.

    ``expected``: the status the caller read before deciding (the poll), so a person's halt that came in
    between is not overwritten; a different status refuses the move the same way."""
    row = get(session, campaign_id=campaign_id, for_update=True)
    before = status(row)
    halted_from = CampaignState(row.halted_from) if row.halted_from else None
    if expected is not None and before != expected:
        raise IllegalCampaignMove(campaign_id=campaign_id, before=before, after=to,
                                  detail=f"expected it to be {expected.label}")
    check_move(campaign_id, before, to, waves=row.waves, halted_from=halted_from)
    row.halted_from = before.state.value if to.state is CampaignState.HALTED else None
    row.state, row.wave, row.updated_at = to.state.value, to.wave, now
    session.add(row)
    record(session, campaign_id=campaign_id, actor=actor, action="transition", now=now, reason=reason,
           from_state=before.label, to_state=to.label, detail=detail)
    session.flush()
    return row


def record(session: Session, *, campaign_id: int, actor: str, action: str, now: datetime, reason: str = "",
           from_state: str | None = None, to_state: str | None = None, plan_id: int | None = None,
           detail: dict[str, Any] | None = None) -> None:
    """A campaign's audit row (``campaign.<action>``), in the caller's transaction; ``plan_id`` when it is
    about one DMS's plan too (its approval with the campaign's), so the plan's own audit shows it."""
    audit.record(session, actor=actor, action=f"campaign.{action}", plan_id=plan_id,
                 from_state=from_state, to_state=to_state, reason=reason, now=now,
                 detail={"campaign_id": campaign_id, **(detail or {})})


def audit_rows(session: Session, *, campaign_id: int) -> list[AuditEvent]:
    """The campaign's own audit rows, in order (not those of its DMSs' plans)."""
    rows = session.exec(select(AuditEvent).where(col(AuditEvent.action).startswith("campaign."))
                        .order_by(col(AuditEvent.id)))
    return [row for row in rows if row.detail.get("campaign_id") == campaign_id]


def set_member(session: Session, row: CampaignDms, *, now: datetime, **fields: Any) -> None:
    """Change a DMS's stored fields (state, plan, note, window, baseline, findings...)."""
    for name, value in fields.items():
        if not hasattr(row, name):
            raise AttributeError(name)
        setattr(row, name, value.value if isinstance(value, MemberState) else value)
    row.updated_at = now
    session.add(row)
    session.flush()


def set_next_check(session: Session, *, campaign_id: int, at: datetime) -> None:
    """When the soak checks again (after a clean check that was not its last)."""
    row = get(session, campaign_id=campaign_id)
    row.next_check_at = at
    session.add(row)
    session.flush()


def _member_view(row: CampaignDms) -> MemberView:
    return MemberView(
        name=row.dms_name, wave=row.wave, state=MemberState(row.state), plan_id=row.plan_id,
        attempt=row.attempt, current_version=row.current_version, window_start=row.window_start,
        window_end=row.window_end, skip_reason=row.skip_reason, note=row.note,
        findings=tuple(CheckResult.model_validate(item) for item in row.findings))


def load_view(session: Session, *, campaign_id: int) -> CampaignView:
    row = get(session, campaign_id=campaign_id)
    assert row.id is not None
    return CampaignView(
        id=row.id, status=status(row), waves=row.waves, target=row.target_version, requester=row.requester,
        channel=row.channel, soak_minutes=row.soak_minutes, created_at=row.created_at,
        members=tuple(_member_view(item) for item in members(session, campaign_id=row.id)),
        halted_from=CampaignState(row.halted_from) if row.halted_from else None,
        approved_by=row.approved_by, approved_at=row.approved_at, soak_until=row.soak_until,
        next_check_at=row.next_check_at, halt_reason=row.halt_reason)
