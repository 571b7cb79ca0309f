"""What a plan request must pass before anything is stored: the version and track asked for, the window,
a DMS whose agents all run one version, and the estimate (with what this DMS taught us before).

Every refusal is a ``UserError`` whose message tells the person what was wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlmodel import Session

from dms.catalog import Catalog
from dms.estimate import estimate as make_estimate
from dms.exceptions import DmsApiError, VersionError
from dms.models import AgentState
from dms.upgrade_path import Estimate, UpgradePath
from dms.versions import Track, Version, VersionSpec, parse_version
from workflow.dms_access import DmsAccess
from workflow.model.checklist import StepKey
from workflow.model.errors import ActiveUpgradeExists, UserError
from workflow.model.target import parse_target
from workflow.settings import WorkflowSettings
from workflow.store import audit, checklist, plans
from workflow.store.snapshot import PlanSnapshot, load_snapshot

# What a learned duration is stored as (``workflow.store.plans.record_duration``): wall minutes x time scale.
STARTUP_KIND = "agent_startup"
MIN_WINDOW_MINUTES = 15
MAX_WINDOW_MINUTES = 7 * 24 * 60
# A start this far in the past still counts as "now" (minute-resolution time pickers, slow requests).
START_NOW_TOLERANCE = timedelta(minutes=2)
# A start further ahead is a typo (2062 for 2026), and near datetime's end the window's end overflows.
MAX_START_AHEAD = timedelta(days=366)


def parse_request(
    target: str, track: str | None, *, catalog: Catalog | None = None
) -> tuple[VersionSpec | Version, Track | None]:
    """The version and track asked for (``workflow.model.target`` reads the words). ``latest`` (or
    ``latest feature``) is the newest *released* release of the track in the catalog."""
    asked = parse_target(target)
    given: Track | None = None
    if track:
        try:
            given = Track(track.strip().lower())
        except ValueError:
            raise UserError(f"Track must be 'main' or 'feature', not {track!r}") from None
    if asked.latest is None:
        assert asked.spec is not None
        return asked.spec, given
    if catalog is None:
        raise UserError("`latest` needs the release catalog")
    named = asked.latest if target.lower().split()[1:] else (given or asked.latest)
    if given is not None and given is not named:
        raise UserError(f"`latest {named.value}` contradicts `track {given.value}`")
    released = [v for v in catalog.versions if v.track is named and not catalog.is_preview(v)]
    if not released:
        raise UserError(f"the release catalog has no released {named.value} release")
    return released[-1], named


def window(
    start: datetime | None, minutes: int | None, *, now: datetime, default_minutes: int
) -> tuple[datetime | None, datetime | None]:
    """(start, end) of a requested window, or (None, None) for none; refuses a start in the past.

    A start up to ``START_NOW_TOLERANCE`` ago means "now": Slack's time picker has minute resolution,
    so "now" picked there is always up to a minute old by the time it arrives. It is stored as given.
    """
    if start is None:
        if minutes is not None:
            raise UserError("A window length needs a window start")
        return None, None
    if start.tzinfo is None:
        raise UserError("The window start needs a time zone (UTC)")
    length = default_minutes if minutes is None else minutes
    problem = window_length_problem(length)
    if problem is not None:
        raise UserError(problem)
    if start < now - START_NOW_TOLERANCE:
        raise UserError(
            f"The window start {start:%Y-%m-%d %H:%M} UTC is in the past "
            f"(it is now {now:%Y-%m-%d %H:%M} UTC); pick the current minute or later"
        )
    if start > now + MAX_START_AHEAD:
        raise UserError(
            f"The window start {start:%Y-%m-%d %H:%M} UTC is more than a year ahead; "
            "plan closer to the upgrade"
        )
    return start, start + timedelta(minutes=length)


def window_length_problem(minutes: int) -> str | None:
    """The one window-length rule (the slash command and the window form both ask it)."""
    if MIN_WINDOW_MINUTES <= minutes <= MAX_WINDOW_MINUTES:
        return None
    return f"A window lasts between 15 minutes and 7 days, not {minutes} minutes"


def _as_read(state: AgentState) -> str | None:
    """What an agent runs as far as we can tell: the release, else DMAVersion as it reported it."""
    return str(state.version) if state.version is not None else (state.version_text or None)


def mixed_versions(states: Sequence[AgentState]) -> str | None:
    """None when every agent reports the same version (recognised or not), else each agent with its own."""
    versions = {_as_read(state) for state in states}
    if len(versions) == 1 and None not in versions:
        return None
    return ", ".join(
        f"{s.name}: {_as_read(s)}" if _as_read(s) else f"{s.name}: unknown ({s.detail or s.status})"
        for s in states
    )


def current_version(
    states: Sequence[AgentState], *, confirmed: str | None, dms_name: str
) -> tuple[Version, str | None]:
    """The version every agent runs, and (when the requester had to confirm it) DMAVersion as read.

    DataMiner does not document DMAVersion's format, so a string we cannot map is no reason to refuse:
    the requester states the version (``plan 10.5 from 10.4.0 CU3``) and the plan records both.
    """
    read, text = states[0].version, states[0].version_text
    if confirmed is None:
        if read is None:
            raise UserError(
                f"DMS {dms_name!r} reports version {text!r}, which is not recognised. Say which version it "
                "runs, e.g. `/dm-upgrade plan 10.5 from 10.4.0 CU3`"
            )
        return read, None
    try:
        given = parse_version(confirmed)
    except VersionError as exc:
        raise UserError(str(exc)) from None
    if read is not None and read != given:
        raise UserError(f"DMS {dms_name!r} runs {read}; `from` is only for a version the bot cannot read")
    return given, (text if read is None else None)


def record_reading(
    session: Session, *, plan_id: int, agents: int, current: Version, as_read: str | None, requester: str,
    now: datetime,
) -> None:
    """Tick "connected to the DMS" with what was read; a version the requester stated is audited."""
    on = f"on {current}" if as_read is None else f"reporting {as_read!r}, confirmed as {current}"
    checklist.auto_tick(session, plan_id=plan_id, key=StepKey.DETAILS_CONNECT,
                        detail=f"read {agents} agent(s), all {on}", now=now)
    if as_read is not None:
        audit.record(session, actor=requester, action="plan.current_confirmed", plan_id=plan_id,
                     reason=f"the DMS reports {as_read!r}; the requester stated {current}",
                     detail={"read": as_read, "confirmed": str(current)}, now=now)


async def read_agents(access: DmsAccess, dms_name: str) -> list[AgentState]:
    """Every agent with its version; refuses a DMS that cannot be read or runs mixed versions."""
    try:
        async with access.open(dms_name) as conn:
            states = await conn.client.agent_states()
    except DmsApiError as exc:
        raise UserError(f"Cannot read DMS {dms_name!r}: {exc}") from None
    if not states:
        raise UserError(f"DMS {dms_name!r} reports no agents")
    mixed = mixed_versions(states)
    if mixed is not None:
        raise UserError(
            f"The agents of DMS {dms_name!r} do not all run one version ({mixed}). "
            "A mixed cluster can corrupt data: bring every agent to the same version first."
        )
    return states


def estimate_for(
    session: Session, *, path: UpgradePath, dms_name: str, agents: int, settings: WorkflowSettings
) -> Estimate:
    """The MOP's time estimate, with the startup time this DMS showed in past upgrades when known."""
    learned = plans.learned_minutes(session, dms_name=dms_name, kind=STARTUP_KIND)
    return make_estimate(
        path=path,
        agents=agents,
        package_size_mb=settings.package_size_mb,
        upload_bandwidth_mbps=settings.upload_bandwidth_mbps,
        prerequisite_check_minutes=settings.prerequisite_check_minutes,
        agent_startup_minutes=settings.agent_startup_minutes,
        hotfixes=settings.hotfixes,
        learned_startup_minutes=learned if learned and learned > 0 else None,
    )


def existing_plan(session: Session, *, dedupe_key: str | None, dms_name: str) -> PlanSnapshot | None:
    """The plan this request already made (a retried slash command); ActiveUpgradeExists if the DMS has
    another active plan; else None."""
    existing = plans.by_dedupe_key(session, dedupe_key)
    if existing is not None and existing.id is not None:
        return load_snapshot(session, plan_id=existing.id)
    active = plans.active_plan(session, dms_name=dms_name)
    if active is not None and active.id is not None:
        raise ActiveUpgradeExists(dms_name=dms_name, plan_id=active.id, state=active.state)
    return None
