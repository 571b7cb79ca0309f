"""A campaign's messages through the outbox, against the fake Slack over real HTTP: its card is posted once
and edited on every event after, its news are replies in the card's thread, and where the card lives is kept
in the database, so a sender started after a restart edits the same card and replies in the same thread."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from handlers.delivery.notifier import SlackNotifier
from tests.handlers.conftest import CHANNEL
from tests.handlers.delivery.test_campaign_drawing import view
from tests.handlers.delivery.test_outbox_sender import notifier_for
from tests.support.fake_slack_faults import FaultySlack
from workflow.campaign_outbox import CampaignMessages
from workflow.event_codec import encode
from workflow.model.campaign_events import CampaignApproved, CampaignCreated, CampaignEvent, CampaignHalted
from workflow.model.campaign_states import CampaignState
from workflow.store import database as dbm
from workflow.store import event_outbox
from workflow.store.database import make_engine, migrate
from workflow.store.tables import Campaign


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
    migrate(engine)
    with dbm.session(engine) as session:
        session.add(Campaign(id=7, state="proposed", waves=2, target_version="10.5.0 CU18", requester="UREQ",
                             channel=CHANNEL, soak_minutes=60))
    yield engine
    engine.dispose()


@pytest.fixture
async def slack() -> AsyncIterator[FaultySlack]:
    async with FaultySlack() as fake:
        yield fake


def sender(slack: FaultySlack, db: Engine) -> SlackNotifier:
    notifier = notifier_for(slack, db)
    notifier.sender.campaign_messages = CampaignMessages(db)
    return notifier


def record(db: Engine, event: CampaignEvent) -> None:
    kind, body = encode(event)
    with dbm.session(db) as session:
        event_outbox.append(session, plan_id=None, kind=kind, body=body)


async def test_the_card_is_posted_once_and_its_thread_survives_a_restart(
    slack: FaultySlack, db: Engine
) -> None:
    first = sender(slack, db)
    record(db, CampaignCreated(campaign_id=7, view=view(CampaignState.PROPOSED, 0), actor="UREQ"))
    record(db, CampaignApproved(campaign_id=7, view=view(CampaignState.APPROVED, 0), actor="UAPP1"))
    first.start()
    await first.drain()
    await first.aclose()

    again = sender(slack, db)  # another process: only the database knows where the card is
    record(db, CampaignHalted(campaign_id=7, view=view(), actor="UREQ", reason="change freeze"))
    again.start()
    await again.drain()
    await again.aclose()

    top = [m for m in slack.channel_messages(CHANNEL) if m.thread_ts is None]
    assert len(top) == 1 and top[0].text.startswith("Campaign #7 to 10.5.0 CU18: halted in wave 2")
    replies = [m.text for m in slack.thread(CHANNEL, top[0].ts)]
    assert [text.split(" ", 1)[0] for text in replies] == [":clipboard:", ":white_check_mark:",
                                                           ":octagonal_sign:"]
    # Drawn together, the approved card merged into the waiting post; after the restart, an edit of it.
    posts = [c for c in slack.calls_for("chat.postMessage") if not c.params.get("thread_ts")]
    assert len(posts) == 1 and len(slack.calls_for("chat.update")) == 1
