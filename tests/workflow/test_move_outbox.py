"""A state move and what the chat says of it are one transaction: both are written, or neither."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlmodel import select

from tests.support.notifier import RecordingNotifier
from tests.workflow.conftest import REQUESTER, Harness
from workflow.events import Event, StateChanged, UpgradeCancelled
from workflow.store import outbox
from workflow.store.outbox import REPLY, Outgoing
from workflow.store.states import PlanState
from workflow.store.tables import SlackOutboxMessage


@dataclass
class StagingRecorder(RecordingNotifier):
    """Says one reply per event, staged in the workflow's transaction when the workflow asks."""

    staged: list[Event] = field(default_factory=list)

    def stage(self, event: Event) -> list[Outgoing]:
        self.staged.append(event)
        return [Outgoing(channel="C1", plan_id=event.plan_id, kind=REPLY,
                         payload={"text": f"{type(event).__name__} {getattr(event, 'to_state', '')}"})]


def rows(harness: Harness) -> list[SlackOutboxMessage]:
    with harness.engine.session() as session:
        return list(session.exec(select(SlackOutboxMessage)))


async def test_a_move_writes_its_message_in_its_own_transaction(harness: Harness) -> None:
    snap = await harness.engine.create_plan(target="10.4", track=None, window_start=None, window_minutes=None,
                                            requester=REQUESTER, channel="C1")
    recorder = StagingRecorder()
    harness.engine.context.notifier = recorder
    moved = await harness.engine.context.move(snap.id, to=PlanState.CANCELLED, actor=REQUESTER, reason="test")
    assert moved
    [staged] = recorder.staged
    assert isinstance(staged, StateChanged) and staged.snapshot.state is PlanState.CANCELLED
    assert [r.payload["text"] for r in rows(harness)] == ["StateChanged cancelled"]
    assert recorder.events == [staged]  # told once after the commit, with the same event


async def test_a_move_whose_message_cannot_be_written_does_not_happen(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    snap = await harness.engine.create_plan(target="10.4", track=None, window_start=None, window_minutes=None,
                                            requester=REQUESTER, channel="C1")
    harness.engine.context.notifier = StagingRecorder()
    written = outbox.enqueue

    def enqueue_then_fail(session: Any, message: Outgoing, **kwargs: Any) -> int:
        written(session, message, **kwargs)
        raise RuntimeError("the disk filled up after the message was written")

    monkeypatch.setattr(outbox, "enqueue", enqueue_then_fail)
    with pytest.raises(RuntimeError):
        await harness.engine.context.move(snap.id, to=PlanState.CANCELLED, actor=REQUESTER, reason="test")
    assert harness.engine.plan_state(snap.id) is snap.state and rows(harness) == []


async def test_a_notifier_that_cannot_draw_never_blocks_the_move(harness: Harness) -> None:
    snap = await harness.engine.create_plan(target="10.4", track=None, window_start=None, window_minutes=None,
                                            requester=REQUESTER, channel="C1")

    class Broken(StagingRecorder):
        def stage(self, event: Event) -> list[Outgoing]:
            raise ValueError("a block too long")

    harness.engine.context.notifier = Broken()
    assert await harness.engine.context.move(snap.id, to=PlanState.CANCELLED, actor=REQUESTER, reason="t")
    assert harness.engine.plan_state(snap.id) is PlanState.CANCELLED and rows(harness) == []


async def test_the_outcome_of_a_move_is_written_with_it(harness: Harness) -> None:
    """The final result of a plan used to be drawn after the move's commit: a crash between the two left a
    cancelled (or done, failed, expired) plan whose channel was never told."""
    snap = await harness.engine.create_plan(target="10.4", track=None, window_start=None, window_minutes=None,
                                            requester=REQUESTER, channel="C1")
    recorder = StagingRecorder()
    harness.engine.context.notifier = recorder
    assert await harness.engine.context.move(
        snap.id, to=PlanState.CANCELLED, actor=REQUESTER, reason="not now",
        then=[(UpgradeCancelled, {"actor": REQUESTER, "reason": "not now", "agents": ()})])
    assert [r.payload["text"] for r in rows(harness)] == ["StateChanged cancelled", "UpgradeCancelled "]
    assert [type(e) for e in recorder.events] == [StateChanged, UpgradeCancelled]
