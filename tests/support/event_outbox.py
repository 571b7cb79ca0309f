"""Telling a notifier of an event the way the workflow does: recorded in the outbox of domain events (in
production, in the transaction of the change), then ``notify``."""

from __future__ import annotations

from sqlalchemy import Engine

from workflow.event_codec import encode
from workflow.events import Event, Notifier
from workflow.store import database, event_outbox


def record(db: Engine, event: Event) -> None:
    kind, body = encode(event)
    with database.session(db) as session:
        event_outbox.append(session, plan_id=event.plan_id, kind=kind, body=body)


async def tell(db: Engine, notifier: Notifier, event: Event) -> None:
    await database.off_loop(record, db, event)
    await notifier.notify(event)
