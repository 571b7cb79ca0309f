"""``PlanSnapshot``: a frozen, self-contained view of one plan with everything a renderer needs.

Slack's Block Kit builders and the console render snapshots only; they never touch the database, so a
snapshot is taken in one short session and can travel with an event to another task.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session

from dms.models import CheckResult, CheckStatus
from dms.upgrade_path import Estimate, Hop, PathWarning, PhaseEstimate
from workflow.store import approvals, check_runs, checklist, plans
from workflow.store.checklist import Phase
from workflow.store.clock import as_utc
from workflow.store.states import PlanState, get_plan
from workflow.store.tables import CheckRun, DmsTarget, PlanHop


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class HopView(Hop):
    """A hop as the plan shows it: the path's hop plus its row id, position and step times."""

    id: int
    position: int
    upload_started_at: datetime | None
    upload_done_at: datetime | None
    upgrade_started_at: datetime | None
    upgrade_done_at: datetime | None
    wait_started_at: datetime | None
    wait_done_at: datetime | None

    @property
    def status(self) -> str:
        """pending, uploading, uploaded, upgrading, waiting or done."""
        if self.wait_done_at or (not self.restarts_agents and self.upgrade_done_at):
            return "done"
        if self.wait_started_at or self.upgrade_done_at:
            return "waiting"
        if self.upgrade_started_at:
            return "upgrading"
        if self.upload_done_at:
            return "uploaded"
        if self.upload_started_at:
            return "uploading"
        return "pending"


class ItemView(_Frozen):
    key: str
    title: str
    phase: Phase
    kind: str  # "auto" | "manual"
    required: bool
    checked: bool
    checked_by: str | None
    checked_at: datetime | None
    detail: str


class CheckRunView(_Frozen):
    id: int
    kind: str  # "precheck" | "verify"
    passed: bool
    actor: str
    started_at: datetime
    finished_at: datetime | None
    results: tuple[CheckResult, ...]

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        return tuple(result for result in self.results if result.status is CheckStatus.FAIL)


class DecisionView(_Frozen):
    decision: str  # "approved" | "rejected"
    actor: str
    reason: str
    override: bool
    decided_at: datetime


class PlanSnapshot(_Frozen):
    id: int
    dms_name: str
    state: PlanState
    requester: str
    channel: str
    current_version: str
    target_version: str
    track: str
    window_start: datetime | None
    window_end: datetime | None
    hops: tuple[HopView, ...]
    warnings: tuple[PathWarning, ...]  # preview, known issues, support, catalog age
    estimate: Estimate | None
    checklist: tuple[ItemView, ...]
    precheck: CheckRunView | None
    verification: CheckRunView | None
    approval: DecisionView | None
    agents: tuple[dict[str, Any], ...]  # [{id, name, status, detail, version}], as the engine last saw them
    eta: datetime | None
    created_at: datetime
    updated_at: datetime
    # The plan's DMS is a simulator (its URL is "simulated"): every message about it must say so.
    dms_simulated: bool = False

    @property
    def checklist_by_phase(self) -> dict[Phase, tuple[ItemView, ...]]:
        """Every phase (in MOP order) with its items; phases without items are left out."""
        grouped = {phase: tuple(item for item in self.checklist if item.phase is phase) for phase in Phase}
        return {phase: group for phase, group in grouped.items() if group}

    @property
    def open_required_manual(self) -> tuple[ItemView, ...]:
        return tuple(
            item for item in self.checklist if item.kind == "manual" and item.required and not item.checked
        )

    @property
    def terminal(self) -> bool:
        return self.state.terminal

    @property
    def plan_id(self) -> int:
        """The same as ``id``; reads better next to other ids in event handlers."""
        return self.id


def _estimate(data: dict[str, Any]) -> Estimate | None:
    phases = data.get("phases")
    if not phases:
        return None
    return Estimate(
        phases=tuple(
            PhaseEstimate(
                phase=str(phase["phase"]),
                low_minutes=float(phase["low_minutes"]),
                high_minutes=float(phase["high_minutes"]),
                factors=tuple(phase.get("factors", ())),
            )
            for phase in phases
        )
    )


def _hop(row: PlanHop) -> HopView:
    return HopView.model_validate({**row.hop, "id": row.id, "position": row.position, **row.step_times()})


def _run(session: Session, run: CheckRun | None) -> CheckRunView | None:
    if run is None or run.id is None:
        return None
    started = as_utc(run.started_at)
    assert started is not None
    return CheckRunView(
        id=run.id,
        kind=run.kind,
        passed=run.passed,
        actor=run.actor,
        started_at=started,
        finished_at=as_utc(run.finished_at),
        results=tuple(check_runs.results(session, run_id=run.id)),
    )


def load_snapshot(session: Session, *, plan_id: int) -> PlanSnapshot:
    """The plan as it is in this session; NotFound if there is no such plan."""
    plan = get_plan(session, plan_id=plan_id)
    assert plan.id is not None
    decision = approvals.get_decision(session, plan_id=plan_id)
    created, updated = as_utc(plan.created_at), as_utc(plan.updated_at)
    assert created is not None and updated is not None
    return PlanSnapshot(
        id=plan.id,
        dms_name=plan.dms_name,
        state=PlanState(plan.state),
        requester=plan.requester,
        channel=plan.channel,
        current_version=plan.current_version,
        target_version=plan.target_version,
        track=plan.track,
        window_start=as_utc(plan.window_start),
        window_end=as_utc(plan.window_end),
        hops=tuple(_hop(row) for row in plans.hops(session, plan_id=plan_id)),
        warnings=tuple(PathWarning.model_validate(warning) for warning in plan.warnings),
        estimate=_estimate(plan.estimate),
        checklist=tuple(
            ItemView(
                key=item.key,
                title=item.title,
                phase=Phase(item.phase),
                kind=item.kind,
                required=item.required,
                checked=item.checked,
                checked_by=item.checked_by,
                checked_at=as_utc(item.checked_at),
                detail=item.detail,
            )
            for item in checklist.items(session, plan_id=plan_id)
        ),
        precheck=_run(session, check_runs.last_precheck(session, plan_id=plan_id)),
        verification=_run(session, check_runs.last_verification(session, plan_id=plan_id)),
        approval=None
        if decision is None
        else DecisionView(
            decision=decision.decision,
            actor=decision.actor,
            reason=decision.reason,
            override=decision.override,
            decided_at=as_utc(decision.decided_at) or decision.decided_at,
        ),
        agents=tuple(dict(agent) for agent in plan.agents),
        eta=as_utc(plan.eta),
        created_at=created,
        updated_at=updated,
        dms_simulated=_simulated(session, plan.dms_name),
    )


def _simulated(session: Session, dms_name: str) -> bool:
    target = session.get(DmsTarget, dms_name)
    return target is not None and target.url.strip().lower() == "simulated"
