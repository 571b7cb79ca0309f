"""A clean stop hands back what the sender had claimed: a message whose call to Slack was cut short is free
for any sender at once, instead of blocking its channel until the claim expires."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from handlers.delivery.notifier import SlackNotifier
from handlers.delivery.slack_web import ChannelPacer, make_web_client
from tests.handlers.conftest import CHANNEL, TOKEN, make_snapshot
from tests.support.blackhole import blackhole
from tests.support.event_outbox import tell
from tests.support.polling import wait_until
from workflow.events import PlanCreated
from workflow.outbox import Outbox
from workflow.store import database as dbm
from workflow.store.database import make_engine, migrate
from workflow.store.tables import SlackOutboxMessage, UpgradePlan


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
    migrate(engine)
    with dbm.session(engine) as session:
        session.add(UpgradePlan(id=1, dms_name="DMS", state="scheduled", requester="UREQ", channel=CHANNEL,
                                current_version="9.6.0 CU13", target_version="10.1.0 CU1", track="main"))
    yield engine
    engine.dispose()


def _rows(db: Engine) -> list[SlackOutboxMessage]:
    with dbm.session(db) as session:
        return list(session.exec(select(SlackOutboxMessage)).all())


async def test_stopping_hands_back_a_claim_whose_call_was_cut_short(db: Engine) -> None:
    async with blackhole() as slack_url:
        client = make_web_client(token=TOKEN, base_url=slack_url, max_retries=0)
        # A claim that would block the channel for a minute if it were left to expire.
        notifier = SlackNotifier(web_client=client, outbox=Outbox(db), pacer=ChannelPacer(interval=0.0),
                                 poll_s=0.05, claim_ttl_s=60.0)
        await tell(db, notifier, PlanCreated(plan_id=1, snapshot=make_snapshot(plan_id=1)))
        await wait_until(lambda: any(r.claimed_by is not None for r in _rows(db)), timeout_s=10,
                         what="the plan message claimed")
        handed = await notifier.aclose(timeout_s=0.2)
    assert handed == 1
    [row] = _rows(db)
    assert row.claimed_by is None and row.claimed_until is None
    assert row.last_error == "handed back at shutdown"
