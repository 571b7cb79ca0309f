"""What the campaign engine tests share: three simulated DMSs on different versions (each a simulator of its
own, over real HTTP) and a bench of an ``UpgradeEngine`` with a ``CampaignEngine`` on a clock the test moves
by hand. The fixtures are imported by the test modules that use them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine

from bot import simulated
from dms.catalog import load_catalog
from simulator import SimulatedDms
from tests.support.approvers import StaticApprovers
from tests.support.clock import FakeClock
from tests.support.notifier import RecordingNotifier
from tests.workflow.conftest import APPROVER, REQUESTER, engine_settings, sim_config, tick_manual
from workflow.campaign_engine import CampaignEngine
from workflow.dms_access import DmsAccess
from workflow.engine import UpgradeEngine
from workflow.model.campaign import parse_campaign
from workflow.model.campaign_states import CampaignState
from workflow.model.campaign_view import CampaignView
from workflow.model.states import PlanState
from workflow.targets import TargetConfig

VERSIONS = {"staging": "10.4.0 CU3", "prod-eu": "10.3.0 CU5", "prod-us": "10.3.0 CU5"}
STORY = "10.5 on staging then prod-eu prod-us soak 4h"
WAITING = (PlanState.SCHEDULED, PlanState.PRECHECKED, PlanState.BLOCKED)
S = CampaignState


@dataclass
class Fleet:
    sims: dict[str, SimulatedDms]
    targets: dict[str, TargetConfig]


@pytest.fixture
async def fleet(db_url: str) -> AsyncIterator[Fleet]:
    """Three simulated DMSs, each its own simulator on its own version (two on the same one)."""
    settings = engine_settings(dms_url="simulated", database_url=db_url)
    async with AsyncExitStack() as stack:
        sims, targets = {}, {}
        for name, version in VERSIONS.items():
            sim = SimulatedDms(sim_config(agents=2, failover_pairs=0, version=version, cluster_name=name,
                                          user=settings.dms_user,
                                          password=SecretStr(settings.dms_password.get_secret_value())))
            url = await sim.start()
            stack.push_async_callback(sim.stop)
            sims[name] = sim
            targets[name] = TargetConfig(name=name, url=str(url), user=settings.dms_user,
                                         password=settings.dms_password)
        yield Fleet(sims=sims, targets=targets)


@dataclass
class Bench:
    engine: UpgradeEngine
    campaigns: CampaignEngine
    clock: FakeClock
    fleet: Fleet

    async def view(self, campaign_id: int) -> CampaignView:
        return await self.campaigns.view(campaign_id)

    async def open_windows(self, campaign_id: int) -> None:
        """What the plans' own scheduled jobs do in production: tick the manual items, and at the window
        the pre-check and the approval request (the clock moved to the window where it is ahead)."""
        view = await self.view(campaign_id)
        for member in view.wave_members(view.wave):
            if member.plan_id is None or self.engine.plan_state(member.plan_id) not in WAITING:
                continue
            assert member.window_start is not None
            self.clock.now = max(self.clock.now, member.window_start + timedelta(minutes=1))
            await tick_manual(self.engine, member.plan_id)
            await self.engine.on_approval_due(member.plan_id)

    async def run_wave(self, campaign_id: int) -> CampaignView:
        """The wave's plans made, approved with the campaign, executed; the campaign then soaks."""
        await self.campaigns.tick()
        await self.open_windows(campaign_id)
        await self.campaigns.tick()  # approves each plan with the campaign's approval
        await self.engine.settle()
        await self.campaigns.tick()  # sees them done: the soak starts
        return await self.view(campaign_id)

    async def soak_through(self, campaign_id: int) -> CampaignView:
        view = await self.view(campaign_id)
        members = "; ".join(f"{m.name} {m.state.value} ({m.note})" for m in view.members)
        assert view.soak_until is not None, \
            f"not soaking: {view.status.label} ({view.halt_reason}); {members}"
        while self.clock.now < view.soak_until:
            self.clock.advance(minutes=61)
            await self.campaigns.tick()
            view = await self.view(campaign_id)
            if view.state is not S.SOAKING:
                break
        return view


@pytest.fixture
def make_bench(db: Engine, db_url: str, fleet: Fleet, clock: FakeClock) -> Iterator[Callable[..., Bench]]:
    made: list[UpgradeEngine] = []

    def build(*, check_minutes: int = 60, **overrides: Any) -> Bench:
        settings = engine_settings(dms_url="simulated", database_url=db_url, **overrides)
        access = DmsAccess(settings=settings, targets=fleet.targets,
                           person_for=simulated.person_for(settings))
        engine = UpgradeEngine(settings=settings, db=db, catalog=load_catalog(), notifier=RecordingNotifier(),
                               approvers=StaticApprovers(settings.upgrade_approvers), dms_access=access,
                               clock=clock, operators=StaticApprovers(settings.upgrade_operators))
        made.append(engine)
        runner = CampaignEngine(engine, soak_check_minutes=check_minutes)
        return Bench(engine=engine, campaigns=runner, clock=clock,
                     fleet=fleet)

    yield build
    for engine in made:
        engine.scheduler.stop()


@pytest.fixture
async def bench(make_bench: Callable[..., Bench]) -> AsyncIterator[Bench]:
    built = make_bench()
    yield built
    await built.campaigns.stop()
    await built.engine.stop()


async def approved(bench: Bench, text: str = STORY) -> int:
    view = await bench.campaigns.create(parse_campaign(text.split()), requester=REQUESTER, channel="C1")
    await bench.campaigns.approve(campaign_id=view.id, actor=APPROVER)
    return view.id
