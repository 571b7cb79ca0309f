"""The outbox of domain events: what the chat must hear of, written with the change it tells of.

The workflow appends an event row in the same transaction as the change (``append``), so a change is never
committed without its event and an event is never written for a change that rolled back. The Slack sender
takes the oldest rows in order (``take``) and, in the same unit of work, draws each into Slack calls in
``slack_outbox`` and deletes it (``workflow.store.outbox.Outbox.draw_events``): the messages are drawn when
they are about to be sent, from what the event recorded, never staged in memory.

Two replicas drawing at once: on PostgreSQL ``take`` locks the rows it read (``FOR UPDATE``), so the second
waits for the first to commit and then skips the rows it deleted; the messages of earlier events therefore
always get lower ids, which is the order the sender keeps per channel. SQLite takes the write lock at the
start of every unit (``BEGIN IMMEDIATE``), which serializes them the same way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from workflow.model.clock import utc_now
from workflow.store.tables import OutboxEvent

TAKE_LIMIT = 200  # events drawn in one unit of work: a burst is drawn in a few short transactions


def append(session: Session, *, plan_id: int | None, kind: str, body: dict[str, Any],
           now: datetime | None = None) -> int:
    """Record an event in the caller's transaction; its id."""
    row = OutboxEvent(plan_id=plan_id, kind=kind, body=body, created_at=now or utc_now())
    session.add(row)
    session.flush()
    assert row.id is not None
    return row.id


def take(session: Session, *, limit: int = TAKE_LIMIT) -> list[OutboxEvent]:
    """The oldest events, locked until the caller's transaction ends (the caller deletes them)."""
    query = select(OutboxEvent).order_by(col(OutboxEvent.id)).limit(limit).with_for_update()
    return list(session.exec(query).all())


def remove(session: Session, row: OutboxEvent) -> None:
    session.delete(row)


def pending(session: Session) -> int:
    """Events not drawn yet."""
    return int(session.exec(select(func.count()).select_from(OutboxEvent)).one())
