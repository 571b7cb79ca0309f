"""Issue 15: malformed requests get 400 (or the ack Slack expects) and no traceback, a rejected signature is
one log line without the body, and a replayed signed request is acknowledged and ignored."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import pytest
from sqlmodel import select

from handlers.ids import ActionId
from handlers.listeners.request_guard import WINDOW_S, RequestGuard, SeenSignatures, quiet_bolt_signature_log
from tests.handlers.conftest import CHANNEL, REQUESTER, SECRET, Stack, plan_message
from tests.handlers.listeners.test_actions import planned
from tests.support import slack_requests as sr
from workflow.store import database
from workflow.store.tables import CheckRun

MARKER = "PRIVATE-REASON-TEXT"


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    assert all(record.exc_info is None for record in caplog.records), caplog.text
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


def signed(body: bytes, **headers: str) -> sr.Request:
    return body, {**sr.signed_headers(body, signing_secret=SECRET), **headers}


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_seen_signatures_expire_with_the_window() -> None:
    clock = Clock()
    seen = SeenSignatures(clock=clock, max_entries=3)
    assert seen.claim("a", timestamp=int(clock.now)) and not seen.claim("a", timestamp=int(clock.now))
    seen.forget("a")
    assert seen.claim("a", timestamp=int(clock.now))  # a request that failed (5xx) can come again
    clock.now += WINDOW_S + 2
    assert seen.claim("a", timestamp=int(clock.now)) and len(seen) == 1  # the old one expired
    for key in "bcde":
        seen.claim(key, timestamp=int(clock.now))
    assert len(seen) == 3  # bounded


@pytest.mark.parametrize(("body", "headers", "status"), [
    (b"text=hi", {"X-Slack-Request-Timestamp": "soon"}, 400),
    (b"text=hi", {"X-Slack-Request-Timestamp": "\u00b2"}, 400),
    (b"payload=not-json", {}, 400),
    (b"payload=%5B%5D", {}, 400),
    (b"\xff\xfetext=caf\xe9", {}, 400),
    (b'{"type": [1]', {"Content-Type": "application/json"}, 400),
    (urlencode({"payload": '{"type":"block_actions","user":5}'}).encode(), {}, 400),
    (urlencode({"payload": '{"type":"block_actions","actions":["x"]}'}).encode(), {}, 400),
    (b"text=hi", {"X-Slack-Signature": "v0=00"}, 401),
])
def test_the_guard_refuses_what_bolt_would_trip_over(
    body: bytes, headers: dict[str, str], status: int
) -> None:
    guard = RequestGuard(signing_secret=SECRET)
    # Signed with the right secret (a timestamp that is not a number is refused before the signature).
    request_headers = {**sr.signed_headers(body, signing_secret=SECRET), **headers}
    assert guard.check(body, request_headers).status == status
    good = sr.signed_headers(b"text=hi", signing_secret=SECRET)
    assert guard.check(b"text=hi", good).status is None


def test_signatures_are_checked_against_the_guards_clock(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    guard = RequestGuard(signing_secret=SECRET, clock=clock)
    body = b"text=hi"
    headers = sr.signed_headers(body, signing_secret=SECRET, timestamp=int(clock.now) - WINDOW_S)
    assert guard.check(body, headers).status is None  # at the edge of the window: still Slack's
    clock.now += 2
    caplog.set_level(logging.INFO)
    assert guard.check(body, headers).status == 401
    assert "stale timestamp" in caplog.text
    fresh = sr.signed_headers(body, signing_secret=SECRET, timestamp=int(clock.now))
    assert guard.check(body, {**fresh, "X-Slack-Signature": "v0=\u00e9"}).status == 401  # not a crash
    assert guard.check(body, fresh).status is None and guard.check(body, fresh).status == 200  # replayed


async def test_malformed_requests_get_400_and_no_traceback(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    bodies = [b"payload=not-json", b"payload=%5B%5D", b"\xff\xfe" + MARKER.encode() + b"\xe9"]
    for body in bodies:
        response = await stack.post(signed(body))
        assert response.status_code == 400, body
    body = b"command=%2Fdm-upgrade&text=status"
    headers = {**sr.signed_headers(body, signing_secret=SECRET), "X-Slack-Request-Timestamp": "tomorrow"}
    assert (await stack.post((body, headers))).status_code == 400
    no_tracebacks(caplog)
    assert MARKER not in caplog.text


async def test_odd_button_values_and_block_ids_are_answered_not_crashed(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    plan_id = await planned(stack)
    message = await plan_message(stack)
    caplog.set_level(logging.INFO)
    response = await stack.click(ActionId.RUN_CHECK.value, value="\u00b2", message=message, user=REQUESTER)
    assert response.status_code == 200
    response = await stack.post(sr.block_actions(
        signing_secret=SECRET, action_id="checklist.details", block_id="checklist.details#abc",
        action_type="checkboxes", selected_options=[{"value": "details.backup"}], message_ts=message.ts,
        user_id=REQUESTER, channel_id=CHANNEL,
    ))
    assert response.status_code == 200
    await stack.settle()
    told = [m.text for m in stack.ephemerals_for(REQUESTER)]
    assert any("does not name a plan" in text for text in told)
    assert any("does not belong to a plan" in text for text in told)
    assert not stack.runtime.engine.status(plan_id=plan_id).precheck
    no_tracebacks(caplog)


async def test_a_rejected_signature_is_one_line_without_the_body(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body, headers = sr.slash_command(f"cancel 1 {MARKER}", signing_secret="not-the-secret")
    assert (await stack.post((body, headers))).status_code == 401
    assert MARKER not in caplog.text
    lines = [r for r in caplog.records if "refused a request" in r.getMessage()]
    assert len(lines) == 1 and "invalid signature" in lines[0].getMessage()


def test_bolts_own_signature_log_line_is_silenced(caplog: pytest.LogCaptureFixture) -> None:
    quiet_bolt_signature_log()
    caplog.set_level(logging.INFO)
    logging.getLogger("slack_bolt.AsyncRequestVerification").info(
        f"Invalid request signature detected (signature: v0=1, timestamp: 1, body: {MARKER})")
    assert MARKER not in caplog.text


async def test_a_replayed_request_is_acknowledged_and_ignored(stack: Stack) -> None:
    plan_id = await planned(stack)
    message = await plan_message(stack)
    click = sr.block_actions(signing_secret=SECRET, action_id=ActionId.RUN_CHECK.value, block_id="b",
                             value=str(plan_id), message_ts=message.ts, user_id=REQUESTER, channel_id=CHANNEL)
    first = await stack.post(click)
    await stack.settle()
    again = await stack.post(click)  # the same signature and timestamp, within the window
    await stack.settle()
    assert first.status_code == again.status_code == 200 and again.text == ""
    with database.session(stack.runtime.db) as session:
        runs = list(session.exec(select(CheckRun).where(CheckRun.plan_id == plan_id)))
    assert len(runs) == 1  # one pre-check, one upload of the packages


async def test_slack_retries_are_new_requests_and_the_slash_dedupe_still_holds(stack: Stack) -> None:
    # A retry carries X-Slack-Retry-Num and a timestamp and signature of its own: not a replay, so the
    # slash command's dedupe (its trigger_id) is what keeps it from making a second plan.
    body, headers = sr.slash_command("plan 10.4", signing_secret=SECRET, user_id=REQUESTER,
                                     channel_id=CHANNEL, trigger_id="1.2.same")
    sent = int(headers["X-Slack-Request-Timestamp"])
    for retry in (None, 1, 2):
        fresh = sr.signed_headers(body, signing_secret=SECRET, timestamp=sent + (retry or 0), retry_num=retry)
        assert (await stack.post((body, fresh))).status_code == 200
        await stack.settle()
    assert len(stack.runtime.engine.history(limit=10)) == 1
    assert not [m for m in stack.slack.ephemerals if "already has an active upgrade" in m.text]
