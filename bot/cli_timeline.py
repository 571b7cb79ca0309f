"""``dm-upgrade timeline ID [--out FILE]``: draw one plan's timeline (PNG) from DATABASE_URL into a file
and print its path. matplotlib is imported only here, when the picture is drawn. Read-only: a missing or
empty database is said on stderr (exit 2), never created."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.cli_audit import missing_database
from bot.settings import Settings
from bot.startup import fail
from workflow import operations
from workflow.model.errors import NotFound
from workflow.timeline import Timeline


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("plan_id", type=int, metavar="ID", help="the plan's number")
    parser.add_argument("--out", type=Path, default=None,
                        help="the PNG file to write (default: plan-ID-timeline.png here)")
    parser.add_argument("--time-scale", type=float, default=None,
                        help="DMS minutes per wall minute the plan ran at (default: DMS_TIME_SCALE, or "
                             "SIM_SPEED when DMS_URL is simulated)")
    parser.add_argument("--database-url", default=None, help="default: DATABASE_URL")


def _timeline(url: str, *, plan_id: int, time_scale: float) -> Timeline:
    return operations.read_timeline(url, plan_id=plan_id, time_scale=time_scale)


def run(args: argparse.Namespace) -> int:
    settings = Settings()
    url = args.database_url or settings.database_url
    scale = args.time_scale or (settings.sim_speed if settings.dms_simulated else settings.dms_time_scale)
    if scale <= 0:
        print("dm-upgrade timeline: --time-scale must be above 0", file=sys.stderr)
        return 2
    problem = missing_database(url)
    if problem is not None:
        return fail(problem)
    try:
        timeline = _timeline(url, plan_id=args.plan_id, time_scale=scale)
    except NotFound as exc:
        print(f"dm-upgrade timeline: {exc}", file=sys.stderr)
        return 1
    from handlers.blocks.timeline_chart import render_png  # the plotting library's import cost, only here

    out: Path = args.out or Path(f"plan-{args.plan_id}-timeline.png")
    try:
        out.write_bytes(render_png(timeline))
    except OSError as exc:
        print(f"dm-upgrade timeline: cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(out.resolve())
    return 0
