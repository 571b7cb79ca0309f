"""Check runs (the pre-upgrade check and the post-upgrade verification) and their results.

A run passes when no result failed: warnings and manual confirmations are shown, not blocking. The
pre-check's ``baseline`` (element counts, key elements, ...) is what the verification compares against.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import func, insert
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from dms.models import CheckResult, CheckStatus, Source
from workflow.model.clock import utc_now
from workflow.store import audit
from workflow.store.tables import CheckResultRow, CheckRun

RunKind = Literal["precheck", "verify"]


_SOURCES = frozenset(source.value for source in Source)
# ``Session.info`` key of the results this unit of work stored (run id -> results): the unit that stores a run
# draws its CheckFinished from a snapshot, which read them straight back. A rollback forgets them with the
# runs (``database.UNIT_MEMORY``).
_STORED = "dmu.stored_results"


def run_passed(results: Sequence[CheckResult]) -> bool:
    return not any(result.status is CheckStatus.FAIL for result in results)


def store(
    session: Session,
    *,
    plan_id: int | None,
    dms_name: str,
    kind: RunKind,
    results: Sequence[CheckResult],
    baseline: dict[str, Any] | None = None,
    actor: str = "bot",
    passed: bool | None = None,
    started_at: datetime | None = None,
    now: datetime | None = None,
) -> CheckRun:
    """Store a finished run with its results (in order) and audit its outcome.

    ``passed`` defaults to "no result failed"; a caller with a stricter verdict may pass its own.
    ``now`` is the finish time in the caller's clock (the engine's), the wall clock by default.
    """
    finished = now or utc_now()
    if kind not in ("precheck", "verify"):
        raise ValueError(f"unknown check run kind {kind!r}")
    run = CheckRun(
        plan_id=plan_id,
        dms_name=dms_name,
        kind=kind,
        actor=actor,
        started_at=started_at or finished,
        finished_at=finished,
        passed=run_passed(results) if passed is None else passed,
        baseline=dict(baseline or {}),
    )
    session.add(run)
    session.flush()
    assert run.id is not None
    if results:
        # One executemany on the table: nothing reads the rows back in this unit as objects (a SQLModel row
        # each with its own INSERT ... RETURNING cost more than the check's other writes together), and the
        # ORM's bulk INSERT on the entity split them by the columns they leave NULL (three statements).
        session.connection().execute(insert(CheckResultRow.__table__), [  # type: ignore[attr-defined]
            {"run_id": run.id, "position": position, "name": result.name, "title": result.title,
             "status": result.status.value, "detail": result.detail, "agent": result.agent,
             "source": result.established.value}
            for position, result in enumerate(results)
        ])
    # Frozen models whose every column was just written as is: a read in this unit would build equal ones.
    session.info.setdefault(_STORED, {})[run.id] = tuple(results)
    failed = [result.name for result in results if result.status is CheckStatus.FAIL]
    audit.record(
        session,
        actor=actor,
        action=f"check.{kind}",
        plan_id=plan_id,
        reason="passed" if run.passed else f"failed: {', '.join(failed)}",
        detail={"run_id": run.id, "dms": dms_name, "failed": failed},
        now=finished,
    )
    return run


record_run = store


def _last(session: Session, *, plan_id: int, kind: RunKind) -> CheckRun | None:
    statement = (
        select(CheckRun)
        .where(CheckRun.plan_id == plan_id, CheckRun.kind == kind)
        .order_by(col(CheckRun.id).desc())
        .limit(1)
    )
    return session.exec(statement).first()


def last_precheck(session: Session, *, plan_id: int) -> CheckRun | None:
    return _last(session, plan_id=plan_id, kind="precheck")


def latest(session: Session, *, plan_id: int) -> dict[str, CheckRun]:
    """The plan's last run of each kind, in one query (a snapshot wants both)."""
    newest = (select(func.max(CheckRun.id)).where(CheckRun.plan_id == plan_id)
              .group_by(col(CheckRun.kind)).scalar_subquery())
    return {run.kind: run for run in session.exec(select(CheckRun).where(col(CheckRun.id).in_(newest)))}


def results(session: Session, *, run_id: int) -> list[CheckResult]:
    stored: dict[int, tuple[CheckResult, ...]] = session.info.get(_STORED, {})
    if run_id in stored:
        return list(stored[run_id])
    # The columns, not ORM rows: results are only ever read whole, and a row object each (identity map,
    # instance state) cost more than the query.
    row = CheckResultRow
    statement = select_columns(col(row.name), col(row.title), col(row.status), col(row.detail),
                               col(row.agent), col(row.source))
    statement = statement.where(col(CheckResultRow.run_id) == run_id).order_by(col(CheckResultRow.position))
    rows = session.execute(statement)
    return [
        CheckResult(name=name, title=title, status=CheckStatus(status), detail=detail, agent=agent,
                    source=Source(source) if source in _SOURCES else None)
        for name, title, status, detail, agent, source in rows
    ]
