"""The Slack outbox: what the bot has to say, kept in the database until Slack took it.

The workflow writes the events of a change in its transaction (``workflow.store.event_outbox``); a sender
draws them into rows here (``draw_events``, one unit of work: an event is either still waiting or its
messages are here), so a message is never lost to a crash or a Slack outage, and never sent for a change
that rolled back. A sender takes the oldest
pending row of each channel (``claim_due``: a channel's messages go out in order, so a later one waits for an
earlier one being retried), and then deletes it (``delivered``), schedules a retry (``retry``) or records
that Slack refused it for good (``refused``: logged, audited, and out of the channel's way).

Edits merge: an upsert of a plan's message in some role that still waits (unclaimed) takes the newer content
in place, so a burst of progress edits costs one Slack call and keeps its place in the channel's order.
Claims expire, so a message a dead replica was sending is sent by another: delivery is at least once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from workflow.model.clock import utc_now
from workflow.model.outbox import CLAIM_TTL_S, PENDING, REFUSED, UPSERT, Claimed, Draw, Outgoing
from workflow.store import audit, event_outbox
from workflow.store.message_refs import save_message_ref
from workflow.store.tables import SlackOutboxMessage

log = logging.getLogger(__name__)


MAX_BACKOFF_S = 300.0
_SCAN_LIMIT = 1000  # channels looked at in one go


def enqueue(session: Session, message: Outgoing, *, now: datetime | None = None) -> int:
    """Add ``message`` in the caller's transaction; an upsert merges into its role's waiting row. Its id."""
    now = now or utc_now()
    if message.kind == UPSERT:
        waiting = session.exec(select(SlackOutboxMessage).where(
            SlackOutboxMessage.channel == message.channel, SlackOutboxMessage.plan_id == message.plan_id,
            SlackOutboxMessage.kind == UPSERT, SlackOutboxMessage.role == message.role,
            SlackOutboxMessage.state == PENDING, col(SlackOutboxMessage.claimed_by).is_(None),
        ).order_by(col(SlackOutboxMessage.id).desc())).first()
        if waiting is not None:
            waiting.payload = dict(message.payload)
            waiting.edit_only = waiting.edit_only and message.edit_only  # a pending post stays a post
            waiting.merged += 1
            session.add(waiting)
            session.flush()
            assert waiting.id is not None
            return waiting.id
    row = SlackOutboxMessage(channel=message.channel, plan_id=message.plan_id, kind=message.kind,
                             role=message.role, in_thread=message.in_thread, edit_only=message.edit_only,
                             broadcast=message.broadcast,
                             payload=dict(message.payload), next_attempt_at=now, created_at=now)
    session.add(row)
    session.flush()
    assert row.id is not None
    return row.id


def claim_due(
    session: Session, *, owner: str, now: datetime, skip_channels: frozenset[str] = frozenset(),
    ttl_s: float = CLAIM_TTL_S,
) -> list[Claimed]:
    """Claim the head of every channel whose head is due and not claimed by a live sender."""
    # Only each channel's oldest pending row is loaded: a channel paced at one call a second can have
    # hundreds waiting behind it, and reading them all at every look cost the event loop's acks dearly.
    head_ids = select(func.min(SlackOutboxMessage.id)).where(SlackOutboxMessage.state == PENDING) \
        .group_by(SlackOutboxMessage.channel)
    rows = session.exec(select(SlackOutboxMessage).where(col(SlackOutboxMessage.id).in_(head_ids))
                        .order_by(col(SlackOutboxMessage.id)).limit(_SCAN_LIMIT)).all()
    heads = {row.channel: row for row in rows}
    claimed: list[Claimed] = []
    until = now + timedelta(seconds=ttl_s)
    for channel, row in heads.items():
        if channel in skip_channels or row.next_attempt_at > now:
            continue
        if row.claimed_by is not None and row.claimed_until is not None and row.claimed_until > now:
            continue
        # Compare-and-set on the claim we read: of two senders reading the same head, one takes it.
        unchanged = (col(SlackOutboxMessage.claimed_by).is_(None) if row.claimed_by is None else
                     col(SlackOutboxMessage.claimed_by) == row.claimed_by)
        taken = session.execute(update(SlackOutboxMessage).where(
            col(SlackOutboxMessage.id) == row.id, col(SlackOutboxMessage.state) == PENDING, unchanged,
            col(SlackOutboxMessage.attempts) == row.attempts,
        ).values(claimed_by=owner, claimed_until=until))
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            session.refresh(row)
            assert row.id is not None
            claimed.append(Claimed(id=row.id, channel=row.channel, plan_id=row.plan_id, kind=row.kind,
                                   role=row.role, in_thread=row.in_thread, edit_only=row.edit_only,
                                   broadcast=row.broadcast,
                                   payload=dict(row.payload), attempts=row.attempts))
    return claimed


def delivered(session: Session, *, row_id: int, posted: tuple[str, str, str | None] | None = None) -> None:
    """Slack took it: the row goes; a first post of an upsert records where the message lives."""
    row = session.get(SlackOutboxMessage, row_id)
    if row is None:
        return
    if posted is not None and row.kind == UPSERT and row.plan_id is not None and row.role is not None:
        channel, ts, thread_ts = posted
        save_message_ref(session, plan_id=row.plan_id, role=row.role, channel=channel, ts=ts,
                         thread_ts=thread_ts)
    session.delete(row)
    session.flush()


def retry(session: Session, *, row_id: int, error: str, now: datetime, base_s: float) -> datetime:
    """Not taken this time (rate limit, Slack or network down): try again later, backing off. When."""
    row = session.get(SlackOutboxMessage, row_id)
    if row is None:
        return now
    row.attempts += 1
    delay = min(MAX_BACKOFF_S, base_s * 2 ** min(row.attempts - 1, 16))
    row.next_attempt_at = now + timedelta(seconds=delay)
    row.last_error = error[:200]
    row.claimed_by = row.claimed_until = None
    session.add(row)
    session.flush()
    return row.next_attempt_at


def refused(session: Session, *, row_id: int, error: str, now: datetime) -> None:
    """Slack refuses it for good: kept as refused (out of the channel's way) and audited."""
    row = session.get(SlackOutboxMessage, row_id)
    if row is None:
        return
    row.attempts += 1
    row.state, row.last_error = REFUSED, error[:200]
    row.claimed_by = row.claimed_until = None
    session.add(row)
    audit.record(session, actor="bot", action="slack.refused", plan_id=row.plan_id, reason=error[:200],
                 detail={"channel": row.channel, "kind": row.kind, "role": row.role,
                         "text": str(row.payload.get("text", ""))[:200]}, now=now)
    session.flush()


def draw_events(session: Session, *, draw: Draw, now: datetime) -> int:
    """Turn the oldest event rows into outbox messages (``event_outbox``), in order, deleting them. An
    event that cannot be drawn (a bug, or a row from a newer version) is audited and dropped: it must not
    hold up every message behind it."""
    rows = event_outbox.take(session)
    for row in rows:
        try:
            messages = draw(row.kind, dict(row.body))
        except Exception as exc:
            log.exception("drawing event %s (%s) for plan #%s failed", row.id, row.kind, row.plan_id)
            audit.record(session, actor="bot", action="slack.undrawable", plan_id=row.plan_id,
                         reason=f"{type(exc).__name__}"[:200], detail={"event": row.kind}, now=now)
            messages = []
        for message in messages:
            enqueue(session, message, now=now)
        event_outbox.remove(session, row)
    session.flush()
    return len(rows)


def depth(session: Session) -> int:
    """Messages still to send (refused ones excluded), events not drawn yet included."""
    messages = int(session.exec(select(func.count()).select_from(SlackOutboxMessage)
                                .where(SlackOutboxMessage.state == PENDING)).one())
    return messages + event_outbox.pending(session)
