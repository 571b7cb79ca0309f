from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from bot.settings import Settings
from dms.models import CheckResult, CheckStatus
from tests.support.approvers import AnyApprovers, StaticApprovers
from tests.support.store_helpers import NOW, force_state, fresh_engine, get, new_plan
from workflow import approvals
from workflow.model.errors import AlreadyDecided, NotAuthorized, RuleViolation
from workflow.store import check_runs, checklist
from workflow.store.database import session
from workflow.store.states import PlanState
from workflow.store.tables import Approval, AuditEvent

INSIDE = NOW + timedelta(hours=1)


def _ready_plan(engine: Engine, *, precheck: CheckStatus | None = CheckStatus.PASS, tick: bool = True) -> int:
    plan_id = new_plan(engine, window=True)
    with session(engine) as s:
        if precheck is not None:
            result = CheckResult(name="agents_running", title="Agents run", status=precheck, detail="")
            check_runs.store(s, plan_id=plan_id, dms_name="default", kind="precheck", results=[result])
        if tick:
            gate = checklist.APPROVAL_GATE
            for item in checklist.open_required_manual(s, plan_id=plan_id, before_phase=gate):
                checklist.tick(s, plan_id=plan_id, key=item.key, actor="U_REQ", checked=True)
    force_state(engine, plan_id=plan_id, state=PlanState.AWAITING_APPROVAL)
    return plan_id


def _decide(engine: Engine, plan_id: int, **overrides: Any) -> Approval:
    options: dict[str, Any] = {
        "actor": "U_APP", "decision": "approved", "reason": "", "is_approver": True,
        "allow_self_approval": False, "now": INSIDE,
    }
    options.update(overrides)
    with session(engine) as s:
        return approvals.decide(s, plan_id=plan_id, **options)


async def test_directories() -> None:
    settings = Settings(_env_file=None, upgrade_approvers="U1, U2")
    static = StaticApprovers(settings.upgrade_approvers)
    assert await static.is_approver("U2") and not await static.is_approver("U3")
    combined = AnyApprovers(StaticApprovers([]), StaticApprovers(["U3"]))
    assert await combined.is_approver("U3") and not await combined.is_approver("U1")


def test_approve_moves_to_executing_with_audit(tmp_path: Path) -> None:
    engine = fresh_engine(tmp_path)
    plan_id = _ready_plan(engine)
    approval = _decide(engine, plan_id)
    assert approval.decision == "approved" and not approval.override
    with session(engine) as s:
        assert get(s, plan_id).state == PlanState.EXECUTING
        actions = [e.action for e in s.exec(select(AuditEvent).where(AuditEvent.plan_id == plan_id))]
        assert "approval.approved" in actions and "transition" in actions


def test_self_approval_refused_unless_allowed(tmp_path: Path) -> None:
    engine = fresh_engine(tmp_path)
    plan_id = _ready_plan(engine)
    with pytest.raises(NotAuthorized, match="another approver"):
        _decide(engine, plan_id, actor="U_REQ")
    with session(engine) as s:
        assert get(s, plan_id).state == PlanState.AWAITING_APPROVAL
    assert _decide(engine, plan_id, actor="U_REQ", allow_self_approval=True).actor == "U_REQ"


def test_non_approver_refused(tmp_path: Path) -> None:
    engine = fresh_engine(tmp_path)
    plan_id = _ready_plan(engine)
    with pytest.raises(NotAuthorized, match="not an upgrade approver"):
        _decide(engine, plan_id, is_approver=False)
    with pytest.raises(NotAuthorized):
        _decide(engine, plan_id, is_approver=False, decision="rejected", reason="no")


@pytest.mark.parametrize("now", [NOW - timedelta(minutes=1), NOW + timedelta(hours=4)])
def test_outside_window_refused(tmp_path: Path, now: object) -> None:
    engine = fresh_engine(tmp_path)
    plan_id = _ready_plan(engine)
    with pytest.raises(RuleViolation, match="window is open"):
        _decide(engine, plan_id, now=now)
    with pytest.raises(RuleViolation, match="window is open"):  # an override does not open the window
        _decide(engine, plan_id, now=now, reason="urgent")


@pytest.mark.parametrize("precheck", [CheckStatus.FAIL, None])
def test_precheck_not_passed_needs_override(tmp_path: Path, precheck: CheckStatus | None) -> None:
    engine = fresh_engine(tmp_path)
    plan_id = _ready_plan(engine, precheck=precheck)
    with pytest.raises(RuleViolation, match="pre-upgrade check"):
        _decide(engine, plan_id)
    approval = _decide(engine, plan_id, reason="alarm is known and harmless")
    assert approval.override and approval.reason == "alarm is known and harmless"
    with session(engine) as s:
        row = s.exec(select(AuditEvent).where(AuditEvent.action == "approval.approved")).one()
        assert row.reason == "alarm is known and harmless"
        waived = "pre-upgrade check " + ("failed" if precheck is CheckStatus.FAIL else "not run")
        assert row.detail == {"override": True, "overridden": [waived]}


def test_open_required_items_need_override(tmp_path: Path) -> None:
    engine = fresh_engine(tmp_path)
    plan_id = _ready_plan(engine, tick=False)
    with pytest.raises(RuleViolation, match="Backup taken") as info:
        _decide(engine, plan_id)
    assert any("required items" in reason for reason in info.value.reasons)
    assert _decide(engine, plan_id, reason="backup verified by phone").override
    with session(engine) as s:  # the audit names the items the override set aside, not just "override"
        row = s.exec(select(AuditEvent).where(AuditEvent.action == "approval.approved")).one()
    assert row.reason == "backup verified by phone"
    assert any("Backup taken" in text for text in row.detail["overridden"])


def test_not_awaiting_approval(tmp_path: Path) -> None:
    engine = fresh_engine(tmp_path)
    plan_id = _ready_plan(engine)
    force_state(engine, plan_id=plan_id, state=PlanState.PRECHECKED)
    with pytest.raises(RuleViolation, match="not awaiting approval"):
        _decide(engine, plan_id)


def test_reject_needs_reason_and_cancels(tmp_path: Path) -> None:
    engine = fresh_engine(tmp_path)
    plan_id = _ready_plan(engine)
    with pytest.raises(RuleViolation, match="reason"):
        _decide(engine, plan_id, decision="rejected", reason=" ")
    _decide(engine, plan_id, decision="rejected", reason="wrong week")
    with session(engine) as s:
        assert get(s, plan_id).state == PlanState.CANCELLED
    with pytest.raises(AlreadyDecided, match="rejected by U_APP"):
        _decide(engine, plan_id, actor="U_OTHER")


def test_second_decision_names_the_first(tmp_path: Path) -> None:
    engine = fresh_engine(tmp_path)
    plan_id = _ready_plan(engine)
    first = _decide(engine, plan_id, actor="U_A")
    with pytest.raises(AlreadyDecided) as info:
        _decide(engine, plan_id, actor="U_B")
    assert info.value.decided_by == "U_A" and info.value.decided_at == first.decided_at
    assert "approved by U_A at" in str(info.value)


def test_two_concurrent_claims_give_one_winner(tmp_path: Path) -> None:
    engine = fresh_engine(tmp_path)
    for _round in range(5):
        plan_id = _ready_plan(engine)
        barrier = threading.Barrier(4)
        outcomes: dict[str, object] = {}

        def claim(
            actor: str,
            plan_id: int = plan_id,
            barrier: threading.Barrier = barrier,
            outcomes: dict[str, object] = outcomes,
        ) -> None:
            barrier.wait()
            try:
                outcomes[actor] = _decide(engine, plan_id, actor=actor)
            except AlreadyDecided as exc:
                outcomes[actor] = exc

        threads = [threading.Thread(target=claim, args=(f"U_{n}",)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        winners = [a for a, o in outcomes.items() if isinstance(o, Approval)]
        losers = [o for o in outcomes.values() if isinstance(o, AlreadyDecided)]
        assert len(winners) == 1 and len(losers) == 3, outcomes
        assert all(loser.decided_by == winners[0] for loser in losers)
        with session(engine) as s:
            executing = s.exec(
                select(AuditEvent).where(AuditEvent.plan_id == plan_id, AuditEvent.to_state == "executing")
            ).all()
            assert len(executing) == 1
        force_state(engine, plan_id=plan_id, state=PlanState.DONE)
