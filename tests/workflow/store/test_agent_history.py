from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.support.store_helpers import fresh_engine, new_plan
from workflow.store import agent_history, plans
from workflow.store.database import session


def _agent(
    agent_id: int, status: str, version: str | None = "10.4.0 CU3", *, reachable: bool = True
) -> dict[str, Any]:
    return {"id": agent_id, "name": f"DMA{agent_id}", "status": status, "detail": "", "version": version,
            "reachable": reachable}


def test_only_changes_are_recorded(tmp_path: Path) -> None:
    db = fresh_engine(tmp_path)
    plan_id = new_plan(db)
    t0 = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)
    with session(db) as s:
        first = agent_history.record_changes(s, plan_id=plan_id, previous=[],
                                             current=[_agent(1, "Running"), _agent(2, "Running")], at=t0)
        same = agent_history.record_changes(s, plan_id=plan_id, previous=[_agent(1, "Running")],
                                            current=[_agent(1, "Running")], at=t0 + timedelta(minutes=1))
        down = agent_history.record_changes(
            s, plan_id=plan_id, previous=[_agent(1, "Running"), _agent(2, "Running")],
            current=[_agent(1, "Starting", None), _agent(2, "Running", reachable=False)],
            at=t0 + timedelta(minutes=2))
    assert len(first) == 2 and same == [] and len(down) == 2
    with session(db) as s:
        rows = agent_history.changes(s, plan_id=plan_id)
    assert [(r.agent_name, r.status) for r in rows] == [
        ("DMA1", "Running"), ("DMA2", "Running"), ("DMA1", "Starting"), ("DMA2", "Unreachable")]
    assert rows[-1].at == t0 + timedelta(minutes=2)


def test_update_progress_records_what_changed_since_the_stored_view(tmp_path: Path) -> None:
    db = fresh_engine(tmp_path)
    plan_id = new_plan(db)
    with session(db) as s:
        plans.update_progress(s, plan_id=plan_id, agents=[_agent(1, "Running")])
        plans.update_progress(s, plan_id=plan_id, agents=[_agent(1, "Running")])
        plans.update_progress(s, plan_id=plan_id, agents=[_agent(1, "Disconnected", None)])
        plans.update_progress(s, plan_id=plan_id, agents=[_agent(1, "Running", "10.5.0 CU1")])
    with session(db) as s:
        rows = agent_history.changes(s, plan_id=plan_id)
    assert [(r.status, r.version) for r in rows] == [
        ("Running", "10.4.0 CU3"), ("Disconnected", None), ("Running", "10.5.0 CU1")]
