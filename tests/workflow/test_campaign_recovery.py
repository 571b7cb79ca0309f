"""A campaign survives a SIGKILL during its soak: the poll runs in a separate process
(``tests/workflow/campaign_runner.py``) on a clock 600 times faster than real time; the test kills it after
the soak's first re-check and starts another, which takes the campaign lease over once the dead process's
expired, and carries the soak on from the database to the next wave, once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from tests.workflow import campaign_bench
from tests.workflow.campaign_bench import Bench, approved
from workflow.model.campaign_states import CampaignState, CampaignStatus, MemberState
from workflow.store import campaigns
from workflow.store.database import session

fleet, make_bench = campaign_bench.fleet, campaign_bench.make_bench  # fixtures
ROOT = Path(__file__).resolve().parents[2]
SPEED = 600.0  # engine minutes per real tenth of a second: a 10-minute re-check interval is 1 s


async def _spawn(db_url: str, bench: Bench, campaign_id: int, *, now: datetime, until: str
                 ) -> asyncio.subprocess.Process:
    targets = [arg for name, target in bench.fleet.targets.items()
               for arg in ("--target", f"{name}={target.url}")]
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.workflow.campaign_runner", "--db", db_url, "--now", now.isoformat(),
        "--speed", str(SPEED), "--campaign", str(campaign_id), "--check-minutes", "10", "--until", until,
        *targets, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(ROOT)})


async def _until(predicate: Callable[[], bool], *, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)  # the simulators answer on this loop meanwhile


async def test_a_sigkill_during_a_soak_then_a_restart_carries_the_soak_on(
    make_bench: Callable[..., Bench], db: Engine, db_url: str
) -> None:
    bench = make_bench(check_minutes=10)
    campaign_id = await approved(bench, "10.5 on staging then prod-eu soak 1h")
    assert (await bench.run_wave(campaign_id)).status == CampaignStatus(CampaignState.SOAKING, 1)
    began = time.monotonic()

    def checked() -> bool:
        with session(db) as s:
            return bool(campaigns.member(s, campaign_id=campaign_id, dms_name="staging").findings)

    first = await _spawn(db_url, bench, campaign_id, now=bench.clock.now, until="done:0")
    try:
        await _until(checked, timeout_s=30, what="the soak's first re-check")
        os.kill(first.pid, signal.SIGKILL)
        assert await asyncio.wait_for(first.wait(), timeout=10) == -signal.SIGKILL
    finally:
        if first.returncode is None:
            first.kill()
            await first.wait()
    assert (await bench.view(campaign_id)).status == CampaignStatus(CampaignState.SOAKING, 1)

    # The engine's clock keeps running forward across the crash, as the wall clock would.
    now = bench.clock.now + timedelta(seconds=(time.monotonic() - began) * SPEED)
    second = await _spawn(db_url, bench, campaign_id, now=now, until="wave_running:2")
    output, _ = await asyncio.wait_for(second.communicate(), timeout=90)
    assert second.returncode == 0, output.decode()
    assert (await bench.view(campaign_id)).status == CampaignStatus(CampaignState.WAVE_RUNNING, 2)
    bench.clock.now = now
    await bench.campaigns.tick()  # the runner may have stopped before the wave's plans: this pass makes them
    view = await bench.view(campaign_id)
    assert view.member("prod-eu").state is MemberState.PLANNED and view.member("prod-eu").plan_id is not None
    moves = [(actor, reason) for actor, action, reason in await bench.campaigns.audit(campaign_id)
             if action == "campaign.transition"]
    assert [reason for _, reason in moves].count("wave 1 is upgraded, verified and soaked") == 1
