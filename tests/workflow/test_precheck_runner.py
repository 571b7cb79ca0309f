"""The pre-check's own database work: what one run costs in statements, so that a fleet's 50 runs due at
once stay bound by the DMS's answers rather than by the database (benchmarks/bench_fleet.py)."""

from __future__ import annotations

from datetime import timedelta

from tests.support.statements import statements
from tests.workflow.conftest import REQUESTER, Harness
from workflow.events import CheckFinished, CheckStarted
from workflow.model.snapshot import PlanSnapshot
from workflow.store import audit
from workflow.store.states import PlanState

# A run is two units of work: the check's start (whether the job still wants it, state, path, CheckStarted
# with the plan's row), the outcome (results, ticks, move, CheckFinished with the whole plan). Before the
# checklist was read once per unit and the results written in one INSERT, the same run took 59 statements
# in four units; then 35, its audit rows written together and a snapshot's runs read in one query; 31 since
# CheckStarted, a note of one line, carries the plan's row instead of a whole snapshot; 28 since a unit
# holds the plan it read (``workflow.store.states.get_plan``) instead of SELECTing it again; 26 since the
# results go in one executemany; 24 in two units since the job asks whether the run is wanted in the run's
# first unit instead of one of its own; 20 since a unit's audit rows go in one INSERT; 19 since the snapshot
# of the outcome takes the results its unit just stored from the unit, not from a SELECT.
STATEMENT_BUDGET = 19
UNITS = 2


async def test_a_precheck_stays_within_its_budget_of_statements(harness: Harness) -> None:
    snap = await harness.engine.create_plan(
        target="10.4", track=None, window_start=harness.clock.now + timedelta(hours=30), window_minutes=240,
        requester=REQUESTER, channel="C1")
    harness.clock.advance(hours=6)
    with statements(harness.engine.db) as ran:
        await harness.engine.on_precheck_due(snap.id)
    after = harness.engine.status(plan_id=snap.id)
    assert after.state in (PlanState.PRECHECKED, PlanState.BLOCKED) and after.precheck is not None
    assert len(ran) <= STATEMENT_BUDGET, "\n".join(ran)
    assert sum(statement.startswith("BEGIN") for statement in ran) == UNITS, "\n".join(ran)
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


async def test_the_check_started_note_is_drawn_on_the_plan_row_and_the_outcome_on_the_whole_plan(
        harness: Harness) -> None:
    snap = await harness.engine.create_plan(
        target="10.4", track=None, window_start=harness.clock.now + timedelta(hours=30), window_minutes=240,
        requester=REQUESTER, channel="C1")
    harness.clock.advance(hours=6)
    await harness.engine.on_precheck_due(snap.id)
    (started,) = harness.notifier.of_type(CheckStarted, plan_id=snap.id)
    (finished,) = harness.notifier.of_type(CheckFinished, plan_id=snap.id)
    # The note says who started what, where: the plan's row; the hops, checklist and checks were not read.
    assert not isinstance(started.snapshot, PlanSnapshot)
    assert (started.snapshot.id, started.snapshot.channel, started.snapshot.dms_name) == (snap.id, "C1",
                                                                                          snap.dms_name)
    assert started.snapshot.state is PlanState.SCHEDULED
    assert isinstance(finished.snapshot, PlanSnapshot) and finished.snapshot.precheck is not None


async def test_a_precheck_due_again_after_its_run_starts_nothing_and_tells_nothing(harness: Harness) -> None:
    """The job fires again (a restart, a second replica): the plan was checked since this window's pre-check
    time, so the run's first unit says it is not wanted, and nothing is stored or told."""
    snap = await harness.engine.create_plan(
        target="10.4", track=None, window_start=harness.clock.now + timedelta(hours=30), window_minutes=240,
        requester=REQUESTER, channel="C1")
    harness.clock.advance(hours=6)
    await harness.engine.on_precheck_due(snap.id)
    told = len(harness.notifier.events)
    with statements(harness.engine.db) as ran:
        await harness.engine.on_precheck_due(snap.id)
    assert len(harness.notifier.events) == told
    assert not [statement for statement in ran if statement.startswith(("INSERT", "UPDATE"))]
    with harness.engine.context.session() as session:
        runs = [row for row in audit.events(session, plan_id=snap.id) if row.action == "check.precheck"]
    assert len(runs) == 1
