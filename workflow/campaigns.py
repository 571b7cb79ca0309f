"""Planning a campaign, dry: every DMS is read and gets its own path and estimate to the one target, and the
waves get proposed windows. Nothing is stored, approved or booked.

Each DMS is read as a plan reads it (``workflow.plan_requests``: agents, one version, the version as read),
so two DMSs on different versions get different paths to the same target. Windows are the earliest
possible: the first wave starts now (to the next minute), each DMS's window holds the high end of its
execution estimate, the DMSs of a wave run side by side, and the next wave starts when the previous
wave's last window ends plus the soak. A DMS that cannot be read or cannot reach the target refuses the
whole campaign, every such DMS named in one line.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlmodel import Session

from dms.catalog import Catalog
from dms.estimate import estimate as make_estimate
from dms.exceptions import PathError
from dms.planner import plan_path
from dms.upgrade_path import Estimate, PathWarning, UpgradePath, WarningKind
from dms.versions import Track, Version, VersionSpec
from workflow import plan_requests
from workflow.dms_access import DmsAccess
from workflow.model.campaign import CampaignDms, CampaignPlan, CampaignRequest, KnownIssue, Wave
from workflow.model.errors import NotFound, UserError
from workflow.settings import WorkflowSettings
from workflow.store import plans

# Said once for the whole campaign rather than under every DMS.
_CAMPAIGN_WIDE = (WarningKind.CATALOG, WarningKind.PREVIEW)


def check_names(request: CampaignRequest, *, access: DmsAccess) -> None:
    """Every DMS is a target of the targets file; NotFound names all the unknown ones and the known."""
    known = access.targets
    unknown = [name for name in request.dms_names if name not in known]
    if unknown:
        named = ", ".join(repr(name) for name in unknown)
        raise NotFound(f"There is no DMS target named {named} (known: {', '.join(sorted(known))})")


def learned_startups(session: Session, *, names: Sequence[str]) -> dict[str, float]:
    """The startup time each DMS showed in past upgrades, where known (as a plan's estimate uses it)."""
    learned: dict[str, float] = {}
    for name in names:
        minutes = plans.learned_minutes(session, dms_name=name, kind=plan_requests.STARTUP_KIND)
        if minutes and minutes > 0:
            learned[name] = minutes
    return learned


def estimate_for(path: UpgradePath, *, agents: int, settings: WorkflowSettings,
                 learned_startup_minutes: float | None = None) -> Estimate:
    return make_estimate(
        path=path, agents=agents, package_size_mb=settings.package_size_mb,
        upload_bandwidth_mbps=settings.upload_bandwidth_mbps,
        prerequisite_check_minutes=settings.prerequisite_check_minutes,
        agent_startup_minutes=settings.agent_startup_minutes, hotfixes=settings.hotfixes,
        learned_startup_minutes=learned_startup_minutes,
    )


async def _read(access: DmsAccess, name: str) -> tuple[Version, int] | str:
    """The version every agent of ``name`` runs and how many agents, or what stops it being planned."""
    try:
        states = await plan_requests.read_agents(access, name)
        current, _ = plan_requests.current_version(states, confirmed=None, dms_name=name)
    except UserError as exc:
        return exc.message
    return current, len(states)


async def read_paths(
    names: Sequence[str], *, access: DmsAccess, catalog: Catalog, target: VersionSpec | Version,
    track: Track | None, now: datetime,
) -> dict[str, tuple[UpgradePath, int]]:
    """Each DMS's path and agent count, the DMSs read side by side; UserError naming every DMS that fails."""
    readings = await asyncio.gather(*(_read(access, name) for name in names))
    found: dict[str, tuple[UpgradePath, int]] = {}
    problems: list[str] = []
    for name, reading in zip(names, readings, strict=True):
        if isinstance(reading, str):
            problems.append(reading)
            continue
        current, agents = reading
        try:
            path = plan_path(current=current, target=target, track=track, catalog=catalog,
                             today=now.date())
        except PathError as exc:
            problems.append(f"DMS {name!r} ({current}): {exc}")
            continue
        found[name] = (path, agents)
    if problems:
        raise UserError("Cannot plan the campaign: " + "; ".join(problems))
    return found


def known_issues(paths: Mapping[str, UpgradePath]) -> tuple[KnownIssue, ...]:
    """Every known issue on any path, once, with each DMS and the hops that meet it."""
    found: dict[tuple[str, str], dict[str, list[int]]] = {}
    for name, path in paths.items():
        for warning in path.warnings_of(WarningKind.KNOWN_ISSUE):
            text = warning.text
            if warning.hop is not None and warning.hop < len(path.hops):
                text = text.removeprefix(f"Hop {warning.hop + 1} ({path.hops[warning.hop].version}): ")
            issue = found.setdefault((text.removeprefix("Known issue: "), warning.url), {})
            hops = issue.setdefault(name, [])
            if warning.hop is not None:
                hops.append(warning.hop + 1)
    return tuple(KnownIssue(text=text, url=url, where=tuple(_where(name, hops) for name, hops in on.items()))
                 for (text, url), on in found.items())


def _where(name: str, hops: Sequence[int]) -> str:
    if not hops:
        return name
    return f"{name} hop{'s' if len(hops) > 1 else ''} {', '.join(str(hop) for hop in hops)}"


def _campaign_notes(paths: Sequence[UpgradePath]) -> tuple[PathWarning, ...]:
    notes: dict[str, PathWarning] = {}
    for path in paths:
        for warning in path.warnings:
            if warning.kind in _CAMPAIGN_WIDE:
                notes.setdefault(warning.text, warning)
    return tuple(notes.values())


def first_start(now: datetime) -> datetime:
    """Now, to the next whole minute (a window is read and typed to the minute)."""
    whole = now.replace(second=0, microsecond=0)
    return whole if whole == now else whole + timedelta(minutes=1)


async def plan_campaign(
    request: CampaignRequest, *, access: DmsAccess, catalog: Catalog, settings: WorkflowSettings,
    now: datetime, learned: Mapping[str, float] | None = None,
) -> CampaignPlan:
    """Read and plan every DMS of ``request`` and propose the waves' windows; stores nothing."""
    check_names(request, access=access)
    target, track = plan_requests.parse_request(request.target, None, catalog=catalog)
    found = await read_paths(request.dms_names, access=access, catalog=catalog, target=target, track=track,
                             now=now)
    learned = learned or {}
    start = first_start(now)
    waves: list[Wave] = []
    for number, names in enumerate(request.waves, start=1):
        members: list[CampaignDms] = []
        for name in names:
            path, agents = found[name]
            estimate = estimate_for(path, agents=agents, settings=settings,
                                    learned_startup_minutes=learned.get(name))
            length = timedelta(minutes=math.ceil(estimate.execution.high_minutes))
            own = tuple(w for w in path.warnings
                        if w.kind is not WarningKind.KNOWN_ISSUE and w.kind not in _CAMPAIGN_WIDE)
            members.append(CampaignDms(name=name, agents=agents, path=path, estimate=estimate,
                                       window_start=start, window_end=start + length, warnings=own))
        wave = Wave(number=number, dms=tuple(members))
        waves.append(wave)
        start = wave.end + timedelta(minutes=request.soak_minutes)
    paths = {name: found[name][0] for name in request.dms_names}
    return CampaignPlan(target=next(iter(paths.values())).target, waves=tuple(waves),
                        soak_minutes=request.soak_minutes, soak_given=request.soak_given, planned_at=now,
                        known_issues=known_issues(paths), notes=_campaign_notes(list(paths.values())))
