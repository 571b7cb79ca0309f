"""Storing a check run: its results in the order given, in one statement."""

from __future__ import annotations

from pathlib import Path

from dms.models import CheckResult, CheckStatus, Source
from tests.support.statements import statements
from tests.support.store_helpers import fresh_engine, new_plan
from workflow.store import check_runs
from workflow.store.database import session


def test_results_with_and_without_an_agent_or_source_go_in_one_statement_in_order(tmp_path: Path) -> None:
    """The ORM's bulk INSERT split the rows by the columns they left empty: three statements for one
    pre-check. Each result must still come back as it was given."""
    engine = fresh_engine(tmp_path)
    plan_id = new_plan(engine)
    results = [
        CheckResult(name="agents_running", title="Every agent is Running", status=CheckStatus.PASS,
                    detail="all 4 agents are Running"),
        CheckResult(name="one_version", title="All agents run one version", status=CheckStatus.FAIL,
                    detail="mixed", agent="DMA-2"),
        CheckResult(name="backup", title="A backup was taken", status=CheckStatus.MANUAL, detail="confirm",
                    source=Source.PERSON),
        CheckResult(name="packages", title="Packages", status=CheckStatus.PASS, detail="all there",
                    agent="DMA-1", source=Source.BOT),
    ]
    with statements(engine, starting="INSERT INTO check_result") as inserts, session(engine) as s:
        run = check_runs.store(s, plan_id=plan_id, dms_name="default", kind="precheck", results=results)
    assert len(inserts) == 1, inserts
    assert run.id is not None and not run.passed
    with session(engine) as s:
        assert check_runs.results(s, run_id=run.id) == results


def test_the_unit_that_stores_a_run_reads_its_results_back_without_a_select(tmp_path: Path) -> None:
    """A pre-check's outcome stores the run and then draws CheckFinished from a snapshot, which SELECTed the
    results it had just written. What it gets must be what a later unit reads from the table."""
    engine = fresh_engine(tmp_path)
    plan_id = new_plan(engine)
    results = [
        CheckResult(name="agents_running", title="Every agent is Running", status=CheckStatus.PASS,
                    detail="all 4 agents are Running"),
        CheckResult(name="backup", title="A backup was taken", status=CheckStatus.MANUAL, detail="confirm"),
        CheckResult(name="one_version", title="One version", status=CheckStatus.FAIL, detail="mixed",
                    agent="DMA-2", source=Source.DATAMINER),
    ]
    with session(engine) as s:
        run = check_runs.store(s, plan_id=plan_id, dms_name="default", kind="precheck", results=results)
        assert run.id is not None
        with statements(engine, starting="SELECT") as selects:
            in_the_unit = check_runs.results(s, run_id=run.id)
    assert selects == []
    with session(engine) as s:
        assert check_runs.results(s, run_id=run.id) == in_the_unit == results


def test_a_unit_that_rolled_back_its_run_does_not_read_its_results_from_memory(tmp_path: Path) -> None:
    engine = fresh_engine(tmp_path)
    plan_id = new_plan(engine)
    result = CheckResult(name="agents_running", title="Every agent is Running", status=CheckStatus.PASS,
                         detail="ok")
    with session(engine) as s:
        run = check_runs.store(s, plan_id=plan_id, dms_name="default", kind="precheck", results=[result])
        assert run.id is not None
        s.rollback()
        assert check_runs.results(s, run_id=run.id) == []
