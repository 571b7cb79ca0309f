"""The append-only audit log: who did what to which plan, when and why; and its export.

Rows are only ever inserted. The ORM refuses updates and deletes of ``AuditEvent`` (a guard against our
own bugs; the database user's grants are the guard against people).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import event, insert
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapper, ORMExecuteState
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from workflow.model.clock import as_utc, utc_now
from workflow.store.tables import AuditEvent

ExportFormat = Literal["jsonl", "csv"]
CSV_COLUMNS = ("id", "at", "plan_id", "actor", "action", "from_state", "to_state", "reason", "detail")


class AuditIsAppendOnly(RuntimeError):
    """A programming error: something tried to change or delete an audit row."""


@event.listens_for(AuditEvent, "before_update")
def _refuse_update(mapper: Mapper[Any], connection: Connection, target: AuditEvent) -> None:
    raise AuditIsAppendOnly(f"audit event #{target.id} cannot be changed")


@event.listens_for(AuditEvent, "before_delete")
def _refuse_delete(mapper: Mapper[Any], connection: Connection, target: AuditEvent) -> None:
    raise AuditIsAppendOnly(f"audit event #{target.id} cannot be deleted")


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    plan_id: int | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
    reason: str = "",
    detail: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> None:
    """Append one audit row in the caller's transaction, stamped ``now`` (the caller's clock) or the
    wall clock.

    Written with the unit's other rows in one INSERT, at its next statement or its commit (``_write``), so
    whatever the unit reads next sees it. As ORM objects they went in one INSERT ... RETURNING each: on
    SQLite the ORM sends rows whose ids it needs back one at a time, six for a pre-check's outcome."""
    row = {"at": now or utc_now(), "plan_id": plan_id, "actor": actor, "action": action,
           "from_state": from_state, "to_state": to_state, "reason": reason, "detail": dict(detail or {})}
    session.info.setdefault(_PENDING, []).append(row)


# ``Session.info`` key of the rows ``record`` appended and not yet written; a rollback drops them with the
# change they told of (``database.UNIT_MEMORY``).
_PENDING = "dmu.audit"


def _write(session: Session) -> None:
    rows = session.info.pop(_PENDING, None)
    if rows:
        session.connection().execute(insert(AuditEvent.__table__), rows)  # type: ignore[attr-defined]


@event.listens_for(OrmSession, "do_orm_execute")
def _before_a_statement(state: ORMExecuteState) -> None:
    _write(state.session)  # type: ignore[arg-type]


@event.listens_for(OrmSession, "before_commit")
def _before_commit(session: OrmSession) -> None:
    _write(session)  # type: ignore[arg-type]



def events(
    session: Session, *, plan_id: int | None = None, since: datetime | None = None
) -> list[AuditEvent]:
    """Audit rows in the order they were written, optionally for one plan and/or from ``since`` on."""
    statement = select(AuditEvent)
    if plan_id is not None:
        statement = statement.where(AuditEvent.plan_id == plan_id)
    if since is not None:
        if since.tzinfo is None:
            raise ValueError("since must be timezone-aware")
        statement = statement.where(col(AuditEvent.at) >= since)
    return list(session.exec(statement.order_by(col(AuditEvent.id))))


def _as_dict(row: AuditEvent) -> dict[str, Any]:
    at = as_utc(row.at)
    return {
        "id": row.id,
        "at": at.isoformat() if at else None,
        "plan_id": row.plan_id,
        "actor": row.actor,
        "action": row.action,
        "from_state": row.from_state,
        "to_state": row.to_state,
        "reason": row.reason,
        "detail": row.detail,
    }


def iter_export(session: Session, *, fmt: ExportFormat, since: datetime | None = None) -> Iterator[str]:
    """The audit log as text chunks (one line each), for streaming into a file or a response."""
    if fmt not in ("jsonl", "csv"):
        raise ValueError(f"unknown audit export format {fmt!r}; use jsonl or csv")
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        yield buffer.getvalue()
    for row in events(session, since=since):
        data = _as_dict(row)
        if fmt == "jsonl":
            yield json.dumps(data, sort_keys=True, ensure_ascii=False) + "\n"
        else:
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
            data["detail"] = json.dumps(data["detail"], sort_keys=True, ensure_ascii=False)
            writer.writerow({key: "" if value is None else value for key, value in data.items()})
            yield buffer.getvalue()


def export(session: Session, *, fmt: ExportFormat, since: datetime | None = None) -> str:
    """The whole audit log (from ``since``) as JSON Lines or CSV."""
    return "".join(iter_export(session, fmt=fmt, since=since))
