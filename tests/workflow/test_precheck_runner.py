"""The pre-check's own database work: what one run costs in statements, so that a fleet's 50 runs due at
once stay bound by the DMS's answers rather than by the database (benchmarks/bench_fleet.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, event

from tests.workflow.conftest import REQUESTER, Harness
from workflow.events import CheckFinished
from workflow.store import audit
from workflow.store.states import PlanState

# A run is three units of work: the job's look at the plan, the check's start (state, path, CheckStarted
# with its snapshot), the outcome (results, ticks, move, CheckFinished with its snapshot). Before the
# checklist was read once per unit and the results written in one INSERT, the same run took 59 statements
# in four units; 35 now, its audit rows written together and a snapshot's runs read in one query.
STATEMENT_BUDGET = 37


@contextmanager
def counted(db: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(" ".join(statement.split())[:80])

    event.listen(db, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(db, "before_cursor_execute", seen)


async def test_a_precheck_stays_within_its_budget_of_statements(harness: Harness) -> None:
    snap = await harness.engine.create_plan(
        target="10.4", track=None, window_start=harness.clock.now + timedelta(hours=30), window_minutes=240,
        requester=REQUESTER, channel="C1")
    harness.clock.advance(hours=6)
    with counted(harness.engine.db) as statements:
        await harness.engine.on_precheck_due(snap.id)
    after = harness.engine.status(plan_id=snap.id)
    assert after.state in (PlanState.PRECHECKED, PlanState.BLOCKED) and after.precheck is not None
    assert len(statements) <= STATEMENT_BUDGET, "\n".join(statements)
    # Nothing was saved on: every result stored in the order the check told it, the bot's ticks audited.
    finished = harness.notifier.of_type(CheckFinished, plan_id=snap.id)
    assert len(finished) == 1 and len(finished[0].results) > 5
    assert after.precheck.results == finished[0].results
    told = finished[0].snapshot.precheck
    assert told is not None and told.results == after.precheck.results
    with harness.engine.context.session() as session:
        ticks = {row.detail["key"] for row in audit.events(session, plan_id=snap.id)
                 if row.action == "checklist.auto"}
    assert {"precheck.health", "precheck.connect", "details.no_problems"} <= ticks
