"""Answers only one person sees, against the fake Slack over real HTTP: sent at once when Slack takes them,
kept in the outbox and sent when Slack is back (within a response URL's 30 minutes), expired after that,
and dropped when Slack refuses them for good."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from handlers.delivery.ephemerals import Ephemerals
from handlers.delivery.notifier import SlackNotifier
from handlers.delivery.slack_web import ChannelPacer, make_web_client
from tests.handlers.conftest import CHANNEL, REQUESTER, TOKEN, Stack
from tests.support.fake_slack_faults import FailurePlan, FaultySlack
from tests.support.polling import wait_until
from workflow.model.clock import utc_now
from workflow.outbox import Outbox
from workflow.store import audit
from workflow.store import database as dbm
from workflow.store.database import make_engine, migrate

THREAD = "1700000000.000100"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'ephemerals.db'}")
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
async def slack() -> AsyncIterator[FaultySlack]:
    async with FaultySlack() as fake:
        yield fake


def parts(slack: FaultySlack, db: Engine, **clock: object) -> tuple[SlackNotifier, Ephemerals]:
    assert slack.base_url is not None
    client = make_web_client(token=TOKEN, base_url=slack.base_url, jitter=0.0, backoff_factor=0.01,
                             max_retries=1)
    outbox = Outbox(db)
    notifier = SlackNotifier(web_client=client, outbox=outbox, pacer=ChannelPacer(interval=0.0),
                             poll_s=0.05, retry_base_s=0.05, claim_ttl_s=2.0)
    return notifier, Ephemerals(outbox=outbox, wake=notifier.sender.wake, **clock)  # type: ignore[arg-type]


async def test_an_answer_slack_takes_is_sent_at_once_and_nothing_is_kept(
    slack: FaultySlack, db: Engine
) -> None:
    notifier, tell = parts(slack, db)
    await tell.tell(notifier.sender._client, channel=CHANNEL, user=REQUESTER, message="plan #3 is done",
                    thread_ts=THREAD)
    [answer] = slack.ephemerals
    assert (answer.ephemeral_to, answer.thread_ts, answer.text) == (REQUESTER, THREAD, "plan #3 is done")
    assert tell.kept == 0 and Outbox(db).depth() == 0
    await notifier.aclose(timeout_s=5)


async def test_an_answer_given_while_slack_is_down_is_kept_and_sent_when_it_is_back(
    slack: FaultySlack, db: Engine
) -> None:
    slack.fail_next("chat.postEphemeral", status=503, count=1000)
    notifier, tell = parts(slack, db)
    await tell.tell(notifier.sender._client, channel=CHANNEL, user=REQUESTER, message="Not approved: late",
                    thread_ts=THREAD)
    assert tell.kept == 1 and slack.ephemerals == []
    await wait_until(lambda: notifier.sender.retries >= 2, timeout_s=10, what="retries while Slack is down")
    assert slack.ephemerals == [] and Outbox(db).depth() == 1
    slack.faults = FailurePlan()  # Slack is back
    await wait_until(lambda: Outbox(db).depth() == 0, timeout_s=10, what="the kept answer to go out")
    await notifier.aclose(timeout_s=5)
    [answer] = slack.ephemerals
    assert (answer.ephemeral_to, answer.thread_ts, answer.text) == (REQUESTER, THREAD, "Not approved: late")
    assert notifier.failures == 0


async def test_a_kept_answer_older_than_a_response_url_lives_expires_unsent_and_audited(
    slack: FaultySlack, db: Engine
) -> None:
    slack.fail_next("chat.postEphemeral", status=503, count=1000)
    notifier, tell = parts(slack, db, clock=lambda: utc_now() - timedelta(minutes=31))
    await tell.tell(notifier.sender._client, channel=CHANNEL, user=REQUESTER, message="too late to matter")
    assert tell.kept == 1
    await notifier.drain()
    await notifier.aclose(timeout_s=5)
    assert slack.ephemerals == [] and Outbox(db).depth() == 0 and notifier.failures == 1
    with dbm.session(db) as session:
        [expiry] = [e for e in audit.events(session) if e.action == "slack.refused"]
    assert "expired" in expiry.reason and expiry.detail["kind"] == "ephemeral"


async def test_an_answer_slack_refuses_for_good_is_not_kept(
    slack: FaultySlack, db: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    slack.fail_next("chat.postEphemeral", status=200, error="user_not_in_channel")
    notifier, tell = parts(slack, db)
    with caplog.at_level(logging.WARNING, logger="handlers.delivery.ephemerals"):
        await tell.tell(notifier.sender._client, channel=CHANNEL, user=REQUESTER, message="x")
    assert tell.kept == 0 and Outbox(db).depth() == 0
    assert "user_not_in_channel" in caplog.text
    await notifier.aclose(timeout_s=5)


async def test_without_an_outbox_an_answer_slack_did_not_take_is_logged_not_raised(
    slack: FaultySlack, caplog: pytest.LogCaptureFixture
) -> None:
    slack.fail_next("chat.postEphemeral", status=503, count=1000)
    assert slack.base_url is not None
    client = make_web_client(token=TOKEN, base_url=slack.base_url, jitter=0.0, backoff_factor=0.01,
                             max_retries=1)
    with caplog.at_level(logging.WARNING, logger="handlers.delivery.ephemerals"):
        await Ephemerals().tell(client, channel=CHANNEL, user=REQUESTER, message="x")
    assert "no outbox to keep it in" in caplog.text


async def test_a_command_answered_while_slack_is_down_reaches_the_person_when_it_is_back(
    stack: Stack,
) -> None:
    """Over signed HTTP: the answer to ``/dm-upgrade status`` (no plan yet) given during an outage."""
    stack.slack.fail_next("chat.postEphemeral", status=503, count=1000)
    response = await stack.slash("status")
    assert response.status_code == 200
    await wait_until(lambda: Outbox(stack.runtime.db).depth() == 1, timeout_s=10,
                     what="the answer to be kept")
    assert stack.ephemerals_for(REQUESTER) == []
    stack.slack.faults = FailurePlan()
    await wait_until(lambda: bool(stack.ephemerals_for(REQUESTER)), timeout_s=10, what="the answer")
    assert "no active upgrade plan" in stack.ephemerals_for(REQUESTER)[-1].text
