"""How the engine's events look in Slack: each event drawn into the Slack calls that tell of it.

- The plan message is posted on ``PlanCreated`` and edited in place on every change.
- Its thread carries one status message edited in place (hops, agents, progress bar, ETA), milestones as
  replies, and failures and the final result as replies also broadcast to the channel.
- The approval request (Approve / Reject) is replaced by who decided, and when.

Drawing is pure: it reads only the event (and its snapshot) and the settings, never the database or Slack,
so the sender can draw an event from the outbox of domain events just before it sends, in any process.
Edits are "upserts" decided when the call runs: the first one posts, the next ones edit; "redraw if it was
posted" is an ``edit_only`` upsert decided by the sender.
"""

from __future__ import annotations

from dms.durations import duration_text
from handlers import safe_text as safe
from handlers.blocks import cube as blocks_cube
from handlers.blocks import notes as blocks_notes
from handlers.blocks import plan as blocks
from handlers.blocks import progress as blocks_progress
from handlers.delivery.campaign_drawing import draw_campaign
from workflow.events import (
    AgentProgress,
    ApprovalGranted,
    ApprovalRejected,
    ApprovalRequested,
    CheckFinished,
    CheckStarted,
    CubeStepConfirmed,
    CubeStepRequested,
    DmsConnectionLost,
    DmsConnectionRestored,
    EtaChanged,
    Event,
    HopFinished,
    HopStarted,
    ItemTicked,
    PlanCreated,
    ReminderDue,
    SnapshotEvent,
    StateChanged,
    UpgradeCancelled,
    UpgradeExpired,
    UpgradeFailed,
    UpgradeFinished,
    UploadOnlyReported,
    UploadOnlyRequested,
    WindowScheduled,
)
from workflow.model.campaign_events import CampaignEvent
from workflow.model.outbox import PICTURE, REPLY, UPSERT, Outgoing
from workflow.model.snapshot import PlanSnapshot
from workflow.model.states import PlanState
from workflow.settings import WorkflowSettings

PLAN, STATUS, APPROVAL = "plan", "status", "approval"
_PLAN_CHANGES = (PlanCreated, WindowScheduled, StateChanged, CheckFinished, ItemTicked, ApprovalRequested,
                 ApprovalGranted, ApprovalRejected, HopFinished, UpgradeFinished, UpgradeFailed,
                 UpgradeCancelled, UpgradeExpired)


def draw(event: Event | CampaignEvent, *, settings: WorkflowSettings | None) -> list[Outgoing]:
    """The Slack calls that tell of ``event``, in the order they must be made (a campaign's event:
    ``handlers.delivery.campaign_drawing``)."""
    if isinstance(event, CampaignEvent):
        return draw_campaign(event)
    draft = _Draft(settings)
    draft.draw_event(event)
    return draft.calls


class _Draft:
    """The calls drawn for one event; a new one per event, so drawing on several threads is safe."""

    def __init__(self, settings: WorkflowSettings | None) -> None:
        # With settings the plan message says who can approve and when the bot acts.
        self._settings = settings
        self.calls: list[Outgoing] = []

    def draw_event(self, event: Event) -> None:
        if not isinstance(event, SnapshotEvent):
            self._note(event)
            return
        snap = event.snapshot  # the whole plan; a note carries its row only (PlanHeader)
        if isinstance(event, _PLAN_CHANGES):
            notes = blocks_notes.plan_notes(snap, settings=self._settings) if self._settings else ()
            self._upsert(snap.id, PLAN, snap.channel, blocks.plan_message(snap, notes=notes), in_thread=False)
        match event:
            case StateChanged():
                self._state_changed(event)
            case WindowScheduled():
                self._reply(snap.id, snap.channel, blocks_progress.note(
                    f":calendar: Window set to {blocks.window_text(snap)} by {_who(event.actor)}."))
            case ItemTicked():
                self._redraw_approval_request(snap)  # an open item it listed may just have been ticked
            case CheckFinished():
                result = blocks_progress.check_result(snap, kind=event.kind, results=event.results,
                                                      passed=event.passed)
                self._reply(snap.id, snap.channel, result, broadcast=not event.passed)
                self._redraw_approval_request(snap)
            case ApprovalRequested():
                self._upsert(snap.id, APPROVAL, snap.channel,
                             blocks.approval_request(snap, approvers=event.approvers), in_thread=True)
            case ApprovalGranted() | ApprovalRejected():
                self._upsert(snap.id, APPROVAL, snap.channel, blocks.approval_decided(snap), in_thread=True)
                if isinstance(event, ApprovalRejected):  # announced in the channel, like a cancel
                    self._reply(snap.id, snap.channel, blocks_progress.rejected(
                        snap, actor=event.actor, reason=event.reason), broadcast=True)
            case HopStarted():
                text = f":rocket: Hop {event.hop_index + 1}/{len(snap.hops)} started: {_hop(event)}" \
                       f"{' (resumed)' if event.resumed else ''}."
                self._reply(snap.id, snap.channel, blocks_progress.note(text))
                self._status(event)
            case CubeStepRequested() | CubeStepConfirmed():
                self._cube_step(event)
            case UploadOnlyRequested() | UploadOnlyReported():
                self._upload_only(event)
            case HopFinished():
                took = f" in {duration_text(event.minutes * 60)}" if event.minutes else ""
                self._reply(snap.id, snap.channel, blocks_progress.note(
                    f":heavy_check_mark: Hop {event.hop_index + 1}/{len(snap.hops)} done{took}: "
                    f"every agent runs {safe.name(event.version)}."))
                self._status(event)
            case AgentProgress() | EtaChanged():
                self._status(event)
            case UpgradeFinished() | UpgradeFailed() | UpgradeCancelled() | UpgradeExpired():
                self._outcome(event)
            case _:
                pass

    def _note(self, event: Event) -> None:
        """A note of one line in the plan's thread, drawn on the plan's row (``PlanHeader``) alone."""
        header = event.snapshot
        match event:
            case CheckStarted():
                name = "Pre-upgrade check" if event.kind == "pre" else "Verification"
                text = f":hourglass_flowing_sand: {name} started (by {_who(event.actor)})."
            case ReminderDue():
                items = "\n".join(f"• {safe.mrkdwn(title, limit=300)}" for title in event.open_items)
                opens = blocks.when(header.window_start)
                text = f":stopwatch: The window opens at {opens}. Still open:\n{items}"
            case DmsConnectionLost() | DmsConnectionRestored():
                text = _connection_note(event)
            case _:
                return
        self._reply(header.id, header.channel, blocks_progress.note(text))

    def _outcome(self, event: UpgradeFinished | UpgradeFailed | UpgradeCancelled | UpgradeExpired) -> None:
        """How a plan ended, broadcast to the channel."""
        snap = event.snapshot
        match event:
            case UpgradeFinished():
                self._status(event)
                self._reply(snap.id, snap.channel, blocks_progress.finished(snap, results=event.results),
                            broadcast=True)
                ask = blocks_progress.key_functionalities_request(snap)
                if ask is not None:
                    self._reply(snap.id, snap.channel, ask)
                self._picture(snap)
            case UpgradeFailed():
                self._status(event)
                self._reply(snap.id, snap.channel, blocks_progress.failed(
                    snap, reason=event.reason, guidance=event.guidance, agents=event.agents), broadcast=True)
                self._picture(snap)
            case UpgradeCancelled():
                self._close_approval(snap, why=f"the plan was cancelled by {_who(event.actor)}")
                self._reply(snap.id, snap.channel, blocks_progress.cancelled(
                    snap, actor=event.actor, reason=event.reason, agents=event.agents, settled=event.settled),
                    broadcast=True)
                self._picture(snap)
            case UpgradeExpired():
                self._close_approval(snap, why="the window closed")
                expired = f":no_entry: Plan #{snap.id} expired: the window closed without an approval."
                self._reply(snap.id, snap.channel, blocks_progress.note(expired), broadcast=True)

    def _upsert(
        self, plan_id: int, role: str, channel: str, message: blocks.Message, *, in_thread: bool,
        edit_only: bool = False,
    ) -> None:
        """Post the role's message the first time, edit it afterwards; a waiting edit absorbs newer ones."""
        self.calls.append(Outgoing(channel=channel, plan_id=plan_id, kind=UPSERT, role=role,
                                    in_thread=in_thread, edit_only=edit_only, payload=message.kwargs()))

    def _reply(
        self, plan_id: int, channel: str, message: blocks.Message, *, broadcast: bool = False
    ) -> None:
        """A reply in the plan's thread (in order, never merged); ``broadcast``: in the channel too."""
        self.calls.append(Outgoing(channel=channel, plan_id=plan_id, kind=REPLY, broadcast=broadcast,
                                    payload=message.kwargs()))

    def _picture(self, snap: PlanSnapshot) -> None:
        """The timeline picture, last in the thread: after the outcome it shows (rendered when sent)."""
        self.calls.append(Outgoing(channel=snap.channel, plan_id=snap.id, kind=PICTURE, payload={}))

    def _cube_step(self, event: CubeStepRequested | CubeStepConfirmed) -> None:
        """Watch driver: the step's message with its Done in Cube button, then the same message confirmed."""
        snap = event.snapshot
        if isinstance(event, CubeStepRequested):
            message = blocks_cube.step_request(snap, hop_index=event.hop_index, step=event.step,
                                               instructions=event.instructions, deadline=event.deadline)
        else:
            message = blocks_cube.step_confirmed(snap, hop_index=event.hop_index, step=event.step,
                                                 actor=event.actor)
        self._upsert(snap.id, blocks_cube.role(event.hop_index, event.step), snap.channel, message,
                     in_thread=True)

    def _upload_only(self, event: UploadOnlyRequested | UploadOnlyReported) -> None:
        """The day-before Upload only: the request and its two buttons, edited into what a person said."""
        snap = event.snapshot
        if isinstance(event, UploadOnlyRequested):
            message = blocks_cube.upload_only_request(snap, file=event.file, instructions=event.instructions)
        else:
            message = blocks_cube.upload_only_reported(snap, file=event.file, actor=event.actor,
                                                       passed=event.passed, report=event.report)
            self._redraw_approval_request(snap)
        self._upsert(snap.id, blocks_cube.UPLOAD_ONLY_ROLE, snap.channel, message, in_thread=True)

    def _status(self, event: SnapshotEvent, *, edit_only: bool = False) -> None:
        snap = event.snapshot
        agents = event.agents if isinstance(event, AgentProgress) else None
        eta = event.eta if isinstance(event, EtaChanged) else None
        message = blocks_progress.status_message(snap, agents=agents, eta=eta)
        self._upsert(snap.id, STATUS, snap.channel, message, in_thread=True, edit_only=edit_only)

    def _redraw_approval_request(self, snap: PlanSnapshot) -> None:
        """A check finished (or an item was ticked) while the request waits: redraw it, so what it warns
        about is current."""
        if snap.state is not PlanState.AWAITING_APPROVAL or snap.approval is not None:
            return
        # The request names the configured approvers (``ApprovalRequested`` is drawn from the same setting).
        approvers = tuple(self._settings.upgrade_approvers) if self._settings else ()
        message = blocks.approval_request(snap, approvers=approvers)
        self._upsert(snap.id, APPROVAL, snap.channel, message, in_thread=True, edit_only=True)

    def _state_changed(self, event: StateChanged) -> None:
        snap = event.snapshot
        # The status message, if there is one, follows every move (it used to stay at "executing 0%" after
        # a cancel).
        self._status(event, edit_only=True)
        if event.to_state == PlanState.CANCELLING.value:
            self._close_approval(snap, why=f"the plan is being cancelled by {_who(event.actor)}")
            notice = blocks_progress.cancelling(snap, actor=event.actor, reason=event.reason)
            self._reply(snap.id, snap.channel, notice, broadcast=True)

    def _close_approval(self, snap: PlanSnapshot, *, why: str) -> None:
        """An approval request still showing its buttons says why it is closed (if one was posted, or is
        waiting in the outbox: then this content replaces it there)."""
        if snap.approval is None:
            message = blocks.approval_closed(snap, why=why)
            self._upsert(snap.id, APPROVAL, snap.channel, message, in_thread=True, edit_only=True)



def _hop(event: HopStarted) -> str:
    return f"{safe.name(event.version)} ({safe.name(event.package)})"


def _connection_note(event: DmsConnectionLost | DmsConnectionRestored) -> str:
    """Once per outage of the DMS under a running upgrade, and once when it is back (not per poll)."""
    if isinstance(event, DmsConnectionLost):
        until = f" until {blocks.when(event.deadline)}" if event.deadline else ""
        return (f":electric_plug: The DMS {safe.name(event.dms_name)} does not answer; the upgrade waits and "
                f"keeps asking{until} (the hop's deadline).")
    return (f":white_check_mark: The DMS {safe.name(event.dms_name)} answers again (after "
            f"{blocks.minutes_text(event.minutes)}); the upgrade goes on.")


def _who(actor: str) -> str:
    if actor == "bot":
        return "the bot"
    return safe.user(actor)
