"""The Slack outbox's rules: order per channel, merged edits, claims between replicas, retries that
hold only their own channel, refusals that are audited and get out of the way."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from workflow.model import outbox as values
from workflow.store import audit
from workflow.store import database as dbm
from workflow.store import outbox as ob
from workflow.store.database import make_engine, migrate
from workflow.store.message_refs import get_message_ref
from workflow.store.tables import SlackOutboxMessage, UpgradePlan

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
    migrate(engine)
    with dbm.session(engine) as session:
        session.add(UpgradePlan(id=1, dms_name="DMS", state="scheduled", requester="UREQ", channel="C1",
                                current_version="10.4.0 CU1", target_version="10.5.0 CU1", track="main"))
    yield engine
    engine.dispose()


def reply(text: str, channel: str = "C1") -> values.Outgoing:
    return values.Outgoing(channel=channel, plan_id=1, kind=values.REPLY, payload={"text": text})


def upsert(
    text: str, role: str = "status", channel: str = "C1", *, edit_only: bool = False
) -> values.Outgoing:
    return values.Outgoing(channel=channel, plan_id=1, kind=values.UPSERT, role=role, in_thread=True,
                       edit_only=edit_only, payload={"text": text})


def add(db: Engine, *messages: values.Outgoing) -> list[int]:
    with dbm.session(db) as session:
        return [ob.enqueue(session, m, now=NOW) for m in messages]


def claim(db: Engine, owner: str = "A", *, at: datetime = NOW) -> list[values.Claimed]:
    with dbm.session(db) as session:
        return ob.claim_due(session, owner=owner, now=at)


def test_each_channel_gives_its_oldest_message_and_the_next_waits(db: Engine) -> None:
    first, second, other = add(db, reply("one"), reply("two"), reply("elsewhere", channel="C2"))
    taken = claim(db)
    assert sorted((c.channel, c.id) for c in taken) == [("C1", first), ("C2", other)]
    assert claim(db) == []  # C1's head is in flight: "two" waits for it
    with dbm.session(db) as session:
        ob.delivered(session, row_id=first)
    assert [c.id for c in claim(db)] == [second]


def test_a_waiting_edit_absorbs_newer_ones_and_keeps_its_place(db: Engine) -> None:
    status, between, again = add(db, upsert("10%"), reply("hop started"), upsert("60%"))
    assert again == status
    head = claim(db)[0]
    assert head.id == status and head.payload == {"text": "60%"}
    with dbm.session(db) as session:
        row = session.get(SlackOutboxMessage, status)
        assert row is not None and row.merged == 1
        ob.delivered(session, row_id=status)
    assert [c.id for c in claim(db)] == [between]


def test_an_edit_in_flight_is_not_changed_under_the_sender(db: Engine) -> None:
    (status,) = add(db, upsert("10%"))
    assert claim(db)[0].id == status
    (newer,) = add(db, upsert("60%"))
    assert newer != status  # its own row, sent after the one in flight


def test_an_edit_only_redraw_merged_into_a_waiting_post_still_posts(db: Engine) -> None:
    (row_id,) = add(db, upsert("request", role="approval"))
    add(db, upsert("closed", role="approval", edit_only=True))
    head = claim(db)[0]
    assert head.id == row_id and not head.edit_only and head.payload == {"text": "closed"}


def test_two_replicas_never_take_the_same_message_and_a_dead_ones_claim_expires(db: Engine) -> None:
    (row_id,) = add(db, reply("once"))
    assert [c.id for c in claim(db, "A")] == [row_id]
    assert claim(db, "B") == []
    later = NOW + timedelta(seconds=values.CLAIM_TTL_S + 1)
    assert [c.id for c in claim(db, "B", at=later)] == [row_id]
    assert claim(db, "A", at=later) == []


def test_a_retry_holds_its_channel_only_and_backs_off(db: Engine) -> None:
    first, _, other = add(db, reply("one"), reply("two"), reply("elsewhere", channel="C2"))
    claim(db)
    with dbm.session(db) as session:
        when = ob.retry(session, row_id=first, error="Slack answered 503", now=NOW, base_s=2.0)
        again = ob.retry(session, row_id=first, error="Slack answered 503", now=NOW, base_s=2.0)
        ob.delivered(session, row_id=other)
    assert when == NOW + timedelta(seconds=2) and again == NOW + timedelta(seconds=4)
    assert claim(db, at=NOW + timedelta(seconds=3)) == []  # "two" does not overtake "one"
    assert [c.id for c in claim(db, at=NOW + timedelta(seconds=5))] == [first]
    with dbm.session(db) as session:
        assert ob.depth(session) == 2


def test_a_refused_message_is_audited_and_the_channel_goes_on(db: Engine) -> None:
    first, second = add(db, reply("<@U1> hi"), reply("next"))
    claim(db)
    with dbm.session(db) as session:
        ob.refused(session, row_id=first, error="Slack answered channel_not_found", now=NOW)
    assert [c.id for c in claim(db)] == [second]
    with dbm.session(db) as session:
        rows = audit.events(session, plan_id=1)
        assert ob.depth(session) == 1
        kept = session.exec(select(SlackOutboxMessage).where(SlackOutboxMessage.id == first)).one()
    refusal = next(r for r in rows if r.action == "slack.refused")
    assert refusal.reason == "Slack answered channel_not_found" and refusal.detail["channel"] == "C1"
    assert kept.state == values.REFUSED


def test_a_first_post_records_where_the_message_lives_with_its_delivery(db: Engine) -> None:
    (row_id,) = add(db, upsert("plan", role="plan"))
    claim(db)
    with dbm.session(db) as session:
        ob.delivered(session, row_id=row_id, posted=("C1", "1.000100", None))
    with dbm.session(db) as session:
        ref = get_message_ref(session, plan_id=1, role="plan")
        assert ref is not None and ref.ts == "1.000100" and ob.depth(session) == 0


def test_messages_written_in_a_transaction_that_rolls_back_are_never_sent(db: Engine) -> None:
    with pytest.raises(RuntimeError), dbm.session(db) as session:
        ob.enqueue(session, reply("the move failed"), now=NOW)
        raise RuntimeError("the state change failed after the message was written")
    assert claim(db) == []
