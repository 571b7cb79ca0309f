"""Where each plan's Slack messages live (channel, ts, thread_ts), so threads survive restarts.

A plan has one message per role ("plan": the interactive plan message whose thread carries progress,
"status": the status message edited in place, ...). Saving a role again replaces its reference.
A campaign's messages (its card, whose thread carries its news) are kept the same way, per (campaign, role).
"""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session, select

from workflow.model.clock import utc_now
from workflow.store import database
from workflow.store.tables import CampaignMessageRef, SlackMessageRef


def save_message_ref(
    session: Session, *, plan_id: int, role: str, channel: str, ts: str, thread_ts: str | None = None
) -> SlackMessageRef:
    row = get_message_ref(session, plan_id=plan_id, role=role)
    if row is None:
        row = SlackMessageRef(plan_id=plan_id, role=role, channel=channel, ts=ts, thread_ts=thread_ts)
    else:
        row.channel, row.ts, row.thread_ts = channel, ts, thread_ts
    row.updated_at = utc_now()
    session.add(row)
    session.flush()
    return row


def get_message_ref(session: Session, *, plan_id: int, role: str) -> SlackMessageRef | None:
    statement = select(SlackMessageRef).where(
        SlackMessageRef.plan_id == plan_id, SlackMessageRef.role == role
    )
    return session.exec(statement).first()


def message_refs(session: Session, *, plan_id: int) -> list[SlackMessageRef]:
    return list(session.exec(select(SlackMessageRef).where(SlackMessageRef.plan_id == plan_id)))


def plan_for_message(session: Session, *, channel: str, ts: str) -> int | None:
    """The plan a message (or a thread root) belongs to; for interactions on an old message."""
    statement = select(SlackMessageRef).where(SlackMessageRef.channel == channel, SlackMessageRef.ts == ts)
    row = session.exec(statement).first()
    return None if row is None else row.plan_id


class MessageRefs:
    """The message references as an object, for the Slack notifier: it asks and records where a plan's
    messages are without opening database sessions itself."""

    def __init__(self, db: Engine) -> None:
        self._db = db

    def get(self, *, plan_id: int, role: str) -> tuple[str, str] | None:
        """(channel, ts) of the plan's message in ``role``, or None."""
        with database.session(self._db) as session:
            row = get_message_ref(session, plan_id=plan_id, role=role)
            return None if row is None else (row.channel, row.ts)

    def save(self, *, plan_id: int, role: str, channel: str, ts: str, thread_ts: str | None = None) -> None:
        with database.session(self._db) as session:
            save_message_ref(session, plan_id=plan_id, role=role, channel=channel, ts=ts, thread_ts=thread_ts)


def save_campaign_ref(session: Session, *, campaign_id: int, role: str, channel: str,
                      ts: str) -> CampaignMessageRef:
    """Where a campaign's message in ``role`` lives (its card: "card"); saving again replaces it."""
    row = get_campaign_ref(session, campaign_id=campaign_id, role=role)
    if row is None:
        row = CampaignMessageRef(campaign_id=campaign_id, role=role, channel=channel, ts=ts)
    else:
        row.channel, row.ts = channel, ts
    row.updated_at = utc_now()
    session.add(row)
    session.flush()
    return row


def get_campaign_ref(session: Session, *, campaign_id: int, role: str) -> CampaignMessageRef | None:
    statement = select(CampaignMessageRef).where(CampaignMessageRef.campaign_id == campaign_id,
                                                 CampaignMessageRef.role == role)
    return session.exec(statement).first()
