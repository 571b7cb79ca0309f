"""SlackNotifier against the fake Slack Web API and a real (tmp SQLite) database: plan message edited in
place, one status message per thread with coalesced edits, broadcasts, approval decisions, pacing, and
message references that survive a restart."""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.console.fake_slack import FakeSlack
from dms.models import AgentState
from dms.versions import parse_version
from handlers.delivery.drawing import _connection_note, draw
from handlers.delivery.notifier import SlackNotifier
from handlers.delivery.slack_web import ChannelPacer, make_web_client
from tests.handlers.conftest import APPROVER, CHANNEL, START, TOKEN, make_snapshot
from tests.support.event_outbox import tell
from tests.support.slack_markup import INJECTION, problems
from workflow.events import (
    AgentProgress,
    ApprovalGranted,
    ApprovalRequested,
    CheckStarted,
    DmsConnectionLost,
    DmsConnectionRestored,
    HopStarted,
    PlanCreated,
    ReminderDue,
    StateChanged,
    UpgradeExpired,
    UpgradeFailed,
    UpgradeFinished,
)
from workflow.model.snapshot import PlanHeader
from workflow.outbox import Outbox
from workflow.store import database as dbm
from workflow.store.database import make_engine, migrate
from workflow.store.message_refs import get_message_ref
from workflow.store.snapshot import DecisionView
from workflow.store.states import PlanState
from workflow.store.tables import UpgradePlan


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'notifier.db'}")
    migrate(engine)
    with dbm.session(engine) as session:
        session.add(UpgradePlan(id=1, dms_name="DMS", state="scheduled", requester="UREQ", channel=CHANNEL,
                                current_version="9.6.0 CU13", target_version="10.1.0 CU1", track="main"))
    yield engine
    engine.dispose()


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        yield fake


def notifier_for(slack: FakeSlack, db: Engine, *, interval: float = 0.01) -> SlackNotifier:
    assert slack.base_url is not None
    client = make_web_client(token=TOKEN, base_url=slack.base_url, jitter=0.0, backoff_factor=0.01)
    return SlackNotifier(web_client=client, outbox=Outbox(db),
                         pacer=ChannelPacer(interval=interval), poll_s=0.2, retry_base_s=0.05)


def agents(version: str, n: int = 4, status: str = "Running") -> tuple[AgentState, ...]:
    return tuple(AgentState(id=i, name=f"DMA-{i}", status=status, version=parse_version(version))
                 for i in range(1, n + 1))


async def test_plan_message_is_posted_once_then_edited_in_place(slack: FakeSlack, db: Engine) -> None:
    notifier = notifier_for(slack, db)
    snap = make_snapshot()
    await tell(db, notifier, PlanCreated(plan_id=1, snapshot=snap))
    await notifier.drain()
    executing = snap.model_copy(update={"state": PlanState.EXECUTING})
    await tell(db, notifier, StateChanged(plan_id=1, snapshot=executing, from_state="scheduled",
                                       to_state="executing", actor=APPROVER))
    await notifier.drain()
    [message] = slack.channel_messages(CHANNEL)
    assert message.edits == 1 and "executing" in message.text
    with dbm.session(db) as session:
        ref = get_message_ref(session, plan_id=1, role="plan")
        assert ref is not None and ref.ts == message.ts and ref.channel == CHANNEL


async def test_notify_never_waits_for_slack(slack: FakeSlack, db: Engine) -> None:
    notifier = notifier_for(slack, db, interval=0.5)
    snap = make_snapshot()
    started = time.monotonic()
    await tell(db, notifier, PlanCreated(plan_id=1, snapshot=snap))
    for hop in range(3):
        await tell(db, notifier, HopStarted(plan_id=1, snapshot=snap, hop_index=hop, version="10.1.0 CU1",
                                         package="full"))
    assert time.monotonic() - started < 0.3  # four messages at 0.5 s each would take 1.5 s
    await notifier.aclose(timeout_s=5)
    assert len(slack.calls_for("chat.postMessage")) >= 4


async def test_status_message_is_one_message_with_coalesced_edits(slack: FakeSlack, db: Engine) -> None:
    notifier = notifier_for(slack, db, interval=0.2)
    snap = make_snapshot(state="executing")
    await tell(db, notifier, PlanCreated(plan_id=1, snapshot=snap))
    for step in range(30):
        await tell(db, notifier, AgentProgress(plan_id=1, snapshot=snap, hop_index=0,
                                            agents=agents("9.6.0 CU13", status=f"Starting {step}")))
    await notifier.drain()
    plan = slack.channel_messages(CHANNEL)[0]
    [status] = slack.thread(CHANNEL, plan.ts)
    assert "Starting 29" in str(status.blocks)  # the latest state won
    assert status.edits < 5  # 30 events, a handful of calls
    calls = [c for c in slack.calls if c.params.get("channel") == CHANNEL]
    gaps = [b.at - a.at for a, b in itertools.pairwise(calls)]
    assert all(gap >= 0.19 for gap in gaps), gaps


async def test_failures_and_the_final_result_are_broadcast(slack: FakeSlack, db: Engine) -> None:
    notifier = notifier_for(slack, db)
    snap = make_snapshot(state="executing")
    await tell(db, notifier, PlanCreated(plan_id=1, snapshot=snap))
    failed_snap = snap.model_copy(update={"state": PlanState.FAILED})
    await tell(db, notifier, UpgradeFailed(plan_id=1, snapshot=failed_snap,
                                        reason="DMA-2 did not start", guidance="Restore the VM snapshot",
                                        agents=agents("10.0.0 CU0")))
    done_snap = snap.model_copy(update={"state": PlanState.DONE})
    await tell(db, notifier, UpgradeFinished(plan_id=1, snapshot=done_snap))
    await notifier.drain()
    plan = next(m for m in slack.channel_messages(CHANNEL) if m.thread_ts is None)
    replies = slack.thread(CHANNEL, plan.ts)
    failed = next(m for m in replies if "failed" in m.text)
    done = next(m for m in replies if "Upgrade done" in m.text)
    assert failed.reply_broadcast and done.reply_broadcast
    assert "Restore the VM snapshot" in str(failed.blocks) and "DMA-2" in str(failed.blocks)


async def test_approval_request_is_replaced_by_the_decision(slack: FakeSlack, db: Engine) -> None:
    notifier = notifier_for(slack, db)
    snap = make_snapshot(state="awaiting_approval")
    await tell(db, notifier, PlanCreated(plan_id=1, snapshot=snap))
    await tell(db, notifier, ApprovalRequested(plan_id=1, snapshot=snap, approvers=(APPROVER,)))
    await notifier.drain()
    plan = slack.channel_messages(CHANNEL)[0]
    [request] = slack.thread(CHANNEL, plan.ts)
    assert "approval.approve" in str(request.blocks)
    decided = snap.model_copy(update={"state": PlanState.EXECUTING, "approval": DecisionView(
        decision="approved", actor=APPROVER, reason="", override=False,
        decided_at=START + timedelta(minutes=5))})
    await tell(db, notifier, ApprovalGranted(plan_id=1, snapshot=decided, actor=APPROVER))
    await notifier.drain()
    after = slack.message(CHANNEL, request.ts)
    assert "approval.approve" not in str(after.blocks)
    assert f"Approved* by <@{APPROVER}> at 2030-05-04 10:05 UTC" in str(after.blocks)


async def test_an_expired_plan_closes_its_approval_request(slack: FakeSlack, db: Engine) -> None:
    notifier = notifier_for(slack, db)
    snap = make_snapshot(state="awaiting_approval")
    await tell(db, notifier, PlanCreated(plan_id=1, snapshot=snap))
    await tell(db, notifier, ApprovalRequested(plan_id=1, snapshot=snap, approvers=(APPROVER,)))
    expired = snap.model_copy(update={"state": PlanState.EXPIRED})
    await tell(db, notifier, UpgradeExpired(plan_id=1, snapshot=expired))
    await notifier.drain()
    plan = next(m for m in slack.channel_messages(CHANNEL) if m.thread_ts is None)
    thread = slack.thread(CHANNEL, plan.ts)
    assert "no longer possible" in thread[0].text
    assert thread[-1].reply_broadcast and "expired" in thread[-1].text


async def test_after_a_restart_the_thread_and_status_message_are_found_again(
    slack: FakeSlack, db: Engine
) -> None:
    snap = make_snapshot(state="executing")
    first = notifier_for(slack, db)
    await tell(db, first, PlanCreated(plan_id=1, snapshot=snap))
    await tell(db, first, AgentProgress(plan_id=1, snapshot=snap, hop_index=0, agents=agents("9.6.0 CU13")))
    await first.aclose()

    second = notifier_for(slack, db)  # a new process: nothing in memory
    # The hop's version as the snapshot shows it (10.0.0 CU0 is displayed 10.0.0, as DataMiner does).
    await tell(db, second, HopStarted(plan_id=1, snapshot=snap, hop_index=0, version="10.0.0",
                                   package="full",
                                   resumed=True))
    await tell(db, second, AgentProgress(plan_id=1, snapshot=snap, hop_index=0, agents=agents("10.0.0")))
    await second.drain()
    top = [m for m in slack.channel_messages(CHANNEL) if m.thread_ts is None]
    assert len(top) == 1
    thread = slack.thread(CHANNEL, top[0].ts)
    assert len([m for m in thread if m.text.startswith("Plan #1:")]) == 1  # the same status message, edited
    assert any("(resumed)" in m.text for m in thread)
    assert any("10.0.0" in str(m.blocks) and m.edits for m in thread)


async def test_a_deleted_plan_message_is_posted_again(slack: FakeSlack, db: Engine) -> None:
    notifier = notifier_for(slack, db)
    snap = make_snapshot()
    await tell(db, notifier, PlanCreated(plan_id=1, snapshot=snap))
    await notifier.drain()
    original = slack.channel_messages(CHANNEL)[0]
    slack.messages[(CHANNEL, original.ts)].deleted = True
    await tell(db, notifier, StateChanged(plan_id=1, snapshot=snap, from_state="planned",
                                          to_state="scheduled", actor="UREQ"))
    await notifier.drain()
    [again] = slack.channel_messages(CHANNEL)
    assert again.ts != original.ts
    assert await notifier.message_ref(1, "plan") == (CHANNEL, again.ts)
    assert notifier.failures == 0


async def test_changes_queued_before_the_first_post_are_folded_into_it(slack: FakeSlack, db: Engine) -> None:
    notifier = notifier_for(slack, db, interval=0.3)
    snap = make_snapshot()
    await tell(db, notifier, HopStarted(plan_id=1, snapshot=snap, hop_index=0, version="x", package="full"))
    await tell(db, notifier, PlanCreated(plan_id=1, snapshot=snap))  # waits behind the first call
    executing = snap.model_copy(update={"state": PlanState.EXECUTING})
    await tell(db, notifier, StateChanged(plan_id=1, snapshot=executing, from_state="scheduled",
                                       to_state="executing", actor=APPROVER))
    await notifier.drain()
    plan = [m for m in slack.channel_messages(CHANNEL) if "Upgrade plan" in str(m.blocks)]
    assert len(plan) == 1 and "executing" in plan[0].text and plan[0].edits == 0


def test_a_dms_name_in_the_outage_notes_cannot_mention_link_or_format() -> None:
    snap = make_snapshot()
    lost = DmsConnectionLost(plan_id=1, snapshot=snap, dms_name=f"DMS {INJECTION}", error="timeout",
                             deadline=None)
    back = DmsConnectionRestored(plan_id=1, snapshot=snap, dms_name=f"DMS {INJECTION}", minutes=3.0)
    for event in (lost, back):
        assert problems({"text": _connection_note(event)}, users=[]) == []


def test_a_note_of_one_line_is_drawn_from_the_plan_s_row_alone() -> None:
    """CheckStarted, ReminderDue and the DMS's outage notes carry a PlanHeader, not the whole plan: each is
    one reply in the plan's thread, and drawing it reads nothing a header lacks."""
    whole = make_snapshot()
    header = PlanHeader(**{name: getattr(whole, name) for name in PlanHeader.model_fields})
    notes = [
        CheckStarted(plan_id=1, snapshot=header, kind="pre", actor="bot"),
        ReminderDue(plan_id=1, snapshot=header, open_items=("Take a backup",)),
        DmsConnectionLost(plan_id=1, snapshot=header, dms_name="DMS", error="timeout", deadline=None),
        DmsConnectionRestored(plan_id=1, snapshot=header, dms_name="DMS", minutes=3.0),
    ]
    for event in notes:
        (call,) = draw(event, settings=None)
        assert (call.kind, call.channel, call.plan_id) == ("reply", CHANNEL, 1), type(event).__name__
