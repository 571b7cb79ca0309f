"""A campaign's timeline as a picture shows it: one lane per DMS, grouped by wave, with its window as
proposed and its upgrade as it ran (its plan's executing to its end), each wave's soak, and the campaign's
approval, halts, resumes and end. Built from the audit (every move of the campaign and of each DMS's plan
is a row with its time), so the picture tells what happened, not what was planned; ``now`` closes what is
still open.

``build_campaign_timeline`` is pure; ``load_campaign_timeline`` reads the rows. The drawing is
``handlers.blocks.campaign_chart``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlmodel import Session

from workflow.model.campaign_states import CampaignState, CampaignStatus, MemberState
from workflow.model.campaign_view import CampaignView
from workflow.model.clock import as_utc
from workflow.store import audit, campaigns
from workflow.store.tables import AuditEvent

MarkerKind = Literal["approval", "halt", "resume", "done", "aborted", "now"]
_ENDS = ("done", "failed", "cancelled", "expired")
_LABEL = re.compile(r"^(?:wave (?P<running>\d+) running|soaking wave (?P<soaking>\d+)|"
                    r"halted in wave (?P<halted>\d+)|(?P<plain>[a-z_]+))$")


@dataclass(frozen=True)
class DmsLane:
    """One DMS: its wave, its window as proposed, its upgrade as it ran (None: not started), how it ends."""

    name: str
    wave: int
    window: tuple[datetime, datetime] | None
    upgrade: tuple[datetime, datetime] | None
    outcome: str  # its plan's end ("done", "failed", ...), "skipped", "running" or "waiting"


@dataclass(frozen=True)
class Soak:
    wave: int
    start: datetime
    end: datetime
    finished: bool  # False: still soaking at ``now``, or cut short by a halt


@dataclass(frozen=True)
class CampaignMarker:
    at: datetime
    kind: MarkerKind
    label: str


@dataclass(frozen=True)
class CampaignTimeline:
    campaign_id: int
    title: str
    state: str  # the campaign's state as its card says it
    now: datetime
    lanes: tuple[DmsLane, ...]
    soaks: tuple[Soak, ...]
    markers: tuple[CampaignMarker, ...]


def status_of(label: str | None) -> CampaignStatus | None:
    """A campaign transition's state label back to its status ("soaking wave 2" -> SOAKING, 2)."""
    match = _LABEL.match(label or "")
    if match is None:
        return None
    for key, state in (("running", CampaignState.WAVE_RUNNING), ("soaking", CampaignState.SOAKING),
                       ("halted", CampaignState.HALTED)):
        if match.group(key):
            return CampaignStatus(state, int(match.group(key)))
    try:
        return CampaignStatus(CampaignState(match.group("plain")))
    except ValueError:
        return None


def _moves(rows: Sequence[AuditEvent]) -> list[tuple[datetime, CampaignStatus, CampaignStatus, AuditEvent]]:
    found = []
    for row in rows:
        at, before, after = as_utc(row.at), status_of(row.from_state), status_of(row.to_state)
        if row.action.endswith("transition") and at is not None and before is not None and after is not None:
            found.append((at, before, after, row))
    return found


def _soaks(moves: Sequence[tuple[datetime, CampaignStatus, CampaignStatus, AuditEvent]], *,
           now: datetime) -> tuple[Soak, ...]:
    soaks: list[Soak] = []
    for index, (at, _, after, _) in enumerate(moves):
        if after.state is not CampaignState.SOAKING:
            continue
        following = moves[index + 1] if index + 1 < len(moves) else None
        end = following[0] if following is not None else now
        finished = following is not None and following[2].state is not CampaignState.HALTED
        soaks.append(Soak(wave=after.wave, start=at, end=end, finished=finished))
    return tuple(soaks)


def _markers(moves: Sequence[tuple[datetime, CampaignStatus, CampaignStatus, AuditEvent]], *,
             now: datetime, terminal: bool) -> tuple[CampaignMarker, ...]:
    markers: list[CampaignMarker] = []
    for at, before, after, row in moves:
        if after.state is CampaignState.APPROVED:
            markers.append(CampaignMarker(at=at, kind="approval", label=f"approved by {row.actor}"))
        elif after.state is CampaignState.HALTED:
            markers.append(CampaignMarker(at=at, kind="halt", label=f"halted in wave {after.wave}"))
        elif before.state is CampaignState.HALTED and after.state is not CampaignState.ABORTED:
            markers.append(CampaignMarker(at=at, kind="resume", label=f"resumed by {row.actor}"))
        elif after.state is CampaignState.DONE:
            markers.append(CampaignMarker(at=at, kind="done", label="done"))
        elif after.state is CampaignState.ABORTED:
            markers.append(CampaignMarker(at=at, kind="aborted", label=f"aborted by {row.actor}"))
    if not terminal:
        markers.append(CampaignMarker(at=now, kind="now", label="now"))
    return tuple(markers)


def _upgrade(rows: Sequence[AuditEvent], *, now: datetime) -> tuple[tuple[datetime, datetime] | None, str]:
    """When a plan's upgrade ran (executing to its end, or to now) and how the plan ended."""
    began = next((as_utc(r.at) for r in rows if r.action == "transition" and r.to_state == "executing"), None)
    ended = next(((as_utc(r.at), str(r.to_state)) for r in rows
                  if r.action == "transition" and r.to_state in _ENDS), None)
    if began is None:
        return None, ended[1] if ended is not None else "waiting"
    if ended is None or ended[0] is None:
        return (began, now), "running"
    return (began, ended[0]), ended[1]


def build_campaign_timeline(view: CampaignView, *, moves: Sequence[AuditEvent],
                            plan_rows: Mapping[int, Sequence[AuditEvent]], now: datetime) -> CampaignTimeline:
    """The timeline of ``view`` from its own audit rows and those of each DMS's plan (pure)."""
    lanes = []
    for member in view.members:
        window = ((member.window_start, member.window_end)
                  if member.window_start is not None and member.window_end is not None else None)
        upgrade, outcome = _upgrade(plan_rows.get(member.plan_id or -1, ()), now=now)
        if member.state is MemberState.SKIPPED:
            outcome = "skipped"
        lanes.append(DmsLane(name=member.name, wave=member.wave, window=window, upgrade=upgrade,
                             outcome=outcome))
    ordered = _moves(moves)
    return CampaignTimeline(
        campaign_id=view.id, title=f"Campaign #{view.id} to {view.target}: {view.waves} waves, "
                                   f"soak {view.soak_minutes // 60}h{view.soak_minutes % 60:02d}m",
        state=view.status.label, now=now, lanes=tuple(lanes), soaks=_soaks(ordered, now=now),
        markers=_markers(ordered, now=now, terminal=view.state.terminal))


def load_campaign_timeline(session: Session, *, campaign_id: int, now: datetime) -> CampaignTimeline:
    """The campaign's timeline as the database holds it now; NotFound if there is no such campaign."""
    view = campaigns.load_view(session, campaign_id=campaign_id)
    plan_ids = {member.plan_id for member in view.members if member.plan_id is not None}
    return build_campaign_timeline(
        view, moves=campaigns.audit_rows(session, campaign_id=campaign_id),
        plan_rows={plan_id: audit.events(session, plan_id=plan_id) for plan_id in plan_ids}, now=now)
