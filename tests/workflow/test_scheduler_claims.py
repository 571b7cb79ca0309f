"""Every replica runs the scheduled jobs; each run of a job is claimed in the database first, so the
replicas share a fleet's due work and no run happens twice. (Two replicas firing one shared job store are
two processes: tests/bot/test_replicas.py runs them.)"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.support.postgres import SERVER, throwaway_database
from workflow.model.clock import utc_now
from workflow.scheduler import PlanScheduler
from workflow.store import database
from workflow.store import leases as lease_store
from workflow.store.database import make_engine, migrate
from workflow.store.tables import Lease


class Counting:
    """A job target that counts the pre-checks it was asked for."""

    def __init__(self) -> None:
        self.prechecks: list[int] = []

    async def on_precheck_due(self, plan_id: int) -> None:
        self.prechecks.append(plan_id)
        await asyncio.sleep(0)

    async def on_reminder_due(self, plan_id: int) -> None: ...
    async def on_approval_due(self, plan_id: int) -> None: ...
    async def on_window_closed(self, plan_id: int) -> None: ...
    async def on_job_missed(self, plan_id: int, **_: object) -> None: ...


@pytest.fixture
def pg() -> Iterator[Engine]:
    """Replicas share PostgreSQL; one process has its SQLite file to itself."""
    if not SERVER:
        pytest.skip("DMU_TEST_POSTGRES_URL is not set")
    with throwaway_database("dmu_claims") as url:
        db = make_engine(url)
        migrate(db)
        try:
            yield db
        finally:
            db.dispose()


def test_on_sqlite_one_process_runs_every_job_without_a_claim(tmp_path: Path) -> None:
    db = make_engine(f"sqlite:///{tmp_path / 'claims.db'}")
    migrate(db)
    scheduler = PlanScheduler(db=db, engine_key="a", target=Counting(), clock=utc_now, owner="replica-1")
    assert scheduler._claim("job:plan-1-precheck@x") and scheduler._claim("job:plan-1-precheck@x")
    with database.session(db) as session:  # no write for it: a fleet's due jobs queue behind none
        assert lease_store.holder(session, name="job:plan-1-precheck@x") is None
    db.dispose()


def test_one_claim_per_run_and_past_claims_are_pruned(pg: Engine) -> None:
    db = pg
    first = PlanScheduler(db=db, engine_key="a", target=Counting(), clock=utc_now, owner="replica-1")
    second = PlanScheduler(db=db, engine_key="b", target=Counting(), clock=utc_now, owner="replica-2")
    name = "job:plan-1-precheck@2030-01-01T10:00:00+00:00"
    assert first._claim(name) and not second._claim(name)
    assert first._claim(name)  # the same replica asking again (a retry) keeps its claim
    moved = "job:plan-1-precheck@2030-01-02T10:00:00+00:00"
    assert second._claim(moved)  # a job moved to a new time is a new run
    with database.session(db) as session:  # a claim from long ago has expired: the next claim prunes it
        long_ago = utc_now() - timedelta(days=3)
        session.add(Lease(name="job:plan-9-expiry@old", owner="gone", acquired_at=long_ago,
                          expires_at=long_ago + timedelta(days=1)))
    assert first._claim("job:plan-2-precheck@x")
    with database.session(db) as session:
        assert lease_store.holder(session, name="job:plan-9-expiry@old") is None
