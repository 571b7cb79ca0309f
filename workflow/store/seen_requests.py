"""Signed Slack requests already let in, shared by every replica and kept across restarts: the replay
memory of the request guard (``workflow.replays`` is how the Slack side reaches it).

A request is identified by a digest of its timestamp and signature (Slack signs each delivery afresh, its
retries included, so two deliveries with one signature are one request sent twice). ``claim`` inserts the
digest unless a live row has it, in one statement (``INSERT ... ON CONFLICT``), so of two replicas receiving
the same request at once exactly one wins. A row lives until the request's timestamp has left Slack's
window, plus a margin for the replicas' clocks; each claim deletes a bounded batch of expired rows, so the
table holds about the last window's requests and no claim pays for a backlog.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import Table, delete, select
from sqlmodel import Session, col

from workflow.store.tables import SeenRequest

WINDOW_S = 300  # Slack's: a request signed more than five minutes away is refused before it gets here
MARGIN_S = 60  # replicas' clocks may differ a little; a row kept a minute longer costs nothing
PRUNE_BATCH = 100  # expired rows deleted per claim: more than one claim adds, so the table stays bounded


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def expiry(*, timestamp: int, now: datetime) -> datetime:
    signed = datetime.fromtimestamp(timestamp, UTC)
    return max(now, signed) + timedelta(seconds=WINDOW_S + MARGIN_S)


def claim(session: Session, *, key: str, timestamp: int, now: datetime) -> bool:
    """True the first time ``key`` is claimed within its window (by any process); False for a replay."""
    return key in claim_many(session, [(key, timestamp)], now=now)


def claim_many(session: Session, requests: Sequence[tuple[str, int]], *, now: datetime,
               prune_first: bool = True) -> set[str]:
    """The keys of ``requests`` (key, timestamp) claimed here for the first time within their window: one
    statement for the lot, so a burst of requests costs the database one short transaction, not one each.
    A key given twice is claimed once (its second copy is a replay of the first). ``prune_first``: delete a
    batch of expired rows first (a caller that claims often does it now and then, ``workflow.replays``)."""
    if prune_first:
        prune(session, now=now)
    rows: dict[str, dict[str, object]] = {}
    keys: dict[str, str] = {}
    for key, timestamp in requests:
        hashed = digest(key)
        if hashed not in rows:
            rows[hashed] = {"digest": hashed, "expires_at": expiry(timestamp=timestamp, now=now)}
            keys[hashed] = key
    if not rows:
        return set()
    table = cast(Table, SeenRequest.__table__)  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    # The dialect's own INSERT ... ON CONFLICT, imported where it is used: the PostgreSQL dialect module
    # (with the asyncpg one it pulls in) costs about 50 ms at every start of a bot on SQLite.
    module = "postgresql" if dialect == "postgresql" else "sqlite"
    builder = importlib.import_module(f"sqlalchemy.dialects.{module}")
    insert = builder.insert(table).values(list(rows.values()))
    # A row left from an expired window (not pruned yet) is taken over; a live one makes this a replay.
    statement = insert.on_conflict_do_update(
        index_elements=[table.c.digest], set_={"expires_at": insert.excluded.expires_at},
        where=table.c.expires_at <= now).returning(table.c.digest)
    # RETURNING, not rowcount: psycopg reports no row count for an upsert; it names the rows claimed.
    return {keys[str(row[0])] for row in session.execute(statement)}


def forget(session: Session, *, key: str) -> None:
    """The request failed on our side: a retry of it must be served, not ignored as a replay."""
    session.execute(delete(SeenRequest).where(col(SeenRequest.digest) == digest(key)))


def prune(session: Session, *, now: datetime, limit: int = PRUNE_BATCH) -> int:
    """Delete up to ``limit`` expired rows (oldest first); how many went."""
    expired = select(col(SeenRequest.digest)).where(col(SeenRequest.expires_at) <= now) \
        .order_by(col(SeenRequest.expires_at)).limit(limit)
    result = session.execute(delete(SeenRequest).where(col(SeenRequest.digest).in_(expired)))
    return int(getattr(result, "rowcount", 0) or 0)


def count(session: Session) -> int:
    return len(session.execute(select(col(SeenRequest.digest))).all())
