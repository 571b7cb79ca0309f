"""A DMS call that happened is never repeated because the database failed right after it: the execution
records its intent (with the step's idempotency key) before the call and its outcome after, and a resumed
loop asks the DMS (or, for a person's step in Cube, trusts the question already asked) instead of acting
again. Counted on the simulator: one upload and one upgrade per hop."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from functools import partial
from typing import Any, TypeVar

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot import simulated
from dms.drivers import ScriptDriver
from simulator import SimulatedDms
from tests.support.polling import wait_until
from tests.workflow.conftest import APPROVER, REQUESTER, Harness, sim_config
from workflow.events import CubeStepRequested
from workflow.model.errors import DatabaseBusy
from workflow.store import database
from workflow.store.states import PlanState
from workflow.store.tables import StepAttempt

T = TypeVar("T")


class BusyOnce:
    """Once armed, the next unit of work fails with DatabaseBusy, as a database lock would make it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.armed = False
        self.tripped = 0
        real = database.run_unit

        async def run_unit(engine: Engine, work: Callable[[Session], T]) -> T:
            if self.armed:
                self.armed = False
                self.tripped += 1
                raise DatabaseBusy()
            return await real(engine, work)

        monkeypatch.setattr(database, "run_unit", run_unit)


@pytest.fixture
def busy(monkeypatch: pytest.MonkeyPatch) -> Iterator[BusyOnce]:
    yield BusyOnce(monkeypatch)


@pytest.fixture
async def cube_sim() -> Any:
    simulator = SimulatedDms(sim_config(play_cube=True))
    await simulator.start()
    yield simulator
    await simulator.stop()


def person_then_busy(monkeypatch: pytest.MonkeyPatch, busy: BusyOnce, steps: set[str]) -> None:
    """The simulator plays the person in Cube; right after it finished one of ``steps``, the database
    fails once (only the first time: the lock is over when the loop resumes)."""
    real = simulated.person_for

    def person_for(settings: Any) -> Any:
        make = real(settings)
        if make is None:
            return None

        def for_url(url: str) -> Callable[[str, str], Awaitable[None]]:
            ask = make(url)

            async def asked(step: str, package: str) -> None:
                await ask(step, package)
                if step in steps:
                    steps.discard(step)
                    busy.armed = True

            return asked

        return for_url

    monkeypatch.setattr(simulated, "person_for", person_for)


def asked_for(h: Harness, step: str) -> bool:
    return any(e.step == step for e in h.notifier.of_type(CubeStepRequested))


def waited(h: Harness, times: int) -> bool:
    return h.engine.executions.db_waits >= times


async def test_an_upload_in_cube_is_not_asked_again_after_the_database_failed_right_after_it(
    make_harness: Callable[..., Harness], cube_sim: SimulatedDms, busy: BusyOnce,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    person_then_busy(monkeypatch, busy, {"upload", "upgrade"})
    h = make_harness(simulator=cube_sim, dms_driver="watch", sim_play_cube=True)
    snap = await h.ready_plan(target="10.3")
    await h.engine.approve(plan_id=snap.id, actor=APPROVER)
    for waits, step in enumerate(("upload", "upgrade"), start=1):
        await wait_until(partial(asked_for, h, step), what=f"the bot to ask for {step}")
        await wait_until(partial(waited, h, waits), what="the execution to meet the failed database")
        await h.engine.settle(timeout_s=10)
        await h.engine.confirm_cube_step(plan_id=snap.id, hop_index=0, step=step, actor=REQUESTER)
    await h.engine.settle(timeout_s=20)
    assert h.engine.status(plan_id=snap.id).state is PlanState.DONE, h.notifier.types()
    assert busy.tripped == 2
    state = h.sim.state()
    assert state["uploads"] == {"10.3.0 CU22": 1}, state["uploads"]
    assert state["upgrades_triggered"] == {"10.3.0 CU22": 1}
    asked = [(e.hop_index, e.step) for e in h.notifier.of_type(CubeStepRequested)]
    assert asked == [(0, "upload"), (0, "upgrade")]  # the person was asked once per step


async def test_a_started_upgrade_is_followed_not_started_again_after_the_database_failed_right_after_it(
    make_harness: Callable[..., Harness], busy: BusyOnce, monkeypatch: pytest.MonkeyPatch,
) -> None:
    starts: list[str] = []
    real = ScriptDriver.start_upgrade

    async def start_upgrade(self: ScriptDriver, *, hop: Any, job: str = "") -> None:
        await real(self, hop=hop, job=job)
        starts.append(job)
        busy.armed = True  # the upgrade started on the DMS; recording that fails

    monkeypatch.setattr(ScriptDriver, "start_upgrade", start_upgrade)
    h = make_harness()
    snap = await h.ready_plan(target="10.4")
    await h.engine.approve(plan_id=snap.id, actor=APPROVER)
    await wait_until(lambda: h.engine.status(plan_id=snap.id).state is PlanState.DONE, timeout_s=30,
                     what="the upgrade to finish")
    await h.engine.settle(timeout_s=10)
    assert busy.tripped == 2 and h.engine.executions.db_waits == 2
    state = h.sim.state()
    assert state["uploads"] == {"10.3.0 CU22": 1, "10.4.0 CU21": 1}, state["uploads"]
    assert state["upgrades_triggered"] == {"10.3.0 CU22": 1, "10.4.0 CU21": 1}
    assert len(starts) == len(set(starts)) == 2  # each job asked to start once: resumed, the DMS was asked
    with Session(h.engine.db) as session:
        attempts = list(session.exec(select(StepAttempt).order_by(col(StepAttempt.hop_index))))
    # The job ids were recorded before the DMS was asked; resumed, the DMS knew them: nothing started again.
    assert [(a.step, a.key, a.state, a.outcome["started"]) for a in attempts] == [
        ("upgrade", job, "done", False) for job in starts]


async def test_a_restart_after_the_upload_in_cube_waits_for_the_confirmation_without_asking_again(
    make_harness: Callable[..., Harness], cube_sim: SimulatedDms, busy: BusyOnce,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    person_then_busy(monkeypatch, busy, {"upload"})  # the ask's outcome is never recorded: intent only
    first = make_harness(simulator=cube_sim, dms_driver="watch", sim_play_cube=True)
    snap = await first.ready_plan(target="10.3")
    await first.engine.approve(plan_id=snap.id, actor=APPROVER)
    await wait_until(partial(waited, first, 1), what="the database to fail right after the upload")
    await first.engine.stop()  # the process ends before the loop resumed
    second = make_harness(simulator=cube_sim, dms_driver="watch", sim_play_cube=True)
    await second.engine.start()
    await wait_until(lambda: second.engine.executions.running(snap.id), what="the loop to resume")
    await second.engine.settle(timeout_s=10)
    assert not asked_for(second, "upload")  # asked before the restart: the message and its button stand
    await second.engine.confirm_cube_step(plan_id=snap.id, hop_index=0, step="upload", actor=REQUESTER)
    await wait_until(partial(asked_for, second, "upgrade"), what="the bot to ask for the upgrade")
    await second.engine.settle(timeout_s=10)
    await second.engine.confirm_cube_step(plan_id=snap.id, hop_index=0, step="upgrade", actor=REQUESTER)
    await wait_until(lambda: second.engine.status(plan_id=snap.id).state is PlanState.DONE, timeout_s=30,
                     what="the upgrade to finish")
    await second.engine.settle(timeout_s=10)
    assert cube_sim.state()["uploads"] == {"10.3.0 CU22": 1}
    with Session(second.engine.db) as session:
        attempts = {(a.hop_index, a.step): a for a in session.exec(select(StepAttempt))}
    assert attempts[(0, "upload")].state == "intent"  # its outcome was lost with the database
    assert attempts[(0, "upgrade")].state == "done" and attempts[(0, "upgrade")].outcome == {"asked": True}
    await second.engine.stop()
