"""Where an upgrade's time went: one plan's timeline, built from what the database holds.

``build_timeline`` is a pure function of the plan's snapshot (hop step times, check runs, approval,
estimate), its audit rows (transitions: executing, failure, cancel, done) and its agents' status changes;
``load_timeline`` reads those in one short session. Drawing lives elsewhere
(``handlers.blocks.timeline_chart``), so nothing here imports a plotting library.

Two clocks meet here, as in ``workflow.eta``: the estimate speaks in DMS minutes, the step times are
wall-clock. Execution estimates are divided by ``time_scale`` (1 on a real DMS, the simulator's speed
factor otherwise) so estimate and actual share one axis; the MOP's first three phases are people's work
and are drawn as estimated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlmodel import Session

from dms.estimate import PHASE_DETAILS, PHASE_DETERMINE, PHASE_EXECUTE, PHASE_PRECHECK
from dms.models import AgentStatus
from dms.upgrade_path import UpgradePath
from dms.versions import Track, parse_version
from workflow.eta import HopExpectation, hop_expectations
from workflow.model.clock import as_utc
from workflow.store import agent_history, audit
from workflow.store.snapshot import HopView, PlanSnapshot, load_snapshot
from workflow.store.states import PlanState
from workflow.store.tables import AgentStatusChange, AuditEvent

# What a span is; the drawing maps each kind to one colour of a colour-blind-safe palette.
SpanKind = Literal["phase", "upload", "upgrade", "restart", "verify", "starting", "disconnected",
                   "unreachable", "down"]
MarkerKind = Literal["approval", "failure", "cancel", "done", "now"]
LaneGroup = Literal["phase", "hop", "verify", "agent"]
STEP_KINDS: dict[str, SpanKind] = {"upload": "upload", "upgrade": "upgrade", "wait": "restart"}
STEP_LABELS: dict[SpanKind, str] = {
    "upload": "upload only + prerequisite checks", "upgrade": "upgrade started",
    "restart": "agents restarting", "verify": "verification",
}
_DOWN_KINDS: dict[str, SpanKind] = {
    AgentStatus.STARTING.value: "starting", AgentStatus.DISCONNECTED.value: "disconnected",
    agent_history.UNREACHABLE: "unreachable",
}


@dataclass(frozen=True)
class Span:
    """Something that happened from ``start`` to ``end``; ``ongoing``: not finished (``end`` is now, or
    the moment the plan ended)."""

    start: datetime
    end: datetime
    kind: SpanKind
    label: str = ""
    ongoing: bool = False


@dataclass(frozen=True)
class EstimateBand:
    """What was expected: done between ``low_end`` and ``high_end``, counted from ``start``."""

    start: datetime
    low_end: datetime
    high_end: datetime


@dataclass(frozen=True)
class Lane:
    key: str
    label: str
    group: LaneGroup
    spans: tuple[Span, ...] = ()
    estimate: EstimateBand | None = None


@dataclass(frozen=True)
class Marker:
    at: datetime
    kind: MarkerKind
    label: str


@dataclass(frozen=True)
class Timeline:
    plan_id: int
    title: str
    state: PlanState
    now: datetime
    time_scale: float
    phases: tuple[Lane, ...]  # the MOP's phases, over the plan's whole life
    execution: tuple[Lane, ...]  # every hop's steps, then the verification
    agents: tuple[Lane, ...]  # one lane per agent: when it was down
    markers: tuple[Marker, ...]

    @property
    def executed(self) -> bool:
        """Did the execution start (is there anything to draw in the execution panel)?"""
        return any(lane.spans for lane in self.execution) or any(m.kind == "approval" for m in self.markers)

    def lanes(self) -> tuple[Lane, ...]:
        return (*self.phases, *self.execution, *self.agents)


def load_timeline(session: Session, *, plan_id: int, now: datetime, time_scale: float = 1.0) -> Timeline:
    """The plan's timeline as the database holds it now; NotFound if there is no such plan."""
    snapshot = load_snapshot(session, plan_id=plan_id)
    return build_timeline(snapshot, events=audit.events(session, plan_id=plan_id),
                          changes=agent_history.changes(session, plan_id=plan_id), now=now,
                          time_scale=time_scale)


def build_timeline(
    snapshot: PlanSnapshot,
    *,
    events: Sequence[AuditEvent],
    changes: Sequence[AgentStatusChange],
    now: datetime,
    time_scale: float = 1.0,
) -> Timeline:
    """The timeline model of one plan (pure: no database, no clock but ``now``)."""
    if time_scale <= 0:
        raise ValueError("time_scale must be positive")
    moved = _transitions(events)
    ended = next((moved[s] for s in (PlanState.DONE, PlanState.FAILED, PlanState.CANCELLED,
                                     PlanState.EXPIRED) if s in moved), None)
    until = ended if snapshot.state.terminal and ended is not None else now
    window_set = next((as_utc(e.at) for e in events if e.action == "plan.window"), None)
    markers = _markers(snapshot, moved=moved, reasons=_reasons(events), now=now)
    return Timeline(
        plan_id=snapshot.id,
        title=f"Plan #{snapshot.id} on {snapshot.dms_name}: {snapshot.current_version} -> "
              f"{snapshot.target_version} (track: {snapshot.track_label})",
        state=snapshot.state,
        now=now,
        time_scale=time_scale,
        phases=_phase_lanes(snapshot, moved=moved, window_set=window_set, until=until, scale=time_scale),
        execution=_execution_lanes(snapshot, started=moved.get(PlanState.EXECUTING), until=until,
                                   scale=time_scale),
        agents=_agent_lanes(snapshot, changes, until=until, closed=snapshot.state.terminal),
        markers=markers,
    )


def _transitions(events: Sequence[AuditEvent]) -> dict[PlanState, datetime]:
    """When the plan first entered each state."""
    found: dict[PlanState, datetime] = {}
    for event in events:
        at = as_utc(event.at)
        if event.action == "transition" and event.to_state and at is not None:
            found.setdefault(PlanState(event.to_state), at)
    return found


def _reasons(events: Sequence[AuditEvent]) -> dict[PlanState, str]:
    return {PlanState(e.to_state): e.reason for e in events if e.action == "transition" and e.to_state}


def _span(start: datetime | None, end: datetime | None, *, kind: SpanKind, until: datetime,
          label: str = "", closed: bool = False) -> Span | None:
    """``end`` None: still going at ``until`` (now), or cut off there when the plan ended (``closed``)."""
    if start is None:
        return None
    finish = end if end is not None else max(until, start)
    return Span(start=start, end=finish, kind=kind, label=label, ongoing=end is None and not closed)


def _band(start: datetime | None, low: float, high: float, *, scale: float) -> EstimateBand | None:
    if start is None:
        return None
    return EstimateBand(start=start, low_end=start + timedelta(minutes=low / scale),
                        high_end=start + timedelta(minutes=max(high, low) / scale))


def _phase_lanes(
    snapshot: PlanSnapshot, *, moved: dict[PlanState, datetime], window_set: datetime | None,
    until: datetime, scale: float,
) -> tuple[Lane, ...]:
    precheck = snapshot.precheck
    executing = moved.get(PlanState.EXECUTING)
    precheck_start = precheck.started_at if precheck else None
    ends = [moved.get(s) for s in (PlanState.DONE, PlanState.FAILED, PlanState.CANCELLED)]
    execute_end = next((at for at in ends if at is not None), None)
    actual: dict[str, tuple[datetime | None, datetime | None]] = {
        PHASE_DETERMINE: (snapshot.created_at, window_set),
        PHASE_DETAILS: (window_set, precheck_start or executing),
        PHASE_PRECHECK: (precheck_start, precheck.finished_at if precheck else None),
        PHASE_EXECUTE: (executing, execute_end),
    }
    lanes: list[Lane] = []
    for index, phase in enumerate(snapshot.estimate.phases if snapshot.estimate else ()):
        start, end = actual.get(phase.phase, (None, None))
        span = _span(start, end, kind="phase", until=until, closed=snapshot.state.terminal)
        phase_scale = scale if phase.phase == PHASE_EXECUTE else 1.0
        lanes.append(Lane(key=f"phase-{index + 1}", label=f"{index + 1}. {phase.phase}", group="phase",
                          spans=(span,) if span else (),
                          estimate=_band(start, phase.low_minutes, phase.high_minutes, scale=phase_scale)))
    return tuple(lanes)


def _path(snapshot: PlanSnapshot) -> UpgradePath:
    return UpgradePath(current=parse_version(snapshot.current_version),
                       target=parse_version(snapshot.target_version), track=Track(snapshot.track),
                       hops=tuple(snapshot.hops))


def _execution_lanes(
    snapshot: PlanSnapshot, *, started: datetime | None, until: datetime, scale: float
) -> tuple[Lane, ...]:
    expectations: list[HopExpectation | None] = [None] * len(snapshot.hops)
    if snapshot.estimate and snapshot.hops:
        expectations = list(hop_expectations(path=_path(snapshot), estimate=snapshot.estimate))
    lanes: list[Lane] = []
    anchor = started  # where the next hop's estimate starts: the previous hop's (projected) end
    for hop, expected in zip(snapshot.hops, expectations, strict=True):
        spans = _hop_spans(hop, until=until, closed=snapshot.state.terminal)
        begin = hop.upload_started_at or anchor
        band = _band(begin, expected.low, expected.high, scale=scale) if expected else None
        lanes.append(Lane(key=f"hop-{hop.position + 1}",
                          label=f"Hop {hop.position + 1}: {hop.version} ({hop.package.value})",
                          group="hop", spans=spans, estimate=band))
        if hop.wait_done_at is not None or (hop.upgrade_done_at and not hop.restarts_agents):
            anchor = hop.wait_done_at or hop.upgrade_done_at
        elif band is not None:
            anchor = band.low_end + (band.high_end - band.low_end) / 2
    verification = snapshot.verification
    span = None
    if verification is not None:
        span = _span(verification.started_at, verification.finished_at, kind="verify", until=until,
                     label=STEP_LABELS["verify"], closed=snapshot.state.terminal)
    lanes.append(Lane(key="verify", label="Verification", group="verify", spans=(span,) if span else ()))
    return tuple(lanes)


def _hop_spans(hop: HopView, *, until: datetime, closed: bool) -> tuple[Span, ...]:
    spans = []
    for step, kind in STEP_KINDS.items():
        start, end = getattr(hop, f"{step}_started_at"), getattr(hop, f"{step}_done_at")
        span = _span(start, end, kind=kind, until=until, label=STEP_LABELS[kind], closed=closed)
        if span is not None:
            spans.append(span)
    return tuple(spans)


def _agent_lanes(
    snapshot: PlanSnapshot, changes: Sequence[AgentStatusChange], *, until: datetime, closed: bool
) -> tuple[Lane, ...]:
    """One lane per agent (every agent the plan saw), with a span for every time it was not Running."""
    by_agent: dict[int, list[AgentStatusChange]] = {}
    names: dict[int, str] = {}
    for change in changes:
        by_agent.setdefault(change.agent_id, []).append(change)
        names[change.agent_id] = change.agent_name
    for agent in snapshot.agents:
        names.setdefault(int(agent["id"]), str(agent.get("name") or agent["id"]))
    lanes = []
    for agent_id in sorted(names, key=lambda a: (names[a].lower(), a)):
        history = sorted(by_agent.get(agent_id, []), key=lambda c: (c.at, c.id or 0))
        spans: list[Span] = []
        for current, following in zip(history, [*history[1:], None], strict=True):
            if current.status == AgentStatus.RUNNING.value:
                continue
            start = as_utc(current.at)
            end = as_utc(following.at) if following is not None else None
            span = _span(start, end, kind=_DOWN_KINDS.get(current.status, "down"), until=until,
                         label=current.status, closed=closed)
            if span is not None:
                spans.append(span)
        lanes.append(Lane(key=f"agent-{agent_id}", label=names[agent_id], group="agent", spans=tuple(spans)))
    return tuple(lanes)


_ENDINGS: tuple[tuple[PlanState, MarkerKind], ...] = (
    (PlanState.FAILED, "failure"), (PlanState.CANCELLED, "cancel"), (PlanState.DONE, "done"))


def _markers(
    snapshot: PlanSnapshot, *, moved: dict[PlanState, datetime], reasons: dict[PlanState, str], now: datetime
) -> tuple[Marker, ...]:
    markers: list[Marker] = []
    approval = snapshot.approval
    if approval is not None and approval.decision == "approved":
        text = "approved (override)" if approval.override else "approved"
        markers.append(Marker(at=approval.decided_at, kind="approval", label=text))
    for state, kind in _ENDINGS:
        if state in moved:
            reason = reasons.get(state, "") if kind != "done" else ""
            text = f"{state.label}: {reason}" if reason else state.label
            markers.append(Marker(at=moved[state], kind=kind, label=text[:80]))
    if not snapshot.state.terminal:
        markers.append(Marker(at=now, kind="now", label="now"))
    return tuple(markers)
