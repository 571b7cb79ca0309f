"""The same schema and rules on PostgreSQL. Runs when DMU_TEST_POSTGRES_URL names a server where the
user may create databases (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres); skipped otherwise."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, text

from tests.support.postgres import SERVER, throwaway_database
from tests.support.store_helpers import NOW, force_state, new_plan
from workflow.model.errors import ActiveUpgradeExists, AlreadyDecided, IllegalTransition
from workflow.store import approvals, audit
from workflow.store.database import include_object, make_engine, migrate, session
from workflow.store.snapshot import load_snapshot
from workflow.store.states import PlanState, get_plan, transition
from workflow.store.tables import Approval, metadata

pytestmark = pytest.mark.skipif(not SERVER, reason="DMU_TEST_POSTGRES_URL is not set")


@pytest.fixture
def pg() -> Iterator[Engine]:
    with throwaway_database("dmu_test") as url:
        engine = make_engine(url)
        try:
            migrate(engine)
            yield engine
        finally:
            engine.dispose()


def test_migration_matches_models(pg: Engine) -> None:
    migrate(pg)  # twice is a no-op
    with pg.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": include_object}
        )
        assert compare_metadata(context, metadata) == []


def test_rules_hold_on_postgresql(pg: Engine) -> None:
    plan_id = new_plan(pg, window=True, dedupe_key="k1")
    assert new_plan(pg, window=True, dedupe_key="k1") == plan_id
    with pytest.raises(ActiveUpgradeExists):
        new_plan(pg)
    with pytest.raises(IllegalTransition), session(pg) as s:
        transition(s, plan_id=plan_id, to=PlanState.DONE, actor="U1", reason="x")
    force_state(pg, plan_id=plan_id, state=PlanState.AWAITING_APPROVAL)
    outcomes: dict[str, Any] = {}
    barrier = threading.Barrier(4)

    def claim(actor: str) -> None:
        barrier.wait()
        try:
            with session(pg) as s:
                outcomes[actor] = approvals.claim_decision(
                    s, plan_id=plan_id, actor=actor, decision="approved", reason="override"
                )
        except AlreadyDecided as exc:
            outcomes[actor] = exc

    threads = [threading.Thread(target=claim, args=(f"U{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    winners = [actor for actor, outcome in outcomes.items() if isinstance(outcome, Approval)]
    assert len(winners) == 1, outcomes
    assert all(o.decided_by == winners[0] for o in outcomes.values() if isinstance(o, AlreadyDecided))
    with session(pg) as s:
        snap = load_snapshot(s, plan_id=plan_id)
        assert snap.state is PlanState.EXECUTING and snap.window_start == NOW
        assert '"to_state": "executing"' in audit.export(s, fmt="jsonl")


def test_a_move_reads_the_plan_under_its_lock_not_as_the_unit_first_saw_it(pg: Engine) -> None:
    """A unit holds the plan it read; another replica cancels the plan meanwhile. The move's SELECT ... FOR
    UPDATE must judge the state it locked (cancelled), not the one the unit read first (scheduled)."""
    plan_id = new_plan(pg, window=True)
    with pytest.raises(IllegalTransition), session(pg) as first:
        assert PlanState(get_plan(first, plan_id=plan_id).state) is PlanState.SCHEDULED
        with session(pg) as other:
            transition(other, plan_id=plan_id, to=PlanState.CANCELLED, actor="U2", reason="the other replica")
        transition(first, plan_id=plan_id, to=PlanState.PRECHECKED, actor="bot", reason="checked")
    with session(pg) as s:
        assert PlanState(get_plan(s, plan_id=plan_id).state) is PlanState.CANCELLED


def test_one_replica_takes_an_expired_lease_over(pg: Engine) -> None:
    from datetime import timedelta

    from workflow.store import leases

    with session(pg) as s:
        assert leases.acquire(s, name="plan:1", owner="dead", ttl_s=1, now=NOW)[0]
    later = NOW + timedelta(seconds=5)
    outcomes: dict[str, tuple[bool, str | None]] = {}
    barrier = threading.Barrier(4)

    def take(owner: str) -> None:
        barrier.wait()
        with session(pg) as s:
            outcomes[owner] = leases.acquire(s, name="plan:1", owner=owner, ttl_s=30, now=later)

    threads = [threading.Thread(target=take, args=(f"R{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    winners = [owner for owner, (taken, _) in outcomes.items() if taken]
    assert len(winners) == 1 and outcomes[winners[0]] == (True, "dead"), outcomes


async def test_a_locked_table_keeps_the_loop_free_listeners_busy_in_time_and_background_work_waiting(
    pg: Engine,
) -> None:
    """Off the loop on PostgreSQL: ``lock_timeout`` follows the task's budget in the pool's threads."""
    import asyncio
    import time

    from tests.workflow.store.test_database_off_loop import Heartbeat
    from workflow.model.errors import DatabaseBusy
    from workflow.store.database import LOOP_LOCK_WAIT_MS, patience, run_unit

    def count(db_session: Any) -> int:
        return int(db_session.execute(text("SELECT count(*) FROM upgrade_plan")).scalar_one())

    other = pg.connect()
    transaction = other.begin()
    other.execute(text("LOCK TABLE upgrade_plan IN ACCESS EXCLUSIVE MODE"))  # another replica's lock
    try:
        with Heartbeat() as heart:
            began = time.monotonic()
            with pytest.raises(DatabaseBusy):
                await run_unit(pg, count)
            assert LOOP_LOCK_WAIT_MS / 1000 - 0.2 <= time.monotonic() - began < 2.5
            with patience():
                waiting = asyncio.get_running_loop().create_task(run_unit(pg, count))
                done, _ = await asyncio.wait({waiting}, timeout=LOOP_LOCK_WAIT_MS / 1000 + 0.3)
                assert not done, "background work should still be waiting for the lock"
                transaction.rollback()
                assert await asyncio.wait_for(waiting, timeout=5) == 0
        assert heart.max_lag_s < 0.1, heart.max_lag_s
    finally:
        if transaction.is_active:
            transaction.rollback()
        other.close()
