"""``dm-upgrade path FROM TO [--track main|feature] [--json]``: the upgrade path and its time estimate.

Needs no network and no database: the release catalog (``RELEASE_CATALOG`` or the packaged one) and the
estimate settings are all it reads.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TextIO

from pydantic import ValidationError

from bot.settings import Settings
from dms.catalog import load_catalog
from dms.estimate import estimate
from dms.exceptions import DmsError
from dms.planner import plan_path
from dms.upgrade_path import Estimate, UpgradePath
from dms.versions import Track, parse_spec, parse_version


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("current", metavar="FROM", help="the version the agents run now, e.g. 9.6.0.0-8538")
    parser.add_argument("target", metavar="TO", help="the version to reach, e.g. 10.3 or '10.2.0 CU5'")
    parser.add_argument(
        "--track",
        choices=[track.value for track in Track],
        default=None,
        help="release track of the target (default: feature when TO names a feature release, else main)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


def _fmt(minutes: float) -> str:
    hours, rest = divmod(round(minutes), 60)
    return f"{hours} h {rest:02d} min" if hours else f"{rest} min"


def render_text(path: UpgradePath, plan_estimate: Estimate) -> str:
    """The readable table: hops with rule, checks and requirements, then the estimate."""
    lines = [f"Upgrade path {path.current} -> {path.target} ({path.track.value} track)", ""]
    width = max(len(str(hop.version)) for hop in path.hops)
    lines.append(f" #  {'version'.ljust(width)}  package  name")
    for number, hop in enumerate(path.hops, start=1):
        lines.append(f"{number:>2}  {str(hop.version).ljust(width)}  {hop.package.value:<7}  {hop.name}")
        lines.append(f"      why:          {hop.rule}")
        lines.append(f"      docs:         {hop.rule_url}")
        if hop.requirements:
            lines.append(f"      requirements: {'; '.join(hop.requirements)}")
        if hop.checks:
            lines.append(f"      checks:       {', '.join(hop.checks)}")
    lines += ["", "Time estimate"]
    name_width = max(len(phase.phase) for phase in plan_estimate.phases)
    for phase in plan_estimate.phases:
        span = f"{_fmt(phase.low_minutes)} - {_fmt(phase.high_minutes)}"
        lines.append(f"  {phase.phase.ljust(name_width)}  {span}")
        for factor in phase.factors:
            lines.append(f"  {'':{name_width}}    - {factor}")
    total = f"{_fmt(plan_estimate.low_minutes)} - {_fmt(plan_estimate.high_minutes)}"
    lines.append(f"  {'Total'.ljust(name_width)}  {total}")
    window = plan_estimate.execution
    span = f"{_fmt(window.low_minutes)} - {_fmt(window.high_minutes)}"
    lines.append(f"  {'Upgrade window (execution)'.ljust(name_width)}  {span}")
    return "\n".join(lines)


def settings_error(error: ValidationError) -> str:
    # Name the setting and the problem, never the value: it could be a token.
    problems = (f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}" for item in error.errors())
    return "invalid settings: " + "; ".join(problems)


def run(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        settings = Settings()
        current = parse_version(args.current)
        target = parse_spec(args.target)
        track = Track(args.track) if args.track else None
        catalog = load_catalog(settings.release_catalog)
        path = plan_path(current=current, target=target, track=track, catalog=catalog)
        plan_estimate = estimate(
            path=path,
            agents=1,
            package_size_mb=settings.package_size_mb,
            upload_bandwidth_mbps=settings.upload_bandwidth_mbps,
            prerequisite_check_minutes=settings.prerequisite_check_minutes,
            agent_startup_minutes=settings.agent_startup_minutes,
            hotfixes=settings.hotfixes,
        )
    except (DmsError, ValueError) as error:
        text = settings_error(error) if isinstance(error, ValidationError) else str(error)
        print(f"dm-upgrade path: {text}", file=err)
        return 2
    if args.json:
        print(json.dumps(path.to_json(estimate=plan_estimate), indent=2), file=out)
    else:
        print(render_text(path, plan_estimate), file=out)
    return 0
