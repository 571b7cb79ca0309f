"""Loading a ``PlanSnapshot`` (``workflow.model.snapshot``) in one short session."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from dms.upgrade_path import Estimate, PathWarning, PhaseEstimate
from workflow.model.clock import as_utc
from workflow.model.snapshot import CheckRunView, DecisionView, HopView, ItemView, PlanHeader, PlanSnapshot
from workflow.store import approvals, check_runs, checklist, plans
from workflow.store.checklist import Phase
from workflow.store.states import PlanState, get_plan
from workflow.store.tables import CheckRun, DmsTarget, PlanHop, UpgradePlan

# ``Session.info`` key of the DMSs this unit of work looked up (name -> simulated or not).
_SIMULATED = "dmu.simulated"


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


def load_header(session: Session, *, plan_id: int) -> PlanHeader:
    """The plan's own row as it is in this session (``PlanHeader``); NotFound if there is no such plan.
    For the events whose message is one line: a whole snapshot costs five more queries."""
    return PlanHeader(**_header_fields(session, get_plan(session, plan_id=plan_id)))


def load_snapshot(session: Session, *, plan_id: int) -> PlanSnapshot:
    """The plan as it is in this session; NotFound if there is no such plan."""
    plan = get_plan(session, plan_id=plan_id)
    decision = approvals.get_decision(session, plan_id=plan_id)
    runs = check_runs.latest(session, plan_id=plan_id)
    return PlanSnapshot(
        **_header_fields(session, plan),
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
        precheck=_run(session, runs.get("precheck")),
        verification=_run(session, runs.get("verify")),
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
    )


def _header_fields(session: Session, plan: UpgradePlan) -> dict[str, Any]:
    assert plan.id is not None
    created, updated = as_utc(plan.created_at), as_utc(plan.updated_at)
    assert created is not None and updated is not None
    return {
        "id": plan.id,
        "dms_name": plan.dms_name,
        "state": PlanState(plan.state),
        "requester": plan.requester,
        "channel": plan.channel,
        "current_version": plan.current_version,
        "target_version": plan.target_version,
        "track": plan.track,
        "window_start": as_utc(plan.window_start),
        "window_end": as_utc(plan.window_end),
        "eta": as_utc(plan.eta),
        "created_at": created,
        "updated_at": updated,
        "dms_simulated": _simulated(session, plan.dms_name),
    }


def _simulated(session: Session, dms_name: str) -> bool:
    # Once per unit of work and DMS: the header and the snapshot of one unit both ask.
    known: dict[str, bool] = session.info.setdefault(_SIMULATED, {})
    if dms_name not in known:
        target = session.get(DmsTarget, dms_name)
        known[dms_name] = target is not None and target.url.strip().lower() == "simulated"
    return known[dms_name]
