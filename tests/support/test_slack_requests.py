"""The request builders produce what Slack sends: Bolt verifies and routes them like real requests."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any
from urllib.parse import parse_qs

import pytest
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.console.fake_slack import FakeSlack
from tests.support.slack_requests import block_actions, slash_command, view_submission

SECRET = "test-signing-secret"


@pytest.fixture
async def app() -> AsyncIterator[tuple[AsyncApp, list[Any]]]:
    fake = FakeSlack()
    base_url = await fake.start()
    seen: list[Any] = []
    bolt = AsyncApp(
        signing_secret=SECRET,
        client=AsyncWebClient(token="xoxb-test", base_url=base_url),
    )

    @bolt.command("/dm-upgrade")
    async def command(ack: Any, command: dict[str, Any]) -> None:
        await ack()
        seen.append(command)

    @bolt.action("approval.approve")
    async def approve(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        seen.append(body)

    @bolt.view("window.modal")
    async def window(ack: Any, view: dict[str, Any]) -> None:
        await ack()
        seen.append(view)

    yield bolt, seen
    await fake.stop()


async def dispatch(bolt: AsyncApp, body: bytes, headers: dict[str, str]) -> int:
    request_headers: dict[str, str | Sequence[str]] = dict(headers)
    response = await bolt.async_dispatch(AsyncBoltRequest(body=body.decode(), headers=request_headers))
    return response.status


def test_signature_verifies_with_slack_sdk() -> None:
    body, headers = slash_command("plan 10.4", signing_secret=SECRET)
    verifier = SignatureVerifier(SECRET)
    assert verifier.is_valid_request(body, headers)
    assert not SignatureVerifier("other").is_valid_request(body, headers)
    fields = parse_qs(body.decode())
    assert fields["command"] == ["/dm-upgrade"] and fields["text"] == ["plan 10.4"]
    assert fields["trigger_id"][0] != parse_qs(slash_command("x", signing_secret=SECRET)[0].decode())[
        "trigger_id"
    ][0]


def test_retry_headers() -> None:
    _, headers = slash_command("status", signing_secret=SECRET, retry_num=1)
    assert headers["X-Slack-Retry-Num"] == "1" and headers["X-Slack-Retry-Reason"] == "http_timeout"


async def test_bolt_routes_all_three_kinds(app: tuple[AsyncApp, list[Any]]) -> None:
    bolt, seen = app
    assert await dispatch(bolt, *slash_command("plan 10.4 track main", signing_secret=SECRET)) == 200
    assert seen[-1]["text"] == "plan 10.4 track main" and seen[-1]["user_id"] == "U0ALICE"
    request = block_actions(
        signing_secret=SECRET,
        action_id="approval.approve",
        block_id="approval.actions",
        value="42",
        message_ts="1700000000.000100",
        user_id="U0BOB",
        user_name="bob",
    )
    assert await dispatch(bolt, *request) == 200
    action = seen[-1]
    assert action["actions"][0]["value"] == "42" and action["user"]["id"] == "U0BOB"
    assert action["container"]["message_ts"] == "1700000000.000100"
    values = {"window.date": {"window.date": {"type": "datepicker", "selected_date": "2026-12-01"}}}
    submission = view_submission(
        signing_secret=SECRET, callback_id="window.modal", values=values, private_metadata="42"
    )
    assert await dispatch(bolt, *submission) == 200
    assert seen[-1]["state"]["values"] == values and seen[-1]["private_metadata"] == "42"
    payload = json.loads(parse_qs(submission[0].decode())["payload"][0])
    assert payload["type"] == "view_submission"


async def test_bolt_rejects_bad_signature_and_stale_timestamp(app: tuple[AsyncApp, list[Any]]) -> None:
    bolt, seen = app
    body, headers = slash_command("status", signing_secret="wrong-secret")
    assert await dispatch(bolt, body, headers) == 401
    stale = slash_command("status", signing_secret=SECRET, timestamp=int(time.time()) - 600)
    assert await dispatch(bolt, *stale) == 401
    assert seen == []
