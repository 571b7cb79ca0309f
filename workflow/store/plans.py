"""Upgrade plans: creation (with hops, checklist and the DMS lock), the window, history, hop steps and
the durations each DMS really took.

Every function works in the caller's transaction (``with workflow.store.database.session(engine) as s: ...``).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from dms.models import AgentState
from dms.upgrade_path import Estimate, PathWarning, UpgradePath, WarningKind
from dms.versions import Track, parse_version
from workflow.model.checklist import StepKey
from workflow.model.clock import utc_now
from workflow.model.errors import ActiveUpgradeExists, NotFound, RuleViolation
from workflow.store import agent_history, audit, checklist
from workflow.store.states import ACTIVE, PlanState, get_plan, transition
from workflow.store.tables import ActiveUpgrade, DmsTarget, ObservedDuration, PlanHop, UpgradePlan

HopStep = Literal["upload", "upgrade", "wait"]
StepEvent = Literal["started", "done"]
HOP_STEPS: tuple[HopStep, ...] = ("upload", "upgrade", "wait")
# The window can be set or moved only before anything irreversible happens.
_WINDOW_STATES = frozenset({PlanState.PLANNED, PlanState.SCHEDULED, PlanState.PRECHECKED, PlanState.BLOCKED})


def active_plan(session: Session, *, dms_name: str) -> UpgradePlan | None:
    lock = session.get(ActiveUpgrade, dms_name)
    return None if lock is None else session.get(UpgradePlan, lock.plan_id)


def by_dedupe_key(session: Session, dedupe_key: str | None) -> UpgradePlan | None:
    """The plan a repeated request (Slack retries a slash command it thinks was lost) already created."""
    if dedupe_key is None:
        return None
    return session.exec(select(UpgradePlan).where(UpgradePlan.dedupe_key == dedupe_key)).first()


def create_plan(
    session: Session,
    *,
    dms_name: str,
    path: UpgradePath,
    estimate: Estimate,
    requester: str,
    channel: str,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    dedupe_key: str | None = None,
    hotfixes: int = 0,
    now: datetime | None = None,
) -> UpgradePlan:
    """Store a new PLANNED plan with its hops and checklist, taking the DMS's one-active-upgrade lock.

    A repeated ``dedupe_key`` (Slack retries a slash command it thinks was lost) returns the plan that
    key already created. Another active plan on the DMS raises ActiveUpgradeExists naming it. With a
    window, the plan moves on to SCHEDULED in the same transaction.
    """
    existing = by_dedupe_key(session, dedupe_key)
    if existing is not None:
        return existing
    active = active_plan(session, dms_name=dms_name)
    if active is not None and active.id is not None:
        raise ActiveUpgradeExists(dms_name=dms_name, plan_id=active.id, state=active.state)
    _check_window(window_start, window_end)
    at = now or utc_now()  # the caller's clock (the engine's), so every row of the plan agrees
    plan = UpgradePlan(
        dms_name=dms_name,
        state=PlanState.PLANNED.value,
        requester=requester,
        channel=channel,
        current_version=str(path.current),
        target_version=str(path.target),
        track=path.track.value,
        estimate=estimate.to_json(),
        warnings=[warning.model_dump(mode="json") for warning in path.warnings],
        dedupe_key=dedupe_key,
        created_at=at,
        updated_at=at,
    )
    locked = _take_lock(session, plan=plan, dms_name=dms_name, dedupe_key=dedupe_key)
    if locked is not plan:
        return locked
    assert plan.id is not None
    for position, hop in enumerate(path.hops):
        session.add(PlanHop.of(hop, plan_id=plan.id, position=position))
    detail = {"dms": dms_name, "from": str(path.current), "to": str(path.target), "channel": channel}
    audit.record(session, actor=requester, action="plan.created", plan_id=plan.id,
                 to_state=PlanState.PLANNED.value, detail=detail, now=at)
    _create_checklist(session, plan_id=plan.id, path=path, target=session.get(DmsTarget, dms_name),
                      hotfixes=hotfixes, now=at)
    if window_start is not None and window_end is not None:
        set_window(session, plan_id=plan.id, start=window_start, end=window_end, actor=requester, now=at)
    session.flush()
    return plan


def _take_lock(session: Session, *, plan: UpgradePlan, dms_name: str, dedupe_key: str | None) -> UpgradePlan:
    """Insert the plan and the DMS's one-active-upgrade lock; a lost race gives the plan its dedupe key
    already created, or ActiveUpgradeExists naming the winner."""
    session.add(plan)
    try:
        # A savepoint, so a lost race (PostgreSQL: another replica took the lock) leaves the caller's
        # transaction usable for the error message.
        with session.begin_nested():
            session.flush()
            assert plan.id is not None
            session.add(ActiveUpgrade(dms_name=dms_name, plan_id=plan.id))
            session.flush()
    except IntegrityError:
        existing = by_dedupe_key(session, dedupe_key)
        if existing is not None:
            return existing
        winner = active_plan(session, dms_name=dms_name)
        if winner is not None and winner.id is not None:
            raise ActiveUpgradeExists(dms_name=dms_name, plan_id=winner.id, state=winner.state) from None
        raise
    return plan


def _create_checklist(
    session: Session, *, plan_id: int, path: UpgradePath, target: DmsTarget | None, hotfixes: int,
    now: datetime,
) -> None:
    """The MOP's checklist for this path and DMS, with the track already decided by the request."""
    requirements = [text for hop in path.hops for text in hop.requirements]
    steps = checklist.build_steps(
        requirements=requirements,
        key_elements=target.key_elements if target else (),
        key_checks=target.key_checks if target else (),
        hotfixes=hotfixes,
        path_items=path.checklist_items(),
        known_issues=[warning.text for warning in path.warnings_of(WarningKind.KNOWN_ISSUE)],
    )
    checklist.create_items(session, plan_id=plan_id, steps=steps)
    checklist.auto_tick(session, plan_id=plan_id, key=StepKey.DETERMINE_TRACK,
                        detail=f"{path.track.value} track",
                        now=now)


def window_fits(estimate: dict[str, Any], *, minutes: float) -> tuple[bool, str]:
    """Does a window of ``minutes`` hold the execution phase's worst case (the MOP's item 4)?"""
    phases = estimate.get("phases") or []
    if not phases:
        return False, "no time estimate to compare the window with"
    high = float(phases[-1].get("high_minutes", 0.0))
    window, needed = _hours(minutes), _hours(high)
    if minutes >= high:
        return True, f"the {window} window holds the execution estimate of at most {needed}"
    return False, f"the {window} window is shorter than the execution estimate of up to {needed}: widen it"


def _hours(minutes: float) -> str:
    whole = round(minutes)
    return f"{whole // 60}h{whole % 60:02d}m" if whole >= 60 else f"{whole}m"


def _check_window(start: datetime | None, end: datetime | None) -> None:
    if (start is None) != (end is None):
        raise RuleViolation("A window needs both a start and an end")
    if start is None or end is None:
        return
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("window times must be timezone-aware")
    if end <= start:
        raise RuleViolation("The window must end after it starts")


def set_window(
    session: Session, *, plan_id: int, start: datetime, end: datetime, actor: str, now: datetime | None = None
) -> UpgradePlan:
    """Set or move the window. PLANNED becomes SCHEDULED; a PRECHECKED plan goes back to SCHEDULED
    because its pre-check belonged to the old window."""
    _check_window(start, end)
    plan = get_plan(session, plan_id=plan_id, for_update=True)
    state = PlanState(plan.state)
    if state not in _WINDOW_STATES:
        raise RuleViolation(f"Plan #{plan_id} is {state.label}: its window can no longer change")
    old = (plan.window_start, plan.window_end)
    plan.window_start, plan.window_end = start, end
    at = now or utc_now()
    plan.updated_at = at
    session.add(plan)
    audit.record(
        session,
        actor=actor,
        action="plan.window",
        plan_id=plan_id,
        detail={
            "start": start.isoformat(),
            "end": end.isoformat(),
            "previous_start": old[0].isoformat() if old[0] else None,
            "previous_end": old[1].isoformat() if old[1] else None,
        },
        now=at,
    )
    window_text = f"{start:%Y-%m-%d %H:%M} UTC"
    checklist.auto_tick(session, plan_id=plan_id, key=StepKey.DETERMINE_WINDOW, detail=window_text, now=at)
    fits, why = window_fits(plan.estimate, minutes=(end - start).total_seconds() / 60)
    checklist.auto_tick(session, plan_id=plan_id, key=StepKey.DETAILS_TIME_SLOT, checked=fits, detail=why,
                        now=at)
    if state is PlanState.PLANNED:
        transition(session, plan_id=plan_id, to=PlanState.SCHEDULED, actor=actor, reason="window scheduled",
                   now=at)
    elif state is PlanState.PRECHECKED and old != (start, end):
        transition(session, plan_id=plan_id, to=PlanState.SCHEDULED, actor=actor, reason="window moved",
                   now=at)
    session.flush()
    return plan


def list_plans(
    session: Session,
    *,
    dms_name: str | None = None,
    states: Sequence[PlanState] | None = None,
    limit: int = 20,
) -> list[UpgradePlan]:
    """Newest first."""
    statement = select(UpgradePlan)
    if dms_name is not None:
        statement = statement.where(UpgradePlan.dms_name == dms_name)
    if states is not None:
        statement = statement.where(col(UpgradePlan.state).in_([state.value for state in states]))
    return list(session.exec(statement.order_by(col(UpgradePlan.id).desc()).limit(limit)))


def active_plans(session: Session) -> list[UpgradePlan]:
    return list_plans(session, states=sorted(ACTIVE), limit=1000)


def history(session: Session, *, dms_name: str | None = None, limit: int = 10) -> list[UpgradePlan]:
    return list_plans(session, dms_name=dms_name, limit=limit)


def hops(session: Session, *, plan_id: int) -> list[PlanHop]:
    statement = select(PlanHop).where(PlanHop.plan_id == plan_id).order_by(col(PlanHop.position))
    return list(session.exec(statement))


def mark_step(
    session: Session, *, hop_id: int, step: HopStep, event: StepEvent, now: datetime | None = None
) -> PlanHop:
    """Record that a hop's step started or finished. Idempotent: the first timestamp stays, so the
    engine can call it again after a restart and ``*_started_at`` keeps meaning "already triggered".

    The step's own timestamps are wall-clock measurements of the DMS (durations, ETA, learning); the
    audit row is stamped ``now``, the engine's clock, like every other audit row of the plan."""
    if step not in HOP_STEPS or event not in ("started", "done"):
        raise ValueError(f"unknown hop step {step!r}/{event!r}")
    hop = session.get(PlanHop, hop_id)
    if hop is None:
        raise NotFound(f"There is no hop #{hop_id}")
    attribute = f"{step}_{event}_at"
    if getattr(hop, attribute) is None:
        measured = utc_now()
        if event == "done" and getattr(hop, f"{step}_started_at") is None:
            setattr(hop, f"{step}_started_at", measured)  # observed done without our start (resume)
        setattr(hop, attribute, measured)
        session.add(hop)
        audit.record(
            session,
            actor="bot",
            action=f"hop.{step}.{event}",
            plan_id=hop.plan_id,
            detail={"hop": hop.position, "version": str(hop.to_hop().version), "package": hop.to_hop().name},
            now=now,
        )
        session.flush()
    return hop


def agents_json(states: Sequence[AgentState]) -> list[dict[str, Any]]:
    """Agent states as stored on the plan and in audit rows."""
    return [
        {"id": s.id, "name": s.name, "status": s.status, "detail": s.detail,
         "version": str(s.version) if s.version else None, "reachable": s.reachable, "address": s.address}
        for s in states
    ]


def update_progress(
    session: Session,
    *,
    plan_id: int,
    agents: list[dict[str, Any]] | None = None,
    eta: datetime | None = None,
    now: datetime | None = None,
) -> UpgradePlan:
    """The engine's latest agent states and ETA (not audited: it changes every poll); every agent whose
    status changed gets a row in the agent history (``agent_history``)."""
    plan = get_plan(session, plan_id=plan_id)
    if agents is not None:
        agent_history.record_changes(session, plan_id=plan_id, previous=plan.agents, current=agents)
        plan.agents = [dict(agent) for agent in agents]
    if eta is not None:
        plan.eta = eta
    plan.updated_at = now or utc_now()
    session.add(plan)
    session.flush()
    return plan


def record_duration(
    session: Session, *, dms_name: str, kind: str, minutes: float, plan_id: int | None = None
) -> ObservedDuration:
    if minutes < 0:
        raise ValueError("a duration cannot be negative")
    row = ObservedDuration(dms_name=dms_name, kind=kind, minutes=minutes, plan_id=plan_id)
    session.add(row)
    session.flush()
    return row


def learned_minutes(session: Session, *, dms_name: str, kind: str, last: int = 5) -> float | None:
    """The median of the last ``last`` observations of ``kind`` on this DMS, or None if never seen.
    The median, because one upgrade stuck on a slow disk should not double the next estimate."""
    statement = (
        select(ObservedDuration.minutes)
        .where(ObservedDuration.dms_name == dms_name, ObservedDuration.kind == kind)
        .order_by(col(ObservedDuration.id).desc())
        .limit(last)
    )
    values = list(session.exec(statement))
    return float(statistics.median(values)) if values else None


def stored_path(session: Session, plan: UpgradePlan) -> UpgradePath:
    """The plan's path, rebuilt from its stored hops."""
    assert plan.id is not None
    return UpgradePath(
        current=parse_version(plan.current_version),
        target=parse_version(plan.target_version),
        track=Track(plan.track),
        hops=tuple(row.to_hop() for row in hops(session, plan_id=plan.id)),
        warnings=tuple(PathWarning.model_validate(warning) for warning in plan.warnings),
    )
