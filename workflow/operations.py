"""What the operations side of the bot reads and writes in the database, as workflow calls.

The composition root opens and migrates the database, the CLI's read-only commands export the audit log and
draw a timeline, ``/healthz`` proves the database takes a write, and ``/metrics`` counts plans, leases, the
Slack outbox and finished hops. They all live in ``bot/``, which never opens the store itself
(import-linter: "handlers and bot use workflow and workflow.model, not workflow.store"); this module is the
one door. Every call blocks on the database: callers on an event loop run it in a worker thread.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from workflow.model.clock import utc_now
from workflow.model.errors import DatabaseBusy
from workflow.store import audit, database, leases
from workflow.store.tables import Lease, PlanHop, SlackOutboxMessage, UpgradePlan
from workflow.timeline import Timeline, load_timeline

ExportFormat = audit.ExportFormat
AUDIT_CSV_COLUMNS = audit.CSV_COLUMNS
# Rows the health probe writes: not a lease anyone holds, so the metrics leave them out.
HEALTH_PREFIX = "healthz:"

__all__ = [
    "AUDIT_CSV_COLUMNS",
    "HEALTH_PREFIX",
    "ExportFormat",
    "OpsCounts",
    "audit_records",
    "database_takes_a_write",
    "migrate",
    "open_database",
    "read_counts",
    "read_timeline",
    "start_database",
]


def open_database(url: str, *, migrated: bool = True) -> Engine:
    """The engine for ``url`` (SQLite tuned as the bot runs it), its schema brought up to date first."""
    engine = database.make_engine(url)
    if migrated:
        database.migrate(engine)
    return engine


async def start_database(url: str) -> Engine:
    """``open_database`` off the event loop: a migration waiting for another replica's lock (PostgreSQL's
    advisory lock, up to a minute) must not freeze the loop."""
    with database.patience():
        try:
            return await database.off_loop(open_database, url)
        except DatabaseBusy as exc:
            # At start the database's own error is the useful one (no such file, refused, bad password):
            # the program turns it into one line, where "busy, try again" would mislead.
            if exc.__cause__ is not None:
                raise exc.__cause__ from None
            raise


def migrate(engine: Engine) -> None:
    database.migrate(engine)


@contextmanager
def _opened(url: str) -> Iterator[Session]:
    engine = open_database(url)
    try:
        with database.session(engine) as session:
            yield session
    finally:
        engine.dispose()


def audit_records(url: str, *, since: datetime | None) -> Iterator[str]:
    """The audit log of ``url`` as JSON lines, oldest first (``since``: from then on)."""
    with _opened(url) as session:
        yield from audit.iter_export(session, fmt="jsonl", since=since)


def read_timeline(url: str, *, plan_id: int, time_scale: float = 1.0) -> Timeline:
    """What ``dm-upgrade timeline`` draws for a plan; NotFound for a plan the database does not have."""
    with _opened(url) as session:
        return load_timeline(session, plan_id=plan_id, now=utc_now(), time_scale=time_scale)


def database_takes_a_write(db: Engine) -> None:
    """Write a row and remove it in the same transaction; raises when the database is read-only, locked or
    unreachable (a health check that only reads would call such a database healthy)."""
    name = f"{HEALTH_PREFIX}{uuid.uuid4().hex}"
    with database.session(db) as session:
        session.add(Lease(name=name, owner="healthz", expires_at=utc_now()))
        session.flush()
        leases.release(session, name=name, owner="healthz")


@dataclass(frozen=True)
class OpsCounts:
    """What every replica reports the same about the shared database."""

    plans_by_state: tuple[tuple[str, int], ...]
    leases: tuple[tuple[str, str], ...]  # (name, owner), health probes left out
    outbox_by_state: dict[str, int]
    hop_step_times: tuple[dict[str, datetime | None], ...]  # hops with at least one finished step


def read_counts(db: Engine) -> OpsCounts:
    with Session(db) as session:
        by_state = session.exec(select(UpgradePlan.state, func.count()).group_by(UpgradePlan.state)).all()
        held = session.exec(select(Lease)).all()
        outbox = session.exec(select(SlackOutboxMessage.state, func.count())
                              .group_by(SlackOutboxMessage.state)).all()
        hops = session.exec(select(PlanHop).where(
            col(PlanHop.upload_done_at).is_not(None) | col(PlanHop.upgrade_done_at).is_not(None)
            | col(PlanHop.wait_done_at).is_not(None))).all()
        return OpsCounts(
            plans_by_state=tuple(sorted((str(state), int(count)) for state, count in by_state)),
            leases=tuple((row.name, row.owner) for row in held if not row.name.startswith(HEALTH_PREFIX)),
            outbox_by_state={str(state): int(count) for state, count in outbox},
            hop_step_times=tuple(row.step_times() for row in hops))
