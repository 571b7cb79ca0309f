"""``PlanSnapshot``: a frozen, self-contained view of one plan with everything a renderer needs.

Slack's Block Kit builders and the console render snapshots only; they never touch the database, so a
snapshot is taken in one short session (``workflow.store.snapshot.load_snapshot``) and can travel with an
event to another task.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from dms.models import CheckResult, CheckStatus
from dms.upgrade_path import Estimate, Hop, PathWarning, WarningKind
from workflow.model.checklist import Phase
from workflow.model.states import PlanState


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


class PlanHeader(_Frozen):
    """The plan's own row: what a one-line note in its thread draws on (the pre-check started, the DMS
    stopped answering). Taken without the hops, checklist, checks and approval, which cost a query each."""

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
    eta: datetime | None
    created_at: datetime
    updated_at: datetime
    # The plan's DMS is a simulator (its URL is "simulated"): every message about it must say so.
    dms_simulated: bool = False

    @property
    def terminal(self) -> bool:
        return self.state.terminal

    @property
    def plan_id(self) -> int:
        """The same as ``id``; reads better next to other ids in event handlers."""
        return self.id


class PlanSnapshot(PlanHeader):
    """The whole plan, for the messages that show it (the plan message, a check's results, the status)."""

    hops: tuple[HopView, ...]
    warnings: tuple[PathWarning, ...]  # preview, known issues, support, catalog age
    estimate: Estimate | None
    checklist: tuple[ItemView, ...]
    precheck: CheckRunView | None
    verification: CheckRunView | None
    approval: DecisionView | None
    agents: tuple[dict[str, Any], ...]  # [{id, name, status, detail, version}], as the engine last saw them

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
    def track_label(self) -> str:
        """The track as people should read it: a preview target (planned with ``track preview``) is
        stored on its release's track, and must not pass for an ordinary release of it."""
        preview = any(warning.kind is WarningKind.PREVIEW for warning in self.warnings)
        return self.track + (", preview release" if preview else "")
