"""Planning a campaign, dry: every DMS is read and gets its own path and estimate to the one target, and the
waves get proposed windows. Nothing is stored, approved or booked.

Each DMS is read as a plan reads it (``workflow.plan_requests``: agents, one version, the version as read),
so two DMSs on different versions get different paths to the same target. Each DMS's window holds the high
end of its execution estimate; the DMSs of a wave run side by side, and no wave starts before the previous
wave's last window ended plus the soak (the earliest: the first wave's is now, to the next minute). A wave's
window is the one typed (``at ... for ...``), else each DMS's first maintenance slot (``maintenance`` in the
targets file, ``workflow.model.calendar``) that holds its estimate from the earliest on, else the earliest.
A DMS that cannot be read or cannot reach the target refuses the whole campaign, every such DMS named in
one line; so does a window that starts too early, is shorter than an estimate, fits no maintenance slot,
or overlaps a plan already under way on its DMS.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
from workflow.model.calendar import MaintenanceSlot, next_window
from workflow.model.campaign import CampaignDms, CampaignPlan, CampaignRequest, KnownIssue, Wave
from workflow.model.clock import as_utc
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


@dataclass(frozen=True)
class Busy:
    """A DMS's plan under way when a campaign is planned (one per DMS: the active-upgrade lock)."""

    plan_id: int
    state: str
    window_start: datetime | None
    window_end: datetime | None


def busy_plans(session: Session, *, names: Sequence[str]) -> dict[str, Busy]:
    """The plan under way on each named DMS, where there is one."""
    found: dict[str, Busy] = {}
    for name in names:
        plan = plans.active_plan(session, dms_name=name)
        if plan is not None and plan.id is not None:
            found[name] = Busy(plan_id=plan.id, state=plan.state, window_start=as_utc(plan.window_start),
                               window_end=as_utc(plan.window_end))
    return found


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def clear_of(name: str, busy: Busy | None, *, start: datetime) -> None:
    """Refuse a window that the DMS's plan under way may still hold (it ends after the campaign's window
    starts, or it has no window yet): the campaign could not make the DMS's plan then."""
    if busy is None or (busy.window_end is not None and busy.window_end <= start):
        return
    held = (f"its window {_when(busy.window_start)} to {_when(busy.window_end)}"
            if busy.window_start is not None and busy.window_end is not None else "no window yet")
    raise UserError(f"DMS {name!r} has plan #{busy.plan_id} under way ({busy.state}, {held}), which its "
                    f"campaign window from {_when(start)} would overlap: finish or cancel that plan, or give "
                    "the wave a later window with `at ... for ...`")


def _window(item: tuple[str, int], *, request: CampaignRequest, length: timedelta, earliest: datetime,
            slots: Sequence[MaintenanceSlot]) -> tuple[datetime, datetime]:
    """A DMS's window in wave ``item[1]``: the wave's typed one, else the first of its maintenance calendar
    that holds its estimate, else the earliest possible."""
    name, number = item
    typed = request.window_of(number)
    if typed is not None:
        after = "now" if number == 1 else f"wave {number - 1} has soaked ({_when(earliest)})"
        if typed.start < earliest:
            raise UserError(f"Wave {number}'s window at {_when(typed.start)} starts before {after}")
        given = timedelta(minutes=typed.minutes) if typed.minutes is not None else length
        if given < length:
            raise UserError(f"Wave {number}'s window of {_span(given)} is shorter than {name}'s upgrade "
                            f"estimate of up to {_span(length)}: widen it with `for`")
        return typed.start, typed.start + given
    if slots:
        window = next_window(slots, after=earliest, length=length)
        if window is None:
            listed = ", ".join(str(slot) for slot in slots)
            raise UserError(f"{name}'s upgrade estimate of up to {_span(length)} fits none of its "
                            f"maintenance slots ({listed}): give wave {number} a window with "
                            "`at ... for ...`")
        return window
    return earliest, earliest + length


def _span(length: timedelta) -> str:
    minutes = round(length.total_seconds() / 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


async def plan_campaign(
    request: CampaignRequest, *, access: DmsAccess, catalog: Catalog, settings: WorkflowSettings,
    now: datetime, learned: Mapping[str, float] | None = None, busy: Mapping[str, Busy] | None = None,
) -> CampaignPlan:
    """Read and plan every DMS of ``request`` and propose the waves' windows; stores nothing. ``busy``: the
    plans under way on its DMSs, whose windows a campaign window must not overlap."""
    check_names(request, access=access)
    target, track = plan_requests.parse_request(request.target, None, catalog=catalog)
    found = await read_paths(request.dms_names, access=access, catalog=catalog, target=target, track=track,
                             now=now)
    learned, busy = learned or {}, busy or {}
    earliest = first_start(now)
    waves: list[Wave] = []
    for number, names in enumerate(request.waves, start=1):
        members: list[CampaignDms] = []
        for name in names:
            path, agents = found[name]
            estimate = estimate_for(path, agents=agents, settings=settings,
                                    learned_startup_minutes=learned.get(name))
            length = timedelta(minutes=math.ceil(estimate.execution.high_minutes))
            start, end = _window((name, number), request=request, length=length, earliest=earliest,
                                 slots=access.target(name).slots)
            clear_of(name, busy.get(name), start=start)
            own = tuple(w for w in path.warnings
                        if w.kind is not WarningKind.KNOWN_ISSUE and w.kind not in _CAMPAIGN_WIDE)
            members.append(CampaignDms(name=name, agents=agents, path=path, estimate=estimate,
                                       window_start=start, window_end=end, warnings=own))
        wave = Wave(number=number, dms=tuple(members))
        waves.append(wave)
        earliest = wave.end + timedelta(minutes=request.soak_minutes)
    paths = {name: found[name][0] for name in request.dms_names}
    return CampaignPlan(target=next(iter(paths.values())).target, waves=tuple(waves),
                        soak_minutes=request.soak_minutes, soak_given=request.soak_given, planned_at=now,
                        known_issues=known_issues(paths), notes=_campaign_notes(list(paths.values())))
