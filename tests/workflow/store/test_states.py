from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from sqlmodel import select

from tests.support.statements import statements
from tests.support.store_helpers import force_state, fresh_engine, get, new_plan
from workflow.model.errors import IllegalTransition, NotFound
from workflow.store.database import session
from workflow.store.states import ALLOWED, TERMINAL, PlanState, get_plan, transition
from workflow.store.tables import ActiveUpgrade, AuditEvent

PAIRS = list(itertools.product(PlanState, PlanState))
ALLOWED_PAIRS = [(a, b) for a, b in PAIRS if b in ALLOWED[a]]
REFUSED_PAIRS = [(a, b) for a, b in PAIRS if b not in ALLOWED[a]]


def test_table_matches_design() -> None:
    s = PlanState
    # The happy path (docs/architecture.md, the state machine).
    chain = [s.PLANNED, s.SCHEDULED, s.PRECHECKED, s.AWAITING_APPROVAL, s.EXECUTING, s.VERIFYING, s.DONE]
    for a, b in itertools.pairwise(chain):
        assert b in ALLOWED[a]
    for state in set(PlanState) - TERMINAL:
        assert s.CANCELLED in ALLOWED[state]  # any active state can be cancelled
    for state in TERMINAL:
        assert ALLOWED[state] == frozenset()
    assert s.BLOCKED in ALLOWED[s.SCHEDULED] and s.BLOCKED in ALLOWED[s.PRECHECKED]
    assert s.PRECHECKED in ALLOWED[s.BLOCKED]
    assert s.FAILED in ALLOWED[s.EXECUTING] and s.EXPIRED in ALLOWED[s.AWAITING_APPROVAL]
    assert s.EXECUTING not in ALLOWED[s.PRECHECKED]  # never execute without an approval


@pytest.mark.parametrize(("source", "target"), ALLOWED_PAIRS, ids=[f"{a}->{b}" for a, b in ALLOWED_PAIRS])
def test_allowed_transition(tmp_path: Path, source: PlanState, target: PlanState) -> None:
    engine = fresh_engine(tmp_path)
    plan_id = new_plan(engine)
    force_state(engine, plan_id=plan_id, state=source)
    with session(engine) as s:
        plan = transition(s, plan_id=plan_id, to=target, actor="U1", reason="because")
        assert plan.state == target
    with session(engine) as s:
        assert get(s, plan_id).state == target.value
        rows = list(s.exec(select(AuditEvent).where(AuditEvent.action == "transition")))
        assert [(r.from_state, r.to_state, r.actor, r.reason) for r in rows] == [
            (source.value, target.value, "U1", "because")
        ]
        lock = s.get(ActiveUpgrade, "default")
        assert (lock is None) == target.terminal


@pytest.mark.parametrize(("source", "target"), REFUSED_PAIRS, ids=[f"{a}->{b}" for a, b in REFUSED_PAIRS])
def test_refused_transition(tmp_path: Path, source: PlanState, target: PlanState) -> None:
    engine = fresh_engine(tmp_path)
    plan_id = new_plan(engine)
    force_state(engine, plan_id=plan_id, state=source)
    with pytest.raises(IllegalTransition) as info, session(engine) as s:
        transition(s, plan_id=plan_id, to=target, actor="U1", reason="no")
    assert f"#{plan_id}" in str(info.value) and source.value in str(info.value)
    with session(engine) as s:
        assert get(s, plan_id).state == source.value
        assert not list(s.exec(select(AuditEvent).where(AuditEvent.action == "transition")))


def test_expected_from_narrows(tmp_path: Path) -> None:
    engine = fresh_engine(tmp_path)
    plan_id = new_plan(engine)
    force_state(engine, plan_id=plan_id, state=PlanState.SCHEDULED)
    with pytest.raises(IllegalTransition, match="expected"), session(engine) as s:
        transition(
            s, plan_id=plan_id, to=PlanState.EXPIRED, actor="bot", reason="window closed",
            expected_from={PlanState.AWAITING_APPROVAL},
        )
    with session(engine) as s:
        assert get(s, plan_id).state == PlanState.SCHEDULED


def test_unknown_plan(tmp_path: Path) -> None:
    engine = fresh_engine(tmp_path)
    with pytest.raises(NotFound), session(engine) as s:
        transition(s, plan_id=99, to=PlanState.CANCELLED, actor="U1", reason="x")


def test_a_unit_reads_its_plan_once_however_often_it_asks(tmp_path: Path) -> None:
    """The identity map keeps only what somebody references: a plan read and let go was SELECTed again by
    the next get_plan (three times in a pre-check's outcome). Held for the unit, a move sees its own
    change."""
    engine = fresh_engine(tmp_path)
    plan_id = new_plan(engine, window=True)
    with statements(engine, starting="SELECT") as selects, session(engine) as s:
        states = [PlanState(get_plan(s, plan_id=plan_id).state) for _ in range(3)]
        transition(s, plan_id=plan_id, to=PlanState.PRECHECKED, actor="bot", reason="checked")
        after = PlanState(get_plan(s, plan_id=plan_id).state)
    selects = [text for text in selects if " FROM upgrade_plan " in text + " "]
    assert states == [PlanState.SCHEDULED] * 3 and after is PlanState.PRECHECKED
    assert len(selects) == 1, selects
    with session(engine) as s:  # a new unit reads it again: nothing is kept between units
        assert PlanState(get_plan(s, plan_id=plan_id).state) is PlanState.PRECHECKED
