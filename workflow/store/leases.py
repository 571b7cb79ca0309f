"""Leases: one row per thing only one process may do at a time (``plan:<id>``: that plan's execution;
``scheduler``: running the scheduled jobs), held by an owner until ``expires_at``, which the owner renews.

Another owner takes a lease over only once it has expired, so a replica that died (SIGKILL, lost host)
hands its work over after at most one lease length, and one that is merely slow keeps it. Times are the
wall clock of the writing process (replicas are assumed NTP-synchronised, far within a lease length).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from workflow.model.clock import utc_now
from workflow.store.tables import Lease


def plan_lease(plan_id: int) -> str:
    return f"plan:{plan_id}"


SCHEDULER = "scheduler"


def acquire(session: Session, *, name: str, owner: str, ttl_s: float, now: datetime | None = None
            ) -> tuple[bool, str | None]:
    """Take (or keep) the lease; ``(taken, previous owner)``. ``previous`` is the owner whose expired lease
    was taken over (None when it was free or already ours)."""
    now = now or utc_now()
    expires = now + timedelta(seconds=ttl_s)
    # Row-locked on PostgreSQL, so two replicas reading an expired lease cannot both take it.
    row = session.get(Lease, name, with_for_update=True)
    if row is None:
        try:
            with session.begin_nested():  # the loser of a race to insert fails here, on the primary key
                session.add(Lease(name=name, owner=owner, acquired_at=now, expires_at=expires))
        except IntegrityError:
            return False, None
        return True, None
    if row.owner == owner:
        row.expires_at = expires
        session.add(row)
        return True, None
    if row.expires_at > now:
        return False, None
    previous = row.owner
    row.owner, row.acquired_at, row.expires_at = owner, now, expires
    session.add(row)
    return True, previous


def renew(session: Session, *, name: str, owner: str, ttl_s: float, now: datetime | None = None) -> bool:
    """Push the expiry on if ``owner`` still holds the lease; False once another owner took it."""
    now = now or utc_now()
    result = session.exec(
        update(Lease).where(col(Lease.name) == name, col(Lease.owner) == owner)
        .values(expires_at=now + timedelta(seconds=ttl_s))
    )
    return bool(result.rowcount == 1)


def release(session: Session, *, name: str, owner: str) -> None:
    """Give the lease up at once (a clean stop), so another process need not wait for it to expire."""
    row = session.get(Lease, name)
    if row is not None and row.owner == owner:
        session.delete(row)
        session.flush()


def holder(session: Session, *, name: str) -> Lease | None:
    return session.get(Lease, name)


def prune(session: Session, *, prefix: str, limit: int, now: datetime | None = None) -> int:
    """Delete up to ``limit`` expired leases whose name starts with ``prefix`` (claims of past job runs)."""
    now = now or utc_now()
    names = session.exec(select(Lease.name).where(col(Lease.name).startswith(prefix),
                                                  col(Lease.expires_at) < now).limit(limit)).all()
    for name in names:
        row = session.get(Lease, name)
        if row is not None:
            session.delete(row)
    session.flush()
    return len(names)
