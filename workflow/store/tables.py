"""Every database table, in one module (SQLModel), dialect-neutral so SQLite and PostgreSQL both work.

Times are stored as timezone-aware UTC (``workflow.store.columns.UTCDateTime``).
Enumerations are stored as plain strings (``PlanState`` values and so on) rather than database enums,
so adding a state never needs an ``ALTER TYPE``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from dms.upgrade_path import Hop
from workflow.model.clock import as_utc, utc_now
from workflow.store.columns import UTCDateTime, _created, _json, _time, metadata

__all__ = ["Campaign", "CampaignDms", "CampaignMessageRef", "UTCDateTime", "metadata"]


class DmsTarget(SQLModel, table=True):
    """A named DMS the bot knows (synced from DMS_URL or the targets file at start; no secrets)."""

    __tablename__ = "dms_target"

    name: str = Field(primary_key=True, max_length=100)
    url: str = Field(max_length=500)
    driver: str | None = Field(default=None, max_length=20)
    key_elements: list[str] = _json(default=list)
    key_checks: list[str] = _json(default=list)
    updated_at: datetime = _created()


class UpgradePlan(SQLModel, table=True):
    __tablename__ = "upgrade_plan"

    id: int | None = Field(default=None, primary_key=True)
    dms_name: str = Field(max_length=100, index=True)
    state: str = Field(max_length=32, index=True)  # a workflow.store.states.PlanState value
    requester: str = Field(max_length=100)
    channel: str = Field(default="", max_length=100)
    current_version: str = Field(max_length=64)
    target_version: str = Field(max_length=64)
    track: str = Field(max_length=16)
    window_start: datetime | None = _time()
    window_end: datetime | None = _time()
    estimate: dict[str, Any] = _json(default=dict)  # Estimate.to_json()
    # The path's warnings (preview, known issues, support, catalog age): PathWarning.model_dump(mode="json")
    warnings: list[dict[str, Any]] = _json(default=list)
    # The engine's latest view of every agent: [{id, name, status, detail, version}, ...]
    agents: list[dict[str, Any]] = _json(default=list)
    eta: datetime | None = _time()
    dedupe_key: str | None = Field(default=None, max_length=200, unique=True)
    created_at: datetime = _created()
    updated_at: datetime = _created()


class PlanHop(SQLModel, table=True):
    """One hop of a plan: the path's ``dms.upgrade_path.Hop`` as a JSON document (its one definition),
    plus when each execution step started and was observed done."""

    __tablename__ = "plan_hop"
    __table_args__ = (sa.UniqueConstraint("plan_id", "position", name="uq_plan_hop_plan_position"),)

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="upgrade_plan.id", index=True)
    position: int
    hop: dict[str, Any] = _json(default=dict)  # Hop.model_dump(mode="json")
    upload_started_at: datetime | None = _time()
    upload_done_at: datetime | None = _time()
    upgrade_started_at: datetime | None = _time()
    upgrade_done_at: datetime | None = _time()
    wait_started_at: datetime | None = _time()
    wait_done_at: datetime | None = _time()

    @classmethod
    def of(cls, hop: Hop, *, plan_id: int, position: int) -> PlanHop:
        return cls(plan_id=plan_id, position=position, hop=hop.model_dump(mode="json"))

    def to_hop(self) -> Hop:
        return Hop.model_validate(self.hop)

    def step_times(self) -> dict[str, datetime | None]:
        """Every step's start and end, in UTC, by column name."""
        return {name: as_utc(getattr(self, name)) for name in STEP_COLUMNS}


STEP_COLUMNS = (
    "upload_started_at", "upload_done_at", "upgrade_started_at", "upgrade_done_at", "wait_started_at",
    "wait_done_at",
)


class ChecklistItem(SQLModel, table=True):
    __tablename__ = "checklist_item"
    __table_args__ = (sa.UniqueConstraint("plan_id", "key", name="uq_checklist_item_plan_key"),)

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="upgrade_plan.id", index=True)
    key: str = Field(max_length=120)
    position: int
    phase: str = Field(max_length=20)  # workflow.store.checklist.Phase value
    kind: str = Field(max_length=10)  # "auto" | "manual"
    required: bool = False
    title: str
    checked: bool = False
    checked_by: str | None = Field(default=None, max_length=100)
    checked_at: datetime | None = _time()
    detail: str = Field(default="")


class CheckRun(SQLModel, table=True):
    __tablename__ = "check_run"

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int | None = Field(default=None, foreign_key="upgrade_plan.id", index=True)
    dms_name: str = Field(max_length=100)
    kind: str = Field(max_length=20)  # "precheck" | "verify"
    actor: str = Field(default="bot", max_length=100)
    started_at: datetime = _created()
    finished_at: datetime | None = _time()
    passed: bool = False
    baseline: dict[str, Any] = _json(default=dict)


class CheckResultRow(SQLModel, table=True):
    __tablename__ = "check_result"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="check_run.id", index=True)
    position: int
    name: str = Field(max_length=100)
    title: str
    status: str = Field(max_length=10)  # dms.models.CheckStatus value
    detail: str = Field(default="")
    agent: str | None = Field(default=None, max_length=100)
    source: str | None = Field(default=None, max_length=40)  # dms.models.Source value; None: the usual one


class Approval(SQLModel, table=True):
    """At most one decision per plan: the unique plan_id is what makes concurrent claims safe."""

    __tablename__ = "approval"

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="upgrade_plan.id", unique=True)
    decision: str = Field(max_length=10)  # "approved" | "rejected"
    actor: str = Field(max_length=100)
    reason: str = Field(default="")
    override: bool = False  # approved despite a failed pre-check or open required items
    decided_at: datetime = _created()


class SlackMessageRef(SQLModel, table=True):
    __tablename__ = "slack_message_ref"
    __table_args__ = (sa.UniqueConstraint("plan_id", "role", name="uq_slack_message_ref_plan_role"),)

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="upgrade_plan.id", index=True)
    role: str = Field(max_length=40)  # "plan", "status", ...
    channel: str = Field(max_length=100)
    ts: str = Field(max_length=40)
    thread_ts: str | None = Field(default=None, max_length=40)
    updated_at: datetime = _created()


class AuditEvent(SQLModel, table=True):
    """Append-only: rows are never updated or deleted (enforced in workflow.store.audit)."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(
        default_factory=utc_now, sa_column=sa.Column(UTCDateTime(), nullable=False, index=True)
    )
    # No foreign key: audit rows must outlive anything they mention.
    plan_id: int | None = Field(default=None, index=True)
    actor: str = Field(max_length=100)
    action: str = Field(max_length=60)  # "transition", "plan.created", "checklist.tick", ...
    from_state: str | None = Field(default=None, max_length=32)
    to_state: str | None = Field(default=None, max_length=32)
    reason: str = Field(default="")
    detail: dict[str, Any] = _json(default=dict)


class ActiveUpgrade(SQLModel, table=True):
    """The one-active-upgrade-per-DMS lock: the primary key is the DMS name."""

    __tablename__ = "active_upgrade"

    dms_name: str = Field(primary_key=True, max_length=100)
    plan_id: int = Field(foreign_key="upgrade_plan.id", unique=True)
    since: datetime = _created()


class ObservedDuration(SQLModel, table=True):
    """How long something really took on a DMS; feeds that DMS's future estimates."""

    __tablename__ = "observed_duration"

    id: int | None = Field(default=None, primary_key=True)
    dms_name: str = Field(max_length=100, index=True)
    kind: str = Field(max_length=40)  # "upload", "upgrade", "agent_startup", "hop", ...
    minutes: float
    plan_id: int | None = Field(default=None, foreign_key="upgrade_plan.id")
    observed_at: datetime = _created()


class AgentStatusChange(SQLModel, table=True):
    """One agent's status as the engine saw it change during an execution (the timeline's agent lanes).

    Only changes are stored (and each agent's first sighting), so a 50-agent upgrade writes a few rows per
    agent, not one per poll."""

    __tablename__ = "agent_status_change"

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="upgrade_plan.id", index=True)
    at: datetime = Field(default_factory=utc_now, sa_column=sa.Column(UTCDateTime(), nullable=False))
    agent_id: int
    agent_name: str = Field(max_length=200)
    status: str = Field(max_length=40)  # AgentStatus value, or "Unreachable" when the agent did not answer
    version: str | None = Field(default=None, max_length=64)
class Lease(SQLModel, table=True):
    """Who may act, across replicas: ``plan:<id>`` (that plan's execution) or ``scheduler`` (the leader).
    The owner renews ``expires_at``; another process takes the lease over only once it has passed."""

    __tablename__ = "lease"

    name: str = Field(primary_key=True, max_length=100)
    owner: str = Field(max_length=200)
    acquired_at: datetime = _created()
    expires_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))


class SlackOutboxMessage(SQLModel, table=True):
    """One Slack call the bot still has to make: written in the transaction of the change it tells
    of, delivered in ``id`` order per channel by ``handlers.delivery.outbox_sender``, deleted once Slack
    took it.

    ``kind`` "upsert" posts the plan's message in ``role`` the first time and edits it afterwards (a pending
    upsert of the same role absorbs newer content: edits merge); "reply" is a thread reply, never merged.
    A claim (``claimed_by`` until ``claimed_until``) keeps two replicas from sending one message twice."""

    __tablename__ = "slack_outbox"

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=100, index=True)
    plan_id: int | None = Field(default=None, index=True)
    kind: str = Field(max_length=10)  # "upsert" | "reply"
    role: str | None = Field(default=None, max_length=40)
    in_thread: bool = False  # upsert: a reply in the plan's thread
    edit_only: bool = False  # upsert: only if the message was posted before (a redraw), else dropped
    broadcast: bool = False  # reply: also shown in the channel
    payload: dict[str, Any] = _json(default=dict)  # chat.postMessage/chat.update arguments: text and blocks
    state: str = Field(default="pending", max_length=10)  # "pending" | "refused"
    merged: int = 0  # newer edits this row absorbed
    attempts: int = 0
    next_attempt_at: datetime = _created()
    last_error: str = Field(default="", max_length=200)
    claimed_by: str | None = Field(default=None, max_length=120)
    claimed_until: datetime | None = _time()
    created_at: datetime = _created()


class OutboxEvent(SQLModel, table=True):
    """A domain event the chat has yet to hear of: written in the transaction of the change it tells of,
    drawn into Slack calls (``slack_outbox``) by the sender when it takes it, in ``id`` order.

    ``body`` is the event as JSON (``workflow.event_codec``), snapshot included, so drawing it later reads
    nothing else and says what was true when the change was made."""

    __tablename__ = "outbox_event"

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int | None = Field(default=None, index=True)
    kind: str = Field(max_length=60)  # the event's class name
    body: dict[str, Any] = _json(default=dict)
    created_at: datetime = _created()


class SeenRequest(SQLModel, table=True):
    """A signed Slack request already let in (HTTP mode), shared by every replica and kept across restarts
    until its timestamp has left Slack's 5-minute window (``expires_at``): a replay of it is ignored.
    ``digest`` is a hash of the timestamp and signature, never the signature itself."""

    __tablename__ = "seen_request"

    digest: str = Field(primary_key=True, max_length=64)
    expires_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False, index=True))


class StepAttempt(SQLModel, table=True):
    """One DMS call (or question to a person) of an execution step that must happen at most once, keyed by
    plan, hop and step (``key`` is its idempotency key: the upgrade's job id). Written as ``intent`` before
    the call and ``done`` with its ``outcome`` after it, so a loop resumed after a database failure or a
    restart knows the call may have happened and asks the DMS instead of making it again."""

    __tablename__ = "step_attempt"
    __table_args__ = (sa.UniqueConstraint("plan_id", "hop_index", "step",
                                          name="uq_step_attempt_plan_hop_step"),)

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="upgrade_plan.id", index=True)
    hop_index: int
    step: str = Field(max_length=20)  # "upload" | "upgrade"
    key: str = Field(max_length=64, unique=True)
    state: str = Field(default="intent", max_length=10)  # "intent" | "done"
    outcome: dict[str, Any] = _json(default=dict)
    started_at: datetime = _created()
    finished_at: datetime | None = _time()


# The campaigns' tables, by concept in a module of their own: imported here so the metadata and the
# migrations see every table.
from workflow.store.campaign_tables import Campaign, CampaignDms, CampaignMessageRef  # noqa: E402

