from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from tests.support.store_helpers import (
    NOW,
    force_state,
    fresh_engine,
    get,
    new_plan,
    sample_estimate,
    sample_path,
)
from workflow.model.errors import ActiveUpgradeExists, NotFound, RuleViolation
from workflow.store import plans
from workflow.store.database import session
from workflow.store.states import PlanState, transition
from workflow.store.tables import AuditEvent, ChecklistItem, PlanHop


def test_create_plan_stores_hops_checklist_lock_and_audit(tmp_path: Path) -> None:
    engine = fresh_engine(tmp_path)
    plan_id = new_plan(engine)
    with session(engine) as s:
        plan = get(s, plan_id)
        assert plan.state == PlanState.PLANNED
        assert (plan.current_version, plan.target_version, plan.track) == ("10.3.0 CU2", "10.5.0 CU1", "main")
        assert plans.stored_path(s, plan).hops[0].name == "DataMiner 10.4.0.dmupgrade"
        assert plan.estimate["total_high_minutes"] == 150
        hops = plans.hops(s, plan_id=plan_id)
        assert [(h.position, str(h.to_hop().version), h.to_hop().checks) for h in hops] == [
            (0, "10.4.0", ("VerifyClusterPorts",)), (1, "10.5.0 CU1", ())
        ]
        items = list(s.exec(select(ChecklistItem).where(ChecklistItem.plan_id == plan_id)))
        assert any(i.key.startswith("details.requirement.") and ".NET" in i.title for i in items)
        assert plans.active_plan(s, dms_name="default") is not None
        actions = [e.action for e in s.exec(select(AuditEvent))]
        assert "plan.created" in actions


def test_one_active_plan_per_dms(tmp_path: Path) -> None:
    engine = fresh_engine(tmp_path)
    first = new_plan(engine)
    with pytest.raises(ActiveUpgradeExists) as info:
        new_plan(engine)
    assert info.value.plan_id == first and f"#{first}" in str(info.value)
    other = new_plan(engine, dms_name="lab")  # another DMS is independent
    assert other != first
    with session(engine) as s:
        transition(s, plan_id=first, to=PlanState.CANCELLED, actor="U1", reason="changed my mind")
    assert new_plan(engine) > other  # the lock was released


def test_dedupe_key_returns_the_same_plan(tmp_path: Path) -> None:
    engine = fresh_engine(tmp_path)
    first = new_plan(engine, dedupe_key="slack:trigger-1")
    assert new_plan(engine, dedupe_key="slack:trigger-1") == first
    with session(engine) as s:
        assert len(plans.list_plans(s)) == 1


def test_window_schedules_and_moves(tmp_path: Path) -> None:
    engine = fresh_engine(tmp_path)
    plan_id = new_plan(engine, window=True)
    with session(engine) as s:
        plan = get(s, plan_id)
        assert plan.state == PlanState.SCHEDULED
        assert plan.window_start == NOW and plan.window_end == NOW + timedelta(hours=4)
    force_state(engine, plan_id=plan_id, state=PlanState.PRECHECKED)
    with session(engine) as s:
        plans.set_window(s, plan_id=plan_id, start=NOW + timedelta(days=1),
                         end=NOW + timedelta(days=1, hours=2), actor="U2")
    with session(engine) as s:
        assert get(s, plan_id).state == PlanState.SCHEDULED  # the pre-check belonged to the old window
    with pytest.raises(RuleViolation, match="end after"), session(engine) as s:
        plans.set_window(s, plan_id=plan_id, start=NOW, end=NOW, actor="U2")
    force_state(engine, plan_id=plan_id, state=PlanState.EXECUTING)
    with pytest.raises(RuleViolation, match="no longer"), session(engine) as s:
        plans.set_window(s, plan_id=plan_id, start=NOW, end=NOW + timedelta(hours=1), actor="U2")


def test_the_time_slot_item_says_whether_the_window_holds_the_execution(tmp_path: Path) -> None:
    engine = fresh_engine(tmp_path)
    plan_id = new_plan(engine, window=True)  # 4 h against an execution estimate of 1-2 h

    def slot() -> ChecklistItem:
        with session(engine) as s:
            return s.exec(select(ChecklistItem).where(ChecklistItem.plan_id == plan_id,
                                                      ChecklistItem.key == "details.time_slot")).one()

    assert slot().checked and "holds the execution estimate of at most 2h00m" in slot().detail
    with session(engine) as s:
        plans.set_window(s, plan_id=plan_id, start=NOW, end=NOW + timedelta(minutes=90), actor="U2")
    assert not slot().checked
    assert "1h30m window is shorter than the execution estimate of up to 2h00m" in slot().detail


def test_window_needs_both_ends(tmp_path: Path) -> None:
    engine = fresh_engine(tmp_path)
    with pytest.raises(RuleViolation), session(engine) as s:
        plans.create_plan(s, dms_name="default", path=sample_path(), estimate=sample_estimate(),
                          requester="U1", channel="C1", window_start=NOW, window_end=None)
    with session(engine) as s:
        assert plans.list_plans(s) == []


def test_mark_step_is_idempotent(tmp_path: Path) -> None:
    engine = fresh_engine(tmp_path)
    plan_id = new_plan(engine)
    with session(engine) as s:
        hop_id = plans.hops(s, plan_id=plan_id)[0].id
    assert hop_id is not None
    with session(engine) as s:
        first = plans.mark_step(s, hop_id=hop_id, step="upload", event="started").upload_started_at
    with session(engine) as s:
        again = plans.mark_step(s, hop_id=hop_id, step="upload", event="started").upload_started_at
        assert again == first
        hop = plans.mark_step(s, hop_id=hop_id, step="upgrade", event="done")
        assert hop.upgrade_started_at is not None and hop.upgrade_done_at is not None
    with session(engine) as s:
        events = [e.action for e in s.exec(select(AuditEvent).where(AuditEvent.action.startswith("hop.")))]
        assert events == ["hop.upload.started", "hop.upgrade.done"]
        stored = s.get(PlanHop, hop_id)
        assert stored is not None and stored.upload_started_at == first
    with pytest.raises(ValueError), session(engine) as s:
        plans.mark_step(s, hop_id=hop_id, step="reboot", event="started")  # type: ignore[arg-type]
    with pytest.raises(NotFound), session(engine) as s:
        plans.mark_step(s, hop_id=999, step="upload", event="started")


def test_learned_minutes_is_median_of_recent(tmp_path: Path) -> None:
    engine = fresh_engine(tmp_path)
    with session(engine) as s:
        assert plans.learned_minutes(s, dms_name="default", kind="agent_startup") is None
        for minutes in (100.0, 10.0, 12.0, 11.0, 50.0, 13.0):
            plans.record_duration(s, dms_name="default", kind="agent_startup", minutes=minutes)
        plans.record_duration(s, dms_name="lab", kind="agent_startup", minutes=1.0)
    with session(engine) as s:
        # the last five: 10, 12, 11, 50, 13 -> 12
        assert plans.learned_minutes(s, dms_name="default", kind="agent_startup") == 12.0
        assert plans.learned_minutes(s, dms_name="default", kind="agent_startup", last=2) == 31.5
        assert plans.learned_minutes(s, dms_name="lab", kind="agent_startup") == 1.0


def test_progress_and_history(tmp_path: Path) -> None:
    engine = fresh_engine(tmp_path)
    first = new_plan(engine)
    with session(engine) as s:
        plans.update_progress(s, plan_id=first, agents=[{"id": 1, "name": "DMA1", "status": "Running"}],
                              eta=NOW)
        transition(s, plan_id=first, to=PlanState.CANCELLED, actor="U1", reason="x")
    second = new_plan(engine)
    with session(engine) as s:
        assert [p.id for p in plans.history(s)] == [second, first]
        assert [p.id for p in plans.active_plans(s)] == [second]
        plan = get(s, first)
        assert plan.agents[0]["name"] == "DMA1" and plan.eta == NOW


def test_the_paths_warnings_are_stored_and_come_back_with_the_plan(tmp_path: Path) -> None:
    """A known issue or a preview target must reach the plan message, not only `dm-upgrade path`."""
    from dms.upgrade_path import PathWarning, WarningKind
    from tests.support.store_helpers import sample_estimate, sample_path
    from workflow.store.snapshot import load_snapshot

    engine = fresh_engine(tmp_path)
    warning = PathWarning(kind=WarningKind.KNOWN_ISSUE, text="hop 2 hits a known issue", url="https://x",
                          hop=1)
    path = sample_path().model_copy(update={"warnings": (warning,)})
    with session(engine) as s:
        plan = plans.create_plan(s, dms_name="default", path=path, estimate=sample_estimate(), requester="U1",
                                 channel="C1")
        assert plan.id is not None
        plan_id = plan.id
    with session(engine) as s:
        assert plans.stored_path(s, get(s, plan_id)).warnings == (warning,)
        assert load_snapshot(s, plan_id=plan_id).warnings == (warning,)
