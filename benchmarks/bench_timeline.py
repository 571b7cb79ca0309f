"""How long the timeline picture of a big plan takes to draw, and whether drawing stalls the event loop.

A finished 10-hop upgrade of a 50-agent DMS (every agent restarting in every hop, a few of them
disconnected for a while) goes through the same ``workflow.timeline.build_timeline`` and
``handlers.blocks.timeline_chart`` as the bot. The picture is drawn in a worker thread
(``render_png_async``) while a 5 ms ticker runs on the loop; the longest gap between its ticks is the
loop's longest stall. Target: under 2 s to draw, and a stall far below Slack's 3-second ack budget.

    .venv/bin/python benchmarks/bench_timeline.py [--hops 10] [--agents 50] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from a checkout without installing

from benchmarks.helpers import big_plan_timeline

TICK_S = 0.005


async def _ticker(stop: asyncio.Event, gaps: list[float]) -> None:
    last = time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(TICK_S)
        now = time.perf_counter()
        gaps.append(now - last - TICK_S)
        last = now


async def measure(*, hops: int, agents: int, out: Path | None) -> tuple[float, float, float, int]:
    started = time.perf_counter()
    timeline = big_plan_timeline(hops=hops, agents=agents, start=datetime(2026, 12, 1, 22, 0, tzinfo=UTC))
    built = time.perf_counter() - started
    from handlers.blocks.timeline_chart import render_png, render_png_async

    render_png(timeline)  # warm up: the first draw imports matplotlib's fonts and caches
    stop = asyncio.Event()
    gaps: list[float] = []
    ticker = asyncio.create_task(_ticker(stop, gaps))
    await asyncio.sleep(TICK_S * 2)
    started = time.perf_counter()
    picture = await render_png_async(timeline)
    drawn = time.perf_counter() - started
    stop.set()
    await ticker
    if out is not None:
        out.write_bytes(picture)
    return built, drawn, max(gaps, default=0.0), len(picture)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hops", type=int, default=10)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--out", type=Path, default=None, help="also write the picture here")
    args = parser.parse_args()
    built, drawn, stall, size = asyncio.run(measure(hops=args.hops, agents=args.agents, out=args.out))
    print(f"timeline of {args.hops} hops x {args.agents} agents: model {built * 1000:.0f} ms, "
          f"drawing {drawn:.2f} s (target < 2 s), PNG {size / 1024:.0f} KiB")
    print(f"event loop's longest stall while drawing: {stall * 1000:.0f} ms "
          f"(the drawing runs in a worker thread; ack budget 3000 ms)")
    print("within target" if drawn < 2.0 else "OVER TARGET: drawing took 2 s or more")


if __name__ == "__main__":
    main()
