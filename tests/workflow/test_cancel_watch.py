"""The watch after a cancel under the plan's lease: two engines on one database (two replicas; a SQLite file,
and PostgreSQL when DMU_TEST_POSTGRES_URL is set) never both watch the agents or both record where they
ended, and when the watching one dies (stops renewing without a word) the other finishes the cancel once the
lease expired."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select

from tests.support.polling import wait_until
from tests.support.postgres import SERVER, throwaway_database
from tests.workflow.conftest import APPROVER, APPROVER_2, Harness
from workflow.events import AgentProgress, UpgradeCancelled
from workflow.leases import HeldLease
from workflow.store import leases
from workflow.store.states import PlanState
from workflow.store.tables import AuditEvent

# Renewed every third of it: long enough that a loaded machine (2 shared cores) does not let the holder's
# lease expire while it lives (at 1.5 s it did), short enough for a quick takeover.
LEASE_S = 4.0


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The conftest's database, on SQLite and (when a server is given) on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'engine.db'}"
        return
    if not SERVER:
        pytest.skip("DMU_TEST_POSTGRES_URL is not set")
    with throwaway_database("dmu_cancel") as url:
        yield url


def _watched(h: Harness, plan_id: int) -> list[AgentProgress]:
    """What this replica's cancel watch saw (hop_index -1: the agents observed after the cancel)."""
    return [e for e in h.notifier.of_type(AgentProgress, plan_id=plan_id) if e.hop_index == -1]


def _audit(h: Harness, action: str) -> list[AuditEvent]:
    with Session(h.engine.db) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)))


def _holder(h: Harness, plan_id: int) -> str | None:
    with Session(h.engine.db) as session:
        row = leases.holder(session, name=leases.plan_lease(plan_id))
        return None if row is None else row.owner


async def test_one_replica_watches_a_cancel_and_another_finishes_it_after_the_lease_expired(
    make_harness: Callable[..., Harness], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = make_harness(lease_seconds=LEASE_S), make_harness(lease_seconds=LEASE_S)
    await first.engine.start()
    snap = await first.ready_plan(target="10.4")
    first.sim.inject("agent_stuck_starting", agent=2)  # the agents keep moving until the test says so
    await first.engine.approve(plan_id=snap.id, actor=APPROVER)
    await wait_until(lambda: first.engine.status(plan_id=snap.id).hops[0].wait_started_at is not None,
                     timeout_s=20, what="the first hop to be upgrading")
    await first.engine.cancel(plan_id=snap.id, actor=APPROVER_2, reason="change freeze")
    await second.engine.start()  # a replica started while the plan is CANCELLING

    by_owner = {first.engine.executions.owner: first, second.engine.executions.owner: second}
    await wait_until(lambda: _holder(first, snap.id) in by_owner, what="a replica to hold the plan's lease")
    owner = _holder(first, snap.id)
    assert owner is not None
    holder = by_owner[owner]
    other = second if holder is first else first
    await wait_until(lambda: bool(_watched(holder, snap.id)), what="the holder to watch the agents")
    # The other replica tried (at start and at each pass) and was refused: it does not watch.
    await wait_until(lambda: other.engine.cancel_watch.lease_refusals >= 2, timeout_s=20,
                     what="the other replica to try and be refused twice")
    assert not _watched(other, snap.id)
    assert holder.engine.status(plan_id=snap.id).state is PlanState.CANCELLING

    # The holder dies: it stops renewing, and does not release the lease (as after a SIGKILL).
    real_release = HeldLease.release
    monkeypatch.setattr(HeldLease, "release",
                        lambda self: None if self.owner == owner else real_release(self))
    await holder.engine.stop()
    died = time.monotonic()
    first.sim.clear("agent_stuck_starting")

    await wait_until(lambda: other.engine.status(plan_id=snap.id).state is PlanState.CANCELLED,
                     timeout_s=30, what="the other replica to finish the cancel")
    assert time.monotonic() - died >= LEASE_S / 2  # not before the holder's last renewal expired
    await other.engine.settle(timeout_s=10)
    cancelled = other.notifier.of_type(UpgradeCancelled)
    assert len(cancelled) == 1 and cancelled[0].actor == APPROVER_2 and cancelled[0].reason == "change freeze"
    assert cancelled[0].settled and not holder.notifier.of_type(UpgradeCancelled)
    assert len(_audit(other, "cancel.agents")) == 1  # recorded once, by the replica that finished
    takeovers = _audit(other, "lease.takeover")
    assert [t.detail["previous"] for t in takeovers] == [owner]
    assert first.sim.state()["upgrades_triggered"] == {"10.3.0 CU22": 1}  # nothing re-run by the takeover
    await other.engine.stop()


async def test_a_cancel_on_the_replica_that_does_not_execute_is_watched_once(
    make_harness: Callable[..., Harness],
) -> None:
    """The cancel click lands on the other replica: the executing one stops driving (it sees CANCELLING),
    gives the lease up, and exactly one replica watches the agents settle and records it."""
    first, second = make_harness(lease_seconds=LEASE_S), make_harness(lease_seconds=LEASE_S)
    await first.engine.start()
    await second.engine.start()
    snap = await first.ready_plan(target="10.4")
    first.sim.inject("agent_stuck_starting", agent=2)
    await first.engine.approve(plan_id=snap.id, actor=APPROVER)
    await wait_until(lambda: first.engine.status(plan_id=snap.id).hops[0].wait_started_at is not None,
                     timeout_s=20, what="the first hop to be upgrading")
    by_owner = {first.engine.executions.owner: first, second.engine.executions.owner: second}
    owner = _holder(first, snap.id)
    assert owner is not None
    executing = by_owner[owner]  # the approval's replica, unless the other's pass took the lease first
    other = second if executing is first else first

    await other.engine.cancel(plan_id=snap.id, actor=APPROVER_2, reason="change freeze")
    await wait_until(lambda: not executing.engine.executions.running(snap.id), timeout_s=20,
                     what="the executing replica to stop driving")
    await wait_until(lambda: bool(_watched(first, snap.id) or _watched(second, snap.id)), timeout_s=20,
                     what="a replica to watch the agents")
    first.sim.clear("agent_stuck_starting")
    await wait_until(lambda: first.engine.status(plan_id=snap.id).state is PlanState.CANCELLED,
                     timeout_s=30, what="the cancel to finish")
    await first.engine.settle(timeout_s=10)
    await second.engine.settle(timeout_s=10)
    assert [bool(_watched(h, snap.id)) for h in (first, second)].count(True) == 1
    cancelled = first.notifier.of_type(UpgradeCancelled) + second.notifier.of_type(UpgradeCancelled)
    assert len(cancelled) == 1 and cancelled[0].reason == "change freeze" and cancelled[0].settled
    assert len(_audit(first, "cancel.agents")) == 1
    assert first.sim.state()["upgrades_triggered"] == {"10.3.0 CU22": 1}
    await first.engine.stop()
    await second.engine.stop()
