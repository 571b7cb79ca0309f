"""A DMS that echoes the login request back (passwords full of quotes, backslashes, ``&<>``, unicode and
percent signs) never gets the password, in any encoding, into ``/healthz``, Slack, ``dm-upgrade check`` or
the logs. The DMS is a real HTTP server (``tests.dms.echoing_dms``), the bot the real app."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.app import Runtime, start_http
from bot.cli import main
from bot.logs import setup_logging
from handlers.delivery.slack_web import make_web_client
from tests.dms.echoing_dms import PASSWORDS, EchoingDms, leaks
from tests.handlers.conftest import CHANNEL, REQUESTER, SECRET, TOKEN, app_settings
from tests.support import slack_requests as sr
from tests.support.clock import FakeClock
from tests.support.fake_slack_faults import FaultySlack
from tests.support.polling import wait_until

USER = "svc-üpgrade"
OPS_TOKEN = "ops-token-for-the-echo-test-0123"


@pytest.fixture
def echoing() -> Iterator[EchoingDms]:
    dms = EchoingDms()
    dms.start()
    try:
        yield dms
    finally:
        dms.stop()


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """The bot's own log setup (its filter included) into a buffer; pytest's handlers put back after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    setup_logging(level="DEBUG", fmt="text", stream=stream)
    try:
        yield stream
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)


def _no_leak(where: str, text: str, password: str) -> None:
    assert text, f"nothing to look at in {where}"
    found = leaks(text, password, user=USER)
    assert found == [], f"{where} shows the password as {found}: {text[:2000]}"


@pytest.mark.parametrize("password", PASSWORDS)
async def test_healthz_slack_and_logs_never_show_the_echoed_password(
    password: str, echoing: EchoingDms, log_stream: io.StringIO, tmp_path: Path
) -> None:
    slack = FaultySlack()
    await slack.start()
    assert slack.base_url is not None
    settings = app_settings(dms_url=echoing.url, database_url=f"sqlite:///{tmp_path / 'app.db'}",
                            slack_api_url=slack.base_url, dms_user=USER, dms_password=password,
                            ops_token=OPS_TOKEN)
    client = make_web_client(token=TOKEN, base_url=slack.base_url, jitter=0.0, backoff_factor=0.01)
    runtime = Runtime(settings, clock=FakeClock(), web_client=client, pacer_interval_s=0.01)
    await runtime.start()
    server = await start_http(runtime, host="127.0.0.1", port=0)
    auth = {"Authorization": f"Bearer {OPS_TOKEN}"}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as http:
            async def probed() -> bool:
                body = (await http.get("/healthz", headers=auth)).json()
                return body["dms"]["default"]["reachable"] is False

            await wait_until(probed, timeout_s=20, what="/healthz asking the echoing DMS")
            health = (await http.get("/healthz", headers=auth)).text
            assert "Login failed" in health
            _no_leak("/healthz", health, password)

            body, headers = sr.slash_command("plan 10.4", signing_secret=SECRET, user_id=REQUESTER,
                                             channel_id=CHANNEL)
            assert (await http.post("/slack/events", content=body, headers=headers)).status_code == 200
            await wait_until(lambda: any("Login failed" in m.text for m in slack.ephemerals), timeout_s=20,
                             what="the answer to /dm-upgrade plan")
            await runtime.settle()
        said = [*slack.ephemerals, *slack.channel_messages(CHANNEL)]
        shown = "\n".join(m.text + json.dumps(m.blocks, ensure_ascii=False) for m in said)
        _no_leak("Slack", shown, password)
    finally:
        await server.stop()
        await runtime.stop()
        await slack.stop()
    assert echoing.requests, "the DMS was asked"
    _no_leak("the log", log_stream.getvalue(), password)


@pytest.mark.parametrize("password", PASSWORDS)
def test_dm_upgrade_check_never_prints_the_echoed_password(
    password: str, echoing: EchoingDms, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name, value in {"DMS_URL": echoing.url, "DMS_USER": USER, "DMS_PASSWORD": password,
                        "DMS_RETRIES": "0", "DMS_TIMEOUT_SECONDS": "5"}.items():
        monkeypatch.setenv(name, value)
    assert main(["check"]) == 2
    captured = capsys.readouterr()
    assert "Login failed" in captured.err
    _no_leak("dm-upgrade check", captured.out + captured.err, password)
