"""Socket Mode for real: the bot connects to the fake Slack's WebSocket (the URL its
``apps.connections.open`` returns), acks each envelope within Slack's 3 seconds, answers through the Web
API, and reconnects when Slack asks it to or drops the connection."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import Runtime, serve_socket_mode
from bot.settings import Settings
from handlers.delivery.slack_web import make_web_client
from handlers.ids import ActionId
from tests.support.fake_socket_mode import SocketModeSlack
from tests.support.polling import wait_until

APP_TOKEN = "xapp-1-A0DMUPGRADE-socket"
BOT_TOKEN = "xoxb-socket-mode"
USER = "UREQ"
CHANNEL = "C0UPGRADES"


@pytest.fixture
async def slack() -> AsyncIterator[SocketModeSlack]:
    fake = SocketModeSlack()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def runtime(slack: SocketModeSlack, tmp_path: Path) -> AsyncIterator[Runtime]:
    assert slack.base_url is not None
    settings = Settings(_env_file=None, slack_app_token=APP_TOKEN, slack_bot_token=BOT_TOKEN,
                        slack_api_url=slack.base_url, database_url=f"sqlite:///{tmp_path / 'socket.db'}",
                        sim_speed=3000, sim_version="10.2.0 CU5", sim_agents=2, sim_failover_pairs=0)
    client = make_web_client(token=BOT_TOKEN, base_url=slack.base_url, jitter=0.0, backoff_factor=0.01)
    started = Runtime(settings, web_client=client, pacer_interval_s=0.01)
    await started.start()
    serving = asyncio.get_running_loop().create_task(serve_socket_mode(started))
    try:
        await wait_until(lambda: slack.connected == 1, timeout_s=15, what="the Socket Mode connection")
        yield started
    finally:
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving
        await started.stop()


def _ephemerals(slack: SocketModeSlack) -> list[str]:
    return [m.text for m in slack.ephemerals if m.ephemeral_to == USER]


async def test_a_slash_command_is_acked_and_answered(slack: SocketModeSlack, runtime: Runtime) -> None:
    began = time.monotonic()
    ack = await slack.slash("status", user_id=USER, channel_id=CHANNEL)
    assert time.monotonic() - began < 3.0 and "envelope_id" in ack
    await wait_until(lambda: any("no active upgrade plan" in t for t in _ephemerals(slack)), timeout_s=10,
                     what="the answer to /dm-upgrade status")


async def test_a_button_click_is_acked_and_acted_on(slack: SocketModeSlack, runtime: Runtime) -> None:
    await slack.slash("plan 10.4", user_id=USER, channel_id=CHANNEL)
    await wait_until(lambda: bool(slack.channel_messages(CHANNEL)), timeout_s=15, what="the plan message")
    message = slack.channel_messages(CHANNEL)[0]
    plan_id = runtime.engine.status(channel=CHANNEL).id
    ack = await slack.click(action_id=ActionId.SET_WINDOW.value, block_id="b", value=str(plan_id),
                            message_ts=message.ts, user_id=USER, channel_id=CHANNEL)
    assert "envelope_id" in ack
    await wait_until(lambda: bool(slack.calls_for("views.open")), timeout_s=10, what="the window modal")


@pytest.mark.parametrize("how", ["ask_to_reconnect", "drop"])
async def test_a_lost_connection_is_reopened_and_served(
    slack: SocketModeSlack, runtime: Runtime, how: str
) -> None:
    opened = len(slack.calls_for("apps.connections.open"))
    await getattr(slack, how)()
    await wait_until(lambda: slack.connections >= 2 and slack.connected >= 1, timeout_s=30,
                     what="a new connection")
    assert len(slack.calls_for("apps.connections.open")) > opened  # a fresh URL, as Slack requires
    await slack.slash("status", user_id=USER, channel_id=CHANNEL)
    await wait_until(lambda: any("no active upgrade plan" in t for t in _ephemerals(slack)), timeout_s=10,
                     what="an answer over the new connection")
