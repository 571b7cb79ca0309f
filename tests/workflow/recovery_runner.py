"""A separate process for the recovery test: ``sim`` serves a simulated DMS, ``engine`` runs the engine.

    python -m tests.workflow.recovery_runner sim --speed 300
    python -m tests.workflow.recovery_runner engine --db URL --dms URL --speed 300 --now ISO [--approve ID]

``engine`` starts the engine (which resumes every in-flight execution from the database), optionally
approves a plan, waits for all its background work and exits; the test SIGKILLs it in the middle.
Its clock starts at ``--now`` and runs with real time, so it sits inside the plan's window.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import datetime, timedelta

from dms.catalog import load_catalog
from simulator import SimulatedDms
from tests.support.approvers import StaticApprovers
from tests.support.notifier import RecordingNotifier
from tests.workflow.conftest import APPROVER, engine_settings, sim_config
from workflow.dms_access import DmsAccess
from workflow.engine import UpgradeEngine
from workflow.store import plans
from workflow.store.database import make_engine

LEASE_SECONDS = 2.0


async def serve_sim(speed: float) -> None:
    sim = SimulatedDms(sim_config(speed=speed))
    url = await sim.start()
    print(f"DMS_URL={url}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await sim.stop()


async def run_engine(args: argparse.Namespace) -> int:
    base, started = datetime.fromisoformat(args.now), time.monotonic()

    def clock() -> datetime:
        return base + timedelta(seconds=time.monotonic() - started)

    # A short lease: after a SIGKILL the next process resumes once the dead one's lease expired.
    settings = engine_settings(dms_url=args.dms, database_url=args.db, dms_time_scale=args.speed,
                             dms_poll_seconds=0.03 * args.speed, lease_seconds=LEASE_SECONDS)
    db = make_engine(args.db)
    engine = UpgradeEngine(
        settings=settings, db=db, catalog=load_catalog(), notifier=RecordingNotifier(),
        approvers=StaticApprovers(settings.upgrade_approvers), dms_access=DmsAccess(settings=settings),
        clock=clock,
    )
    await engine.start()
    print("engine started", flush=True)
    if args.approve is not None:
        await engine.approve(plan_id=args.approve, actor=APPROVER)
        print(f"approved plan #{args.approve}", flush=True)
    await _until_nothing_in_flight(engine)
    await engine.stop()
    db.dispose()
    print("engine settled", flush=True)
    return 0


async def _until_nothing_in_flight(engine: UpgradeEngine, *, timeout_s: float = 120.0) -> None:
    """Settle, again and again: an execution still leased by a killed process starts once it expired."""
    deadline = time.monotonic() + timeout_s
    while True:
        await engine.settle(timeout_s=timeout_s)
        with engine.session() as session:
            if not any(p.state in ("executing", "verifying") for p in plans.active_plans(session)):
                return
        if time.monotonic() > deadline:
            raise TimeoutError("an execution is still in flight")
        await asyncio.sleep(LEASE_SECONDS / 10)


def main() -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    sim = sub.add_parser("sim")
    sim.add_argument("--speed", type=float, required=True)
    eng = sub.add_parser("engine")
    eng.add_argument("--db", required=True)
    eng.add_argument("--dms", required=True)
    eng.add_argument("--speed", type=float, required=True)
    eng.add_argument("--now", required=True)
    eng.add_argument("--approve", type=int)
    args = parser.parse_args()
    if args.command == "sim":
        asyncio.run(serve_sim(args.speed))
        return 0
    return asyncio.run(run_engine(args))


if __name__ == "__main__":
    sys.exit(main())
