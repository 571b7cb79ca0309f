from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from dms.models import CheckResult, CheckStatus
from tests.support.store_helpers import NOW, force_state, fresh_engine, new_plan
from workflow.model.errors import NotFound
from workflow.model.snapshot import PlanHeader
from workflow.store import approvals, check_runs, checklist, plans
from workflow.store.checklist import Phase
from workflow.store.database import session
from workflow.store.message_refs import get_message_ref, plan_for_message, save_message_ref
from workflow.store.snapshot import load_header, load_snapshot
from workflow.store.states import PlanState


def test_snapshot_has_everything_a_renderer_needs(tmp_path: Path) -> None:
    engine = fresh_engine(tmp_path)
    plan_id = new_plan(engine, window=True)
    with session(engine) as s:
        hop_id = plans.hops(s, plan_id=plan_id)[0].id
        assert hop_id is not None
        plans.mark_step(s, hop_id=hop_id, step="upload", event="done")
        check_runs.store(s, plan_id=plan_id, dms_name="default", kind="precheck", results=[
            CheckResult(name="alarms", title="No critical alarms", status=CheckStatus.WARN, detail="1 major"),
        ], baseline={"elements": 12})
        plans.update_progress(s, plan_id=plan_id, agents=[{"id": 1, "name": "DMA1", "status": "Running",
                                                          "detail": "", "version": "10.4.0"}], eta=NOW)
        checklist.tick(s, plan_id=plan_id, key="details.backup", actor="U9", checked=True)
    force_state(engine, plan_id=plan_id, state=PlanState.AWAITING_APPROVAL)
    with session(engine) as s:
        approvals.claim_decision(s, plan_id=plan_id, actor="U_APP", decision="approved", reason="ok")
    with session(engine) as s:
        snap = load_snapshot(s, plan_id=plan_id)
    assert snap.state is PlanState.EXECUTING and snap.window_start == NOW and snap.eta == NOW
    assert [hop.status for hop in snap.hops] == ["uploaded", "pending"]
    assert snap.estimate is not None and snap.estimate.high_minutes == 150
    assert snap.precheck is not None and snap.precheck.passed and snap.precheck.results[0].name == "alarms"
    assert snap.verification is None
    assert snap.approval is not None and snap.approval.actor == "U_APP"
    assert snap.agents[0]["version"] == "10.4.0"
    by_phase = snap.checklist_by_phase
    assert list(by_phase) == list(Phase)
    backup = next(item for item in by_phase[Phase.DETAILS] if item.key == "details.backup")
    assert backup.checked_by == "U9" and backup.checked_at is not None
    assert snap.created_at.tzinfo is not None
    with pytest.raises(ValidationError):  # frozen
        snap.state = PlanState.DONE  # type: ignore[misc]
    with session(engine) as s, pytest.raises(NotFound):
        load_snapshot(s, plan_id=999)


def test_the_header_is_the_snapshot_s_own_row_without_its_five_queries(tmp_path: Path) -> None:
    engine = fresh_engine(tmp_path)
    plan_id = new_plan(engine, window=True)
    with session(engine) as s:
        plans.update_progress(s, plan_id=plan_id, agents=[], eta=NOW)
    with session(engine) as s:
        whole = load_snapshot(s, plan_id=plan_id)
    with session(engine) as s:
        header = load_header(s, plan_id=plan_id)
    assert type(header) is PlanHeader
    assert header == PlanHeader(**{name: getattr(whole, name) for name in PlanHeader.model_fields})
    assert header.window_start == NOW and header.eta == NOW and header.created_at.tzinfo is not None
    with session(engine) as s, pytest.raises(NotFound):
        load_header(s, plan_id=999)


def test_message_refs_survive_and_replace(tmp_path: Path) -> None:
    engine = fresh_engine(tmp_path)
    plan_id = new_plan(engine)
    with session(engine) as s:
        save_message_ref(s, plan_id=plan_id, role="plan", channel="C1", ts="1.1")
        save_message_ref(s, plan_id=plan_id, role="status", channel="C1", ts="1.2", thread_ts="1.1")
    with session(engine) as s:
        save_message_ref(s, plan_id=plan_id, role="status", channel="C1", ts="1.3", thread_ts="1.1")
    with session(engine) as s:
        status = get_message_ref(s, plan_id=plan_id, role="status")
        assert status is not None and (status.ts, status.thread_ts) == ("1.3", "1.1")
        assert get_message_ref(s, plan_id=plan_id, role="other") is None
        assert plan_for_message(s, channel="C1", ts="1.1") == plan_id
        assert plan_for_message(s, channel="C2", ts="1.1") is None


def test_the_snapshot_shows_each_kind_of_run_at_its_newest(tmp_path: Path) -> None:
    engine = fresh_engine(tmp_path)
    plan_id, other = new_plan(engine), new_plan(engine, dms_name="other")

    def run(kind: str, name: str, status: CheckStatus, *, plan: int = plan_id) -> None:
        with session(engine) as s:
            check_runs.store(s, plan_id=plan, dms_name="default", kind=kind,  # type: ignore[arg-type]
                             results=[CheckResult(name=name, title=name, status=status, detail="")])

    run("precheck", "first", CheckStatus.FAIL)
    run("verify", "verified", CheckStatus.PASS)
    run("precheck", "second", CheckStatus.PASS)
    run("precheck", "elsewhere", CheckStatus.FAIL, plan=other)  # another plan's newer run is not this one's
    with session(engine) as s:
        snap = load_snapshot(s, plan_id=plan_id)
    assert snap.precheck is not None and [r.name for r in snap.precheck.results] == ["second"]
    assert snap.precheck.passed
    assert snap.verification is not None and [r.name for r in snap.verification.results] == ["verified"]
