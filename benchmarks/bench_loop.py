"""The event loop's longest stall while another process holds the database's write lock for 5 s and
listener calls keep arriving, with the database work on the loop (the baseline: the same read called
synchronously on the loop, as every unit of work ran before) and off it (``engine.read_status`` /
``engine.set_window``, which run their units on the database thread pool).

A heartbeat task ticks every 10 ms; its longest lag is the loop's longest stall, i.e. how long every other
listener, ack and Socket Mode ping had to wait. Every listener call must still answer DatabaseBusy within
Slack's 3 s. The target: the off-loop stall at most 1/10 of the baseline's (printed as a ratio).

    python benchmarks/bench_loop.py [--lock-seconds 5] [--interval-ms 200]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import multiprocessing
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from a checkout without installing

from benchmarks.helpers import EventCounter
from bot.settings import Settings
from dms.catalog import load_catalog
from simulator import SimulatedDms, SimulatorConfig
from workflow.dms_access import DmsAccess
from workflow.engine import UpgradeEngine
from workflow.model.errors import DatabaseBusy
from workflow.store import plans
from workflow.store.database import make_engine, migrate

TARGET_RATIO = 0.1
REQUESTER = "UBENCH"


class Approvers:
    async def is_approver(self, user_id: str) -> bool:
        return False


def hold_lock(path: str, seconds: float, locked: EventType) -> None:
    """Another process: a write transaction on the bot's SQLite file for ``seconds``."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    locked.set()
    time.sleep(seconds)
    other.rollback()
    other.close()


async def heartbeat(stalls: list[float]) -> None:
    loop = asyncio.get_running_loop()
    while True:
        before = loop.time()
        await asyncio.sleep(0.01)
        stalls.append(loop.time() - before - 0.01)


async def measure(path: str, *, seconds: float, interval_s: float,
                  call: Callable[[], Awaitable[Any]]) -> tuple[float, float, int]:
    """(longest loop stall, slowest busy answer, calls answered) while another process holds the lock."""
    locked = multiprocessing.get_context("spawn").Event()
    holder = multiprocessing.get_context("spawn").Process(target=hold_lock, args=(path, seconds, locked))
    holder.start()
    while not locked.is_set():
        await asyncio.sleep(0.01)
    stalls: list[float] = []
    beat = asyncio.get_running_loop().create_task(heartbeat(stalls))
    slowest, answered = 0.0, 0
    calls: list[asyncio.Task[None]] = []

    async def one() -> None:
        nonlocal slowest, answered
        began = time.monotonic()
        try:
            await call()
        except DatabaseBusy:
            answered += 1
        slowest = max(slowest, time.monotonic() - began)

    end = time.monotonic() + seconds - 2.0  # the last calls still meet the lock
    while time.monotonic() < end:
        calls.append(asyncio.get_running_loop().create_task(one()))
        await asyncio.sleep(interval_s)
    await asyncio.gather(*calls)
    beat.cancel()
    await asyncio.to_thread(holder.join)
    return max(stalls, default=0.0), slowest, answered


async def main(args: argparse.Namespace) -> int:
    sim = SimulatedDms(SimulatorConfig(agents=4, failover_pairs=1, version="10.2.0 CU5", speed=1000.0))
    await sim.start()
    folder = tempfile.mkdtemp(prefix="bench-loop-")
    path = str(Path(folder) / "bench.db")
    db = make_engine(f"sqlite:///{path}")
    migrate(db)
    settings = Settings(_env_file=None, dms_url=sim.url, database_url=f"sqlite:///{path}",
                        upgrade_approvers=["UAPP"])
    engine = UpgradeEngine(settings=settings, db=db, catalog=load_catalog(), notifier=EventCounter(),
                           approvers=Approvers(), dms_access=DmsAccess(settings=settings))
    try:
        snap = await engine.create_plan(target="10.4", track=None, window_start=None, window_minutes=None,
                                        requester=REQUESTER, channel="CBENCH")
        plan_id = snap.id

        turn = itertools.count()

        async def on_loop() -> None:  # the baseline: a read or a write as every unit of work ran before
            if next(turn) % 2:
                engine.status(plan_id=plan_id)
                return
            start = engine.now() + timedelta(hours=2)
            with engine.session() as session:
                plans.set_window(session, plan_id=plan_id, start=start, end=start + timedelta(hours=1),
                                 actor=REQUESTER, now=engine.now())

        async def off_loop() -> None:  # what the listeners call now
            if next(turn) % 2:
                await engine.read_status(plan_id=plan_id)
                return
            await engine.set_window(plan_id=plan_id, start=engine.now() + timedelta(hours=2), minutes=60,
                                    actor=REQUESTER)

        results = {}
        for name, call in (("on the loop (baseline)", on_loop), ("off the loop", off_loop)):
            results[name] = await measure(path, seconds=args.lock_seconds, interval_s=args.interval_ms / 1000,
                                          call=call)
            stall, slowest, answered = results[name]
            print(f"{name:>24}: longest loop stall {stall * 1000:7.0f} ms; slowest busy answer "
                  f"{slowest * 1000:5.0f} ms; {answered} calls answered busy")
    finally:
        await engine.stop()
        db.dispose()
        await sim.stop()
    base, after = results["on the loop (baseline)"][0], results["off the loop"][0]
    ratio = after / base if base > 0 else 0.0
    ok = ratio <= TARGET_RATIO and results["off the loop"][1] < 3.0
    print(f"ratio (off / on the loop): {ratio:.3f}  target <= {TARGET_RATIO}  {'OK' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lock-seconds", type=float, default=5.0)
    parser.add_argument("--interval-ms", type=float, default=200.0)
    sys.exit(asyncio.run(main(parser.parse_args())))
