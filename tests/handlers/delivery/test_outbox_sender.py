"""Durable Slack messages, against the fake Slack over real HTTP: what the bot says survives a
Slack outage and a killed process, goes out in order per channel, and a message Slack refuses for good is
audited without holding up the others."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from bot.console.fake_slack_state import FakeEvent
from handlers.delivery.notifier import SlackNotifier
from handlers.delivery.slack_web import ChannelPacer, make_web_client
from tests.handlers.conftest import CHANNEL, TOKEN, make_snapshot
from tests.support.event_outbox import record, tell
from tests.support.fake_slack_faults import FailurePlan, FaultySlack
from tests.support.polling import wait_until
from workflow.events import HopStarted, PlanCreated
from workflow.outbox import Outbox
from workflow.store import audit, event_outbox
from workflow.store import database as dbm
from workflow.store.database import make_engine, migrate
from workflow.store.tables import UpgradePlan

OTHER = "C0OTHER"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
    migrate(engine)
    with dbm.session(engine) as session:
        for plan_id, channel in ((1, CHANNEL), (2, OTHER)):
            session.add(UpgradePlan(id=plan_id, dms_name="DMS", state="scheduled", requester="UREQ",
                                    channel=channel, current_version="9.6.0 CU13",
                                    target_version="10.1.0 CU1", track="main"))
    yield engine
    engine.dispose()


@pytest.fixture
async def slack() -> AsyncIterator[FaultySlack]:
    async with FaultySlack() as fake:
        yield fake


def notifier_for(slack: FaultySlack, db: Engine) -> SlackNotifier:
    assert slack.base_url is not None
    # One retry inside the client, so the outbox's own retries are what the tests see.
    client = make_web_client(token=TOKEN, base_url=slack.base_url, jitter=0.0, backoff_factor=0.01,
                             max_retries=1)
    return SlackNotifier(web_client=client, outbox=Outbox(db),
                         pacer=ChannelPacer(interval=0.0), poll_s=0.05, retry_base_s=0.05,
                         claim_ttl_s=2.0)  # what a killed sender had claimed is free again after 2 s


async def say(
    db: Engine, notifier: SlackNotifier, *, plan_id: int = 1, channel: str = CHANNEL, hops: int = 3
) -> None:
    snap = make_snapshot(plan_id=plan_id).model_copy(update={"channel": channel})
    await tell(db, notifier, PlanCreated(plan_id=plan_id, snapshot=snap))
    for hop in range(hops):
        await tell(db, notifier, HopStarted(plan_id=plan_id, snapshot=snap, hop_index=hop,
                                         version=f"10.1.0 CU{hop}", package="full"))


def texts(slack: FaultySlack, channel: str = CHANNEL) -> list[str]:
    messages = sorted((m for (c, _), m in slack.messages.items() if c == channel), key=lambda m: float(m.ts))
    return [m.text for m in messages]


def assert_told_in_order(said: list[str]) -> None:
    """The plan message, then the three hops in the order they started, and nothing twice."""
    hops = [t for t in said if "started:" in t]
    assert len(said) == 5 and "Plan" in said[0], said
    assert [h.split(" started")[0][-5:] for h in hops] == ["p 1/2", "p 2/2", "p 3/2"], hops


def depth(db: Engine) -> int:
    return Outbox(db).depth()


async def test_messages_said_while_slack_is_down_are_sent_in_order_when_it_is_back(
    slack: FaultySlack, db: Engine
) -> None:
    slack.fail_next("*", status=503, count=1000)
    notifier = notifier_for(slack, db)
    await say(db, notifier)
    await wait_until(lambda: notifier.sender.retries >= 3, timeout_s=10, what="retries while Slack is down")
    assert texts(slack) == [] and depth(db) == 5  # the plan, three replies, one status (edits merged)
    slack.faults = FailurePlan()  # Slack is back
    await wait_until(lambda: depth(db) == 0, timeout_s=10, what="the outbox to empty")
    await notifier.aclose(timeout_s=5)
    assert_told_in_order(texts(slack))
    assert notifier.failures == 0


async def test_messages_left_by_a_killed_process_are_sent_by_the_next_one(
    slack: FaultySlack, db: Engine
) -> None:
    slack.fail_next("*", status=503, count=1000)
    snap = make_snapshot(plan_id=1)
    record(db, PlanCreated(plan_id=1, snapshot=snap))
    for hop in range(3):
        record(db, HopStarted(plan_id=1, snapshot=snap, hop_index=hop, version=f"10.1.0 CU{hop}",
                              package="full"))
    killed = notifier_for(slack, db)
    killed.start()
    await wait_until(lambda: killed.sender.retries >= 1, timeout_s=10, what="a first failed attempt")
    await killed.sender.aclose()  # SIGKILL: no drain, no goodbye; the rows stay in the database
    slack.faults = FailurePlan()
    restarted = notifier_for(slack, db)
    restarted.start()
    await wait_until(lambda: depth(db) == 0, timeout_s=10, what="the restarted sender to deliver")
    await restarted.aclose(timeout_s=5)
    assert_told_in_order(texts(slack))


async def test_a_message_slack_refuses_for_good_is_audited_and_the_rest_goes_on(
    slack: FaultySlack, db: Engine
) -> None:
    slack.fail_next("chat.postMessage", status=200, error="channel_not_found")
    notifier = notifier_for(slack, db)
    await say(db, notifier, hops=2)
    await notifier.drain()
    await notifier.aclose(timeout_s=5)
    assert notifier.failures == 1 and depth(db) == 0
    assert len(texts(slack)) == 3  # the plan message was refused; the replies and the status went out
    with dbm.session(db) as session:
        [refusal] = [e for e in audit.events(session, plan_id=1) if e.action == "slack.refused"]
    assert "channel_not_found" in refusal.reason and refusal.detail["channel"] == CHANNEL


async def test_a_channel_slack_keeps_failing_does_not_hold_up_the_others(db: Engine) -> None:
    async with _ChannelDown(CHANNEL) as slack:
        notifier = notifier_for(slack, db)
        await say(db, notifier, plan_id=1, channel=CHANNEL, hops=1)
        await say(db, notifier, plan_id=2, channel=OTHER, hops=2)
        await wait_until(lambda: len(texts(slack, OTHER)) == 4 and depth(db) == 3, timeout_s=10,
                         what="the other channel")
        # The first channel's call may still be in the client's own retries when the other is done: wait
        # for the sender to count it failed (it did once, in a run with the machine's other core busy).
        await wait_until(lambda: notifier.sender.retries >= 1, timeout_s=10, what="the first channel failed")
        assert texts(slack, CHANNEL) == []
        slack.down.clear()
        await wait_until(lambda: depth(db) == 0, timeout_s=10, what="the first channel once it works")
        await notifier.aclose(timeout_s=5)
        assert len(texts(slack, CHANNEL)) == 3


class _ChannelDown(FaultySlack):
    """Every call for the channels in ``down`` fails with a 503 (a channel-scoped outage)."""

    def __init__(self, *channels: str) -> None:
        super().__init__()
        self.down = set(channels)

    def _answer(self, method: str, params: dict[str, Any], token: str,
                events: list[FakeEvent]) -> tuple[int, dict[str, str], dict[str, Any] | None]:
        if params.get("channel") in self.down:
            return 503, {}, None
        return super()._answer(method, params, token, events)


async def test_events_waiting_while_the_database_is_locked_are_drawn_and_sent_later(
    slack: FaultySlack, db: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The events are in the outbox (written with their changes); a lock held by another process keeps the
    sender from drawing them for a while: they wait in the database, not in memory, and go out after."""
    monkeypatch.setattr(dbm, "BACKGROUND_LOCK_WAIT_MS", 100)  # the sender's units give up quickly
    notifier = notifier_for(slack, db)
    snap = make_snapshot(plan_id=1)
    record(db, PlanCreated(plan_id=1, snapshot=snap))
    record(db, HopStarted(plan_id=1, snapshot=snap, hop_index=0, version="10.1.0 CU0", package="full"))
    locker = sqlite3.connect(tmp_path / "outbox.db", isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        notifier.start()
        await notifier.sender.drain()
        assert texts(slack) == []
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    # The plan message, the hop's reply and the status message it starts.
    await wait_until(lambda: len(texts(slack)) == 3, timeout_s=10, what="the waiting events to go out")
    with dbm.session(db) as session:
        assert event_outbox.pending(session) == 0
    await notifier.aclose(timeout_s=5)


async def test_a_finished_delivery_does_not_forget_the_next_one_of_its_channel(
    slack: FaultySlack, db: Engine
) -> None:
    """A delivery's done-callback runs a moment after it ends; a dispatch in between may already have started
    the channel's next delivery. Forgetting that one let ``drain`` return while it was still on its way (the
    approval request was missing from the thread right after a drain, under load)."""
    sender = notifier_for(slack, db).sender
    first = asyncio.get_running_loop().create_task(asyncio.sleep(0))
    await first
    second = asyncio.get_running_loop().create_task(asyncio.Event().wait())
    sender._in_flight[CHANNEL] = second  # the channel's next delivery, already started
    sender._finished(CHANNEL, first)  # the first one's late callback
    assert sender._in_flight.get(CHANNEL) is second  # drain still waits for it
    second.cancel()
