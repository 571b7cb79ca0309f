"""What the engine tells the outside world, as typed events, and the ``Notifier`` protocol that hears them.

Every event carries the plan id and a fresh view of the plan taken right after the change, so a renderer
(Slack, console) never has to query the database to draw it: a ``PlanSnapshot`` (``SnapshotEvent``), or
for a note of one line only the plan's row (``PlanHeader``). No Slack code lives here.

    Event                                         (the plan's row: a note of one line)
    ├── CheckStarted                              (kind "pre" or "post")
    ├── ReminderDue
    ├── DmsConnectionLost, DmsConnectionRestored  (once per outage, not per poll)
    └── SnapshotEvent                             (the whole plan: what its message shows)
        ├── PlanCreated, WindowScheduled, StateChanged
        ├── CheckFinished                         (kind "pre" or "post")
        ├── ItemTicked
        ├── ApprovalRequested, ApprovalGranted, ApprovalRejected
        ├── HopStarted, HopFinished, AgentProgress, EtaChanged
        ├── CubeStepRequested, CubeStepConfirmed  (watch driver: a person's step in Cube, one at a time)
        ├── UploadOnlyRequested, UploadOnlyReported  (the day before: a person's Upload only in Cube)
        └── UpgradeFinished, UpgradeFailed, UpgradeCancelled, UpgradeExpired
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from dms.models import AgentState, CheckResult

# At run time: the event codec reads the annotations.
from workflow.model.snapshot import PlanHeader, PlanSnapshot

log = logging.getLogger(__name__)

CheckKind = Literal["pre", "post"]

# Shown with every failure after agents were touched: the downgrade MOP is a snapshot restore.
DOWNGRADE_GUIDANCE = (
    "Do not retry blindly. Check every agent in Cube (System Center > Agents). If the DMS cannot be "
    "brought to the target version, follow the downgrade procedure: restore the VM snapshot (or the "
    "DataMiner backup) taken before the upgrade, databases included, on every agent of the cluster."
)
# Shown when the failure happened before any agent left its version (nothing was started, or DataMiner
# refused the package when the upgrade started).
UNTOUCHED_GUIDANCE = "No agent left its version: the DMS still runs its original version (nothing to restore)"


@dataclass(frozen=True, kw_only=True)
class Event:
    """``snapshot``: the plan's own row at least; a note of one line (CheckStarted, ReminderDue, the DMS's
    connection lost or back) needs no more, and its event is drawn without the five queries of a whole
    snapshot (``WorkflowContext.note``)."""

    plan_id: int
    snapshot: PlanHeader


@dataclass(frozen=True, kw_only=True)
class SnapshotEvent(Event):
    """An event whose message shows the plan (checklist, hops, checks, approval): a whole snapshot."""

    snapshot: PlanSnapshot


@dataclass(frozen=True, kw_only=True)
class PlanCreated(SnapshotEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class WindowScheduled(SnapshotEvent):
    start: datetime
    end: datetime
    actor: str


@dataclass(frozen=True, kw_only=True)
class StateChanged(SnapshotEvent):
    from_state: str
    to_state: str
    actor: str
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class CheckStarted(Event):
    kind: CheckKind
    actor: str


@dataclass(frozen=True, kw_only=True)
class CheckFinished(SnapshotEvent):
    kind: CheckKind
    results: tuple[CheckResult, ...]
    passed: bool


@dataclass(frozen=True, kw_only=True)
class ItemTicked(SnapshotEvent):
    key: str
    actor: str
    checked: bool


@dataclass(frozen=True, kw_only=True)
class ReminderDue(Event):
    open_items: tuple[str, ...]  # titles of the required manual items still open


@dataclass(frozen=True, kw_only=True)
class ApprovalRequested(SnapshotEvent):
    approvers: tuple[str, ...]  # Slack user ids configured (the group, if any, is in the settings)


@dataclass(frozen=True, kw_only=True)
class ApprovalGranted(SnapshotEvent):
    actor: str
    override_reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class ApprovalRejected(SnapshotEvent):
    actor: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class HopStarted(SnapshotEvent):
    hop_index: int
    version: str
    package: str
    # No longer set: the watch driver's instructions come one step at a time (CubeStepRequested).
    instructions: str | None = None
    resumed: bool = False


@dataclass(frozen=True, kw_only=True)
class CubeStepRequested(SnapshotEvent):
    """Watch driver: a person must do ``step`` of the hop in Cube, then click Done in Cube by ``deadline``."""

    hop_index: int
    step: str  # "upload" | "upgrade"
    instructions: tuple[str, ...]
    deadline: datetime


@dataclass(frozen=True, kw_only=True)
class CubeStepConfirmed(SnapshotEvent):
    hop_index: int
    step: str
    actor: str


@dataclass(frozen=True, kw_only=True)
class UploadOnlyRequested(SnapshotEvent):
    """The day-before check asks a person for Upload only of ``file`` in Cube (``workflow.upload_only``)."""

    file: str
    instructions: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class UploadOnlyReported(SnapshotEvent):
    actor: str
    passed: bool
    report: str  # what Cube reported, when the checks failed
    file: str


@dataclass(frozen=True, kw_only=True)
class HopFinished(SnapshotEvent):
    hop_index: int
    version: str
    minutes: float | None = None  # wall-clock minutes the hop took, when known


@dataclass(frozen=True, kw_only=True)
class AgentProgress(SnapshotEvent):
    hop_index: int
    agents: tuple[AgentState, ...]


@dataclass(frozen=True, kw_only=True)
class EtaChanged(SnapshotEvent):
    eta: datetime
    remaining_minutes: float


@dataclass(frozen=True, kw_only=True)
class DmsConnectionLost(Event):
    """The running execution cannot reach the DMS; it keeps asking until ``deadline`` (the hop's)."""

    dms_name: str
    error: str
    deadline: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class DmsConnectionRestored(Event):
    dms_name: str
    minutes: float  # how long it was unreachable (wall clock)


@dataclass(frozen=True, kw_only=True)
class UpgradeFinished(SnapshotEvent):
    results: tuple[CheckResult, ...] = ()


@dataclass(frozen=True, kw_only=True)
class UpgradeFailed(SnapshotEvent):
    reason: str
    guidance: str
    agents: tuple[AgentState, ...] = ()


@dataclass(frozen=True, kw_only=True)
class UpgradeCancelled(SnapshotEvent):
    actor: str
    reason: str
    agents: tuple[AgentState, ...] = ()  # where every agent ended after the cancel (execution only)
    settled: bool = True  # False: the agents were still moving when the bot stopped watching


@dataclass(frozen=True, kw_only=True)
class UpgradeExpired(SnapshotEvent):
    pass


@runtime_checkable
class Notifier(Protocol):
    async def notify(self, event: Event) -> None: ...


def reads_outbox(notifier: Notifier) -> bool:
    """Whether ``notifier`` tells of events from the outbox of domain events: the workflow then writes
    every event there, in the transaction of its change (``workflow.store.event_outbox``)."""
    return bool(getattr(notifier, "reads_outbox", False))


class FanoutNotifier:
    """Sends each event to every notifier; one that fails is logged and does not stop the others."""

    def __init__(self, notifiers: Iterable[Notifier]) -> None:
        self._notifiers: Sequence[Notifier] = tuple(notifiers)

    async def notify(self, event: Event) -> None:
        for notifier in self._notifiers:
            try:
                await notifier.notify(event)
            except Exception:
                # A broken chat must never stop an upgrade that is running.
                log.exception("notifier %s failed on %s", type(notifier).__name__, type(event).__name__)

    @property
    def reads_outbox(self) -> bool:
        return any(reads_outbox(notifier) for notifier in self._notifiers)
