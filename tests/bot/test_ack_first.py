"""Ack first, always: no Slack Web API call stands between a request and its ack.

Slack's Web API behind a blocked egress (or a proxy that swallows the connection) answers nothing, ever. The
bot must still ack a signed slash command at once, say in one log line that Slack cannot be reached, keep
asking in the background, and show Slack's reachability on ``/healthz`` beside the DMS's and the database's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot import slack_check
from bot.app import Runtime, start_http
from simulator import SimulatedDms
from tests.handlers.conftest import SECRET, app_settings, sim_config
from tests.support import slack_requests as sr
from tests.support.blackhole import blackhole
from tests.support.polling import wait_until

OPS_TOKEN = "ack-first-ops-token-0123"


def _unreachable_lines(records: list[logging.LogRecord]) -> list[str]:
    messages = [r.getMessage() for r in records]
    return [m for m in messages if "cannot be reached" in m and "Slack" in m]


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedDms]:
    simulator = SimulatedDms(sim_config())
    await simulator.start()
    yield simulator
    await simulator.stop()


async def test_a_slash_command_is_acked_at_once_when_slack_cannot_be_reached(
    tmp_path: Path, sim: SimulatedDms, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO)
    # The background check gives up on one attempt quickly and retries soon, so the test sees several.
    monkeypatch.setattr(slack_check, "CHECK_TIMEOUT_S", 0.3)
    monkeypatch.setattr(slack_check, "FIRST_RETRY_S", 0.05)
    async with blackhole() as slack_url:
        settings = app_settings(dms_url=sim.url, database_url=f"sqlite:///{tmp_path / 'app.db'}",
                                slack_api_url=slack_url, ops_token=OPS_TOKEN)
        # The web client is the one production builds from the settings (no test client given).
        runtime = Runtime(settings)
        began = time.monotonic()
        await runtime.start()
        assert time.monotonic() - began < 10.0  # starting does not wait for Slack either
        server = await start_http(runtime, host="127.0.0.1", port=0)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=5) as http:
                body, headers = sr.slash_command("help", signing_secret=SECRET)
                sent = time.monotonic()
                answer = await http.post("/slack/events", content=body, headers=headers)
                assert answer.status_code == 200
                assert time.monotonic() - sent < 2.0
                assert "/dm-upgrade" in answer.text  # the help itself, in the ack

                check = runtime.slack_check
                assert check is not None
                await wait_until(lambda: check.attempts >= 3, timeout_s=20,
                                 what="the background check retrying")
                assert len(_unreachable_lines(caplog.records)) == 1, _unreachable_lines(caplog.records)

                bearer = {"Authorization": f"Bearer {OPS_TOKEN}"}
                health = (await http.get("/healthz", headers=bearer)).json()
                assert health["ok"] is True  # reported, not required: Slack's state is no reason to restart
                assert health["db"] == "ok" and "default" in health["dms"]
                assert health["slack"]["reachable"] is False and health["slack"]["error"]
        finally:
            began = time.monotonic()
            await server.stop()
            await runtime.stop()
            assert time.monotonic() - began < 15.0


class _Answers:
    """An ``AsyncWebClient`` stand-in whose ``auth.test`` answers from a script (an exception is raised)."""

    def __init__(self, *script: Any) -> None:
        self._script = list(script)

    async def auth_test(self) -> Any:
        answer = self._script.pop(0) if len(self._script) > 1 else self._script[0]
        if isinstance(answer, BaseException):
            raise answer
        return answer


class _Response:
    def __init__(self, data: dict[str, Any], status_code: int = 200) -> None:
        self.data, self.status_code = data, status_code


IDENTITY = {"ok": True, "user": "dm-upgrade", "team": "Ops", "team_id": "T1", "user_id": "UBOT",
            "bot_id": "B1"}


async def test_the_check_says_once_that_slack_is_down_and_once_that_it_is_back(
    caplog: pytest.LogCaptureFixture
) -> None:
    from slack_sdk.errors import SlackApiError

    caplog.set_level(logging.INFO, logger="bot.slack_check")
    down = ConnectionRefusedError(111, "Connection refused")
    check = slack_check.SlackCheck(_Answers(down, down, SlackApiError("gateway", _Response({}, 503)),
                                            _Response(IDENTITY)),  # type: ignore[arg-type]
                                   api_url="https://slack.example/api/")
    authorize = slack_check.SlackAuthorize(token="xoxb-1", check=check)
    before = await authorize(context=None, enterprise_id=None, team_id="T1", user_id="U1")  # type: ignore[arg-type]
    assert before.bot_token == "xoxb-1" and before.bot_user_id is None
    assert [await check.check() for _ in range(4)] == [False, False, False, True]
    lines = [r.getMessage() for r in caplog.records]
    assert len([line for line in lines if "cannot be reached" in line]) == 1, lines
    assert len([line for line in lines if "answers again" in line]) == 1, lines
    assert check.status().reachable is True and check.status().error is None
    after = await authorize(context=None, enterprise_id=None, team_id="T1", user_id="U1")  # type: ignore[arg-type]
    assert (after.bot_user_id, after.bot_id, after.bot_token) == ("UBOT", "B1", "xoxb-1")


async def test_a_refused_token_is_an_error_line_and_reported(caplog: pytest.LogCaptureFixture) -> None:
    from slack_sdk.errors import SlackApiError

    caplog.set_level(logging.INFO, logger="bot.slack_check")
    refused = SlackApiError("refused", _Response({"ok": False, "error": "invalid_auth"}))
    check = slack_check.SlackCheck(_Answers(refused), api_url="https://slack.example/api/")  # type: ignore[arg-type]
    assert await check.check() and await check.check()
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "invalid_auth" in errors[0] and "SLACK_BOT_TOKEN" in errors[0]
    assert check.status().reachable is True and "invalid_auth" in (check.status().error or "")
