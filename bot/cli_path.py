"""``dm-upgrade path FROM TO [--track main|feature|preview] [--allow-preview] [--json]``: the upgrade path,
its warnings (preview, known issues, support life cycle, catalog age) and its time estimate.

Needs no network and no database: the release catalog (``RELEASE_CATALOG`` or the packaged one) and the
estimate settings are all it reads. "Today" (for support dates and catalog age) is a parameter of ``run``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import UTC, date, datetime
from typing import Any, TextIO

from pydantic import ValidationError

from bot.settings import Settings
from dms.catalog import Catalog, load_catalog
from dms.estimate import estimate
from dms.exceptions import DmsError
from dms.planner import plan_path
from dms.upgrade_path import Estimate, Hop, UpgradePath
from dms.versions import Track, Version, VersionSpec, parse_version
from workflow.model.errors import UserError
from workflow.model.target import LATEST, parse_target

PREVIEW = "preview"  # `--track preview`: the Slack wording of the explicit opt-in for a preview target


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("versions", nargs="+", metavar="FROM TO",
                        help="the version the agents run now (e.g. 9.6.0.0-8538 or 10.0.0 CU3), then the "
                             "version to reach (e.g. 10.3, 10.2.0 CU5, '10.2 CU5', latest or latest "
                             "feature); quotes are optional")
    parser.add_argument(
        "--track",
        choices=[*(track.value for track in Track), PREVIEW],
        default=None,
        help="release track of the target (default: feature when TO names a feature release, else main); "
             "'preview' allows a preview release, as --allow-preview does",
    )
    parser.add_argument("--allow-preview", action="store_true",
                        help="plan a preview release (not for production): the path then carries a warning")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


_CU_WORD = re.compile(r"^\[?cu\d*\]?$", re.IGNORECASE)
_CU_NUMBER = re.compile(r"^\d+\]?$")


def join_versions(words: list[str]) -> tuple[str, str]:
    """FROM and TO from the words typed: ``10.0.0 CU3 10.6`` is ``10.0.0 CU3`` and ``10.6`` (a CU word, or the
    number after a bare ``CU``, belongs to the version before it)."""
    versions: list[str] = []
    for word in words:
        previous = versions[-1].lower() if versions else ""
        after_cu = bool(_CU_NUMBER.match(word)) and previous.endswith(("cu", "[cu"))
        if versions and (_CU_WORD.match(word) or after_cu):
            versions[-1] += " " + word
        else:
            versions.append(word)
    if len(versions) != 2:
        raise ValueError(f"give two versions, FROM and TO; got {len(versions)}: {', '.join(versions)}")
    return versions[0], versions[1]


def split_latest(words: list[str]) -> tuple[str, str] | None:
    """``10.4.2 latest feature`` -> (``10.4.2``, ``latest feature``); None when TO is not ``latest``."""
    lowered = [word.lower() for word in words]
    if LATEST not in lowered:
        return None
    at = lowered.index(LATEST)
    return " ".join(words[:at]), " ".join(words[at:])


def resolve_target(
    text: str, *, track: Track | None, catalog: Catalog
) -> tuple[VersionSpec | Version, Track | None]:
    """TO as the slash command reads it (``workflow.model.target``): a version, or ``latest [main|feature]``,
    the newest released release of that track (a preview is never "the latest")."""
    try:
        asked = parse_target(text)
    except UserError as error:
        raise ValueError(str(error)) from None
    if asked.latest is None:
        assert asked.spec is not None
        return asked.spec, track
    named = asked.latest if text.split()[1:] else (track or asked.latest)
    if track is not None and track is not named:
        raise ValueError(f"`latest {named.value}` contradicts --track {track.value}")
    released = [v for v in catalog.versions if v.track is named and not catalog.is_preview(v)]
    if not released:
        raise ValueError(f"the release catalog has no released {named.value} release")
    return released[-1], named


def _fmt(minutes: float) -> str:
    hours, rest = divmod(round(minutes), 60)
    return f"{hours} h {rest:02d} min" if hours else f"{rest} min"


def _hop_lines(number: int, hop: Hop, width: int) -> list[str]:
    lines = [f"{number:>2}  {str(hop.version).ljust(width)}  {hop.package.value:<7}  {hop.name}",
             f"      why:          {hop.rule}",
             f"      docs:         {hop.rule_url}"]
    if hop.requirements:
        lines.append(f"      requirements: {'; '.join(hop.requirements)}")
    if hop.checks:
        lines.append(f"      checks:       {', '.join(hop.checks)}")
    if not hop.restarts_agents:
        lines.append("      restart:      none (DataMiner keeps running)")
    lines += [f"      before:       {text}" for text in hop.prerequisites]
    lines += [f"      after:        {text}" for text in hop.post_steps]
    return lines


def _estimate_lines(plan_estimate: Estimate) -> list[str]:
    lines = ["", "Time estimate"]
    name_width = max(len(phase.phase) for phase in plan_estimate.phases)
    for phase in plan_estimate.phases:
        span = f"{_fmt(phase.low_minutes)} - {_fmt(phase.high_minutes)}"
        lines.append(f"  {phase.phase.ljust(name_width)}  {span}")
        lines += [f"  {'':{name_width}}    - {factor}" for factor in phase.factors]
    total = f"{_fmt(plan_estimate.low_minutes)} - {_fmt(plan_estimate.high_minutes)}"
    lines.append(f"  {'Total'.ljust(name_width)}  {total}")
    window = plan_estimate.execution
    span = f"{_fmt(window.low_minutes)} - {_fmt(window.high_minutes)}"
    lines.append(f"  {'Upgrade window (execution)'.ljust(name_width)}  {span}")
    return lines


def render_text(
    path: UpgradePath, plan_estimate: Estimate, *, catalog: Catalog | None = None, today: date | None = None
) -> str:
    """The readable table: warnings, support, hops with rule, link, checks and requirements, the estimate."""
    lines = [f"Upgrade path {path.current} -> {path.target} ({path.track.value} track)", ""]
    if path.warnings:
        lines.append("Warnings")
        for warning in path.warnings:
            lines.append(f"  ! [{warning.kind.value}] {warning.text}")
            if warning.url:
                lines.append(f"      {warning.url}")
        lines.append("")
    if catalog is not None and today is not None:
        lines.append("Support (Software support lifecycles)")
        for role, version in (("current", path.current), ("target", path.target)):
            lines.append(f"  {role + ':':8} {catalog.support_status(version, today=today).text}")
        age = catalog.age_days(today=today)
        as_of = f"{catalog.as_of} ({age} days ago)" if catalog.as_of is not None else "unknown"
        lines += [f"  release catalog built from the documentation as of: {as_of}", ""]
    width = max(len(str(hop.version)) for hop in path.hops)
    lines.append(f" #  {'version'.ljust(width)}  package  name")
    for number, hop in enumerate(path.hops, start=1):
        lines += _hop_lines(number, hop, width)
    return "\n".join(lines + _estimate_lines(plan_estimate))


def to_json(path: UpgradePath, plan_estimate: Estimate, *, catalog: Catalog, today: date) -> dict[str, Any]:
    data = path.to_json(estimate=plan_estimate)
    data["support"] = {
        role: {"supported": status.supported, "text": status.text}
        for role, status in (("current", catalog.support_status(path.current, today=today)),
                             ("target", catalog.support_status(path.target, today=today)))
    }
    data["catalog"] = {
        "docs_snapshot": str(catalog.as_of) if catalog.as_of is not None else None,
        "age_days": catalog.age_days(today=today),
    }
    return data


def settings_error(error: ValidationError) -> str:
    # Name the setting and the problem, never the value: it could be a token.
    problems = (f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}" for item in error.errors())
    return "invalid settings: " + "; ".join(problems)


def run(
    args: argparse.Namespace,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    now: datetime | None = None,
) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    today = (now or datetime.now(UTC)).date()
    try:
        settings = Settings()
        current_text, target_text = split_latest(list(args.versions)) or join_versions(list(args.versions))
        current = parse_version(current_text)
        preview = args.track == PREVIEW or bool(getattr(args, "allow_preview", False))
        track = Track(args.track) if args.track and args.track != PREVIEW else None
        catalog = load_catalog(settings.release_catalog)
        target, track = resolve_target(target_text, track=track, catalog=catalog)
        path = plan_path(current=current, target=target, track=track, catalog=catalog, allow_preview=preview,
                         today=today)
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
        print(json.dumps(to_json(path, plan_estimate, catalog=catalog, today=today), indent=2), file=out)
    else:
        print(render_text(path, plan_estimate, catalog=catalog, today=today), file=out)
    return 0
