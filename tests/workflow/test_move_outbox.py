"""A change and the events that tell of it are one transaction: both are written, or neither. Every change
counts, approve, reject and cancel included (they used to send their events after the commit)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from tests.support.notifier import RecordingNotifier
from tests.workflow.conftest import APPROVER, REQUESTER, Harness
from workflow.event_codec import decode
from workflow.events import (
    ApprovalGranted,
    ApprovalRejected,
    Event,
    ItemTicked,
    PlanCreated,
    StateChanged,
    UpgradeCancelled,
    WindowScheduled,
)
from workflow.store import event_outbox
from workflow.store.states import PlanState
from workflow.store.tables import OutboxEvent


@dataclass
class OutboxReader(RecordingNotifier):
    """Reads the outbox of domain events, as the Slack notifier does: the workflow records every event."""

    reads_outbox: bool = True


def recorded(harness: Harness) -> list[Event]:
    with harness.engine.session() as session:
        rows = session.exec(select(OutboxEvent).order_by(OutboxEvent.id)).all()  # type: ignore[arg-type]
        return [decode(row.kind, row.body) for row in rows]


def kinds(harness: Harness) -> list[str]:
    return [type(event).__name__ for event in recorded(harness)]


@pytest.fixture
def reader(harness: Harness) -> OutboxReader:
    notifier = OutboxReader()
    harness.engine.context.notifier = notifier
    return notifier


async def new_plan(harness: Harness, **window: Any) -> int:
    snap = await harness.engine.create_plan(target="10.4", track=None, requester=REQUESTER, channel="C1",
                                            window_start=window.get("start"),
                                            window_minutes=window.get("minutes"))
    return snap.id


async def test_a_move_writes_its_event_in_its_own_transaction(harness: Harness, reader: OutboxReader) -> None:
    plan_id = await new_plan(harness)
    assert kinds(harness) == ["PlanCreated"]
    assert await harness.engine.context.move(plan_id, to=PlanState.CANCELLED, actor=REQUESTER, reason="test")
    moved = recorded(harness)[-1]
    assert isinstance(moved, StateChanged) and moved.snapshot.state is PlanState.CANCELLED
    assert [type(e) for e in reader.events] == [PlanCreated, StateChanged]  # and heard after the commit


async def test_a_move_whose_event_cannot_be_written_does_not_happen(
    harness: Harness, reader: OutboxReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan_id = await new_plan(harness)
    written = event_outbox.append

    def append_then_fail(session: Any, **kwargs: Any) -> int:
        written(session, **kwargs)
        raise RuntimeError("the disk filled up after the event was written")

    monkeypatch.setattr(event_outbox, "append", append_then_fail)
    with pytest.raises(RuntimeError):
        await harness.engine.context.move(plan_id, to=PlanState.CANCELLED, actor=REQUESTER, reason="test")
    assert harness.engine.plan_state(plan_id) is PlanState.PLANNED and kinds(harness) == ["PlanCreated"]


async def test_the_outcome_of_a_move_is_written_with_it(harness: Harness, reader: OutboxReader) -> None:
    """The final result of a plan used to be drawn after the move's commit: a crash between the two left a
    cancelled (or done, failed, expired) plan whose channel was never told."""
    plan_id = await new_plan(harness)
    assert await harness.engine.context.move(
        plan_id, to=PlanState.CANCELLED, actor=REQUESTER, reason="not now",
        then=[(UpgradeCancelled, {"actor": REQUESTER, "reason": "not now", "agents": ()})])
    assert kinds(harness) == ["PlanCreated", "StateChanged", "UpgradeCancelled"]


async def test_cancel_writes_its_events_with_the_cancel(harness: Harness, reader: OutboxReader) -> None:
    plan_id = await new_plan(harness)
    snap = await harness.engine.cancel(plan_id=plan_id, actor=REQUESTER, reason="not tonight")
    assert snap.state is PlanState.CANCELLED  # the snapshot of the change itself, not read again
    assert kinds(harness) == ["PlanCreated", "StateChanged", "UpgradeCancelled"]
    cancelled = recorded(harness)[-1]
    assert isinstance(cancelled, UpgradeCancelled) and cancelled.reason == "not tonight"


async def test_a_tick_and_a_window_write_their_events_with_them(
    harness: Harness, reader: OutboxReader
) -> None:
    plan_id = await new_plan(harness)
    snap = await harness.engine.read_snapshot(plan_id)
    key = next(item.key for item in snap.checklist if item.kind == "manual")
    await harness.engine.tick(plan_id=plan_id, key=key, actor=REQUESTER, checked=True)
    start = harness.clock.now + timedelta(days=2)
    await harness.engine.set_window(plan_id=plan_id, start=start, minutes=240, actor=REQUESTER)
    assert kinds(harness) == ["PlanCreated", "ItemTicked", "StateChanged", "WindowScheduled"]
    ticked, _, window = recorded(harness)[1:]
    assert isinstance(ticked, ItemTicked) and ticked.snapshot.checklist != snap.checklist
    assert isinstance(window, WindowScheduled) and window.snapshot.window_start == start


@pytest.mark.parametrize("approving", [True, False])
async def test_approve_and_reject_write_their_events_with_the_decision(
    harness: Harness, reader: OutboxReader, approving: bool
) -> None:
    plan_id = (await harness.ready_plan()).id
    before = len(recorded(harness))
    if approving:
        snap = await harness.engine.approve(plan_id=plan_id, actor=APPROVER)
        await harness.engine.settle()
    else:
        snap = await harness.engine.reject(plan_id=plan_id, actor=APPROVER, reason="not tonight")
    decided = ApprovalGranted if approving else ApprovalRejected
    assert [type(e) for e in recorded(harness)[before:before + 2]] == [decided, StateChanged]
    assert snap.approval is not None and snap.approval.actor == APPROVER


async def test_a_notifier_without_an_outbox_gets_nothing_written(harness: Harness) -> None:
    harness.engine.context.notifier = RecordingNotifier()
    plan_id = await new_plan(harness)
    assert await harness.engine.context.move(plan_id, to=PlanState.CANCELLED, actor=REQUESTER, reason="t")
    assert kinds(harness) == []
