"""Fixtures for the engine tests: a migrated tmp SQLite file, a simulated DMS running fast over real
HTTP, and an ``UpgradeEngine`` with a recording notifier and a clock the test moves by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from bot import simulated
from bot.settings import Settings
from dms.catalog import load_catalog
from simulator import SimulatedDms, SimulatorConfig
from tests.support.approvers import StaticApprovers
from tests.support.clock import FakeClock
from tests.support.notifier import RecordingNotifier
from workflow.dms_access import DmsAccess
from workflow.engine import UpgradeEngine
from workflow.store.database import make_engine, migrate
from workflow.store.snapshot import PlanSnapshot
from workflow.store.states import PlanState

# Simulated seconds per real second. With the durations below one hop (upload, stop, install,
# startup: 4.5 simulated minutes) takes about 0.14 s, so a three-hop upgrade finishes in about a second.
SPEED = 2000.0
SIM_TIMES: dict[str, float] = {
    "upload_minutes": 1.0, "stop_minutes": 0.5, "install_minutes": 1.0, "startup_minutes": 2.0,
    "helper_minutes": 1.0,
}
REQUESTER = "UREQ"
APPROVER = "UAPP1"
APPROVER_2 = "UAPP2"


def sim_config(**overrides: Any) -> SimulatorConfig:
    values: dict[str, Any] = {"agents": 4, "failover_pairs": 1, "version": "10.2.0 CU5", "speed": SPEED,
                              "elements_per_agent": 5, "alarms": 0, **SIM_TIMES}
    values.update(overrides)
    return SimulatorConfig(**values)


def engine_settings(*, dms_url: str, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "dms_url": dms_url,
        "database_url": database_url,
        "dms_time_scale": SPEED,
        "dms_poll_seconds": 0.03 * SPEED,  # 30 ms between polls, in real time
        "dms_timeout_seconds": 5.0,
        "dms_retries": 1,
        "agent_startup_minutes": 2.0,
        "upgrade_approvers": [APPROVER, APPROVER_2],
        "blocking_alarm_severities": ["Critical"],
        **overrides,
    }
    return Settings(_env_file=None, **values)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'engine.db'}"


@pytest.fixture
def db(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedDms]:
    simulator = SimulatedDms(sim_config())
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@dataclass
class Harness:
    engine: UpgradeEngine
    notifier: RecordingNotifier
    clock: FakeClock
    sim: SimulatedDms
    settings: Settings

    async def ready_plan(self, *, target: str = "10.4", tick: bool = True) -> PlanSnapshot:
        """A plan whose window is open, pre-checked and awaiting approval."""
        snap = await self.engine.create_plan(
            target=target, track=None, window_start=self.clock.now + timedelta(hours=30), window_minutes=240,
            requester=REQUESTER, channel="C1",
        )
        if tick:
            await tick_manual(self.engine, snap.id)
        self.clock.advance(hours=6)
        await self.engine.on_precheck_due(snap.id)
        self.clock.advance(hours=24, minutes=1)
        await self.engine.on_approval_due(snap.id)
        snap = self.engine.status(plan_id=snap.id)
        assert snap.state is PlanState.AWAITING_APPROVAL, snap.precheck
        return snap


async def tick_manual(engine: UpgradeEngine, plan_id: int) -> None:
    for item in engine.status(plan_id=plan_id).open_required_manual:
        await engine.tick(plan_id=plan_id, key=item.key, actor=REQUESTER, checked=True)


@pytest.fixture
def make_harness(
    db: Engine, db_url: str, sim: SimulatedDms, clock: FakeClock
) -> Iterator[Callable[..., Harness]]:
    made: list[UpgradeEngine] = []

    def build(*, simulator: SimulatedDms | None = None, **overrides: Any) -> Harness:
        used = simulator or sim
        settings = engine_settings(dms_url=used.url, database_url=db_url, **overrides)
        notifier = RecordingNotifier()
        engine = UpgradeEngine(
            settings=settings, db=db, catalog=load_catalog(), notifier=notifier,
            approvers=StaticApprovers(settings.upgrade_approvers),
            dms_access=DmsAccess(settings=settings, person_for=simulated.person_for(settings)),
            clock=clock, operators=StaticApprovers(settings.upgrade_operators),
        )
        made.append(engine)
        return Harness(engine=engine, notifier=notifier, clock=clock, sim=used, settings=settings)

    yield build
    for engine in made:
        engine.scheduler.stop()


@pytest.fixture
async def harness(make_harness: Callable[..., Harness]) -> AsyncIterator[Harness]:
    built = make_harness()
    yield built
    await built.engine.stop()
