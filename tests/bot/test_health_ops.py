"""The operations endpoints (``/healthz``, ``/metrics``) are closed by default: on the app's public port an
anonymous caller learns only "ok" or "unavailable"; the details need ``OPS_TOKEN`` as a bearer token, or the
operations listener (``OPS_HOST``, loopback by default, and ``OPS_PORT``). A flood of probes never turns into
a flood of database writes."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from bot.app import serve_http, serve_socket_mode
from bot.ops_server import ops_listener
from bot.settings import Settings
from tests.handlers.conftest import Stack
from tests.handlers.stacks import custom_stack
from tests.support.fake_socket_mode import SocketModeSlack
from tests.support.polling import wait_until

TOKEN = "ops-token-0123456789abcdef"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _closed_to(http: httpx.AsyncClient, *, headers: dict[str, str] | None = None,
                     metrics_status: int) -> None:
    health = await http.get("/healthz", headers=headers)
    assert (health.status_code, health.text) == (200, "ok")
    assert health.headers["Content-Type"].startswith("text/plain")
    assert (await http.get("/metrics", headers=headers)).status_code == metrics_status


async def _open_to(http: httpx.AsyncClient, *, headers: dict[str, str] | None = None) -> None:
    health = await http.get("/healthz", headers=headers)
    assert health.status_code == 200
    body = health.json()
    assert body["ok"] is True and body["db"] == "ok" and set(body["dms"]) == {"default"}
    metrics = await http.get("/metrics", headers=headers)
    assert metrics.status_code == 200 and "dmu_scheduler_leader" in metrics.text


async def test_by_default_the_app_port_says_only_ok(tmp_path: Path) -> None:
    async with custom_stack(tmp_path) as stack:
        await _closed_to(stack.http, metrics_status=404)
        await _closed_to(stack.http, headers=BEARER, metrics_status=404)  # no token is configured
        assert "vm:" not in (await stack.http.get("/healthz")).text


async def test_the_token_opens_the_details_on_the_app_port(tmp_path: Path) -> None:
    async with custom_stack(tmp_path, ops_token=TOKEN) as stack:
        await _closed_to(stack.http, metrics_status=401)
        assert (await stack.http.get("/metrics")).headers["WWW-Authenticate"].startswith("Bearer")
        for wrong in (f"Bearer {TOKEN}x", f"Basic {TOKEN}", TOKEN, "Bearer", f"Bearer {TOKEN[:-1]}"):
            await _closed_to(stack.http, headers={"Authorization": wrong}, metrics_status=401)
        await _open_to(stack.http, headers=BEARER)
        await _open_to(stack.http, headers={"Authorization": f"bearer  {TOKEN}"})


async def test_the_ops_listener_serves_the_details_on_loopback(tmp_path: Path) -> None:
    async with custom_stack(tmp_path, ops_port=0) as stack, ops_listener(stack.runtime) as ops:
        assert ops is not None and ops.host == "127.0.0.1"
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ops.port}", timeout=10) as http:
            await _open_to(http)
        await _closed_to(stack.http, metrics_status=404)  # the app port stays closed


async def test_with_a_token_the_ops_listener_asks_for_it_too(tmp_path: Path) -> None:
    settings: dict[str, Any] = {"ops_port": 0, "ops_token": TOKEN}
    async with custom_stack(tmp_path, **settings) as stack, ops_listener(stack.runtime) as ops:
        assert ops is not None
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ops.port}", timeout=10) as http:
            await _closed_to(http, metrics_status=401)
            await _open_to(http, headers=BEARER)


async def test_no_ops_port_no_listener(tmp_path: Path) -> None:
    async with custom_stack(tmp_path) as stack, ops_listener(stack.runtime) as ops:
        assert ops is None


def _count_health_writes(stack: Stack) -> list[str]:
    writes: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO LEASE"):
            writes.append(statement)

    event.listen(stack.runtime.db, "before_cursor_execute", seen)
    return writes


async def test_a_flood_of_probes_makes_at_most_a_couple_of_writes(tmp_path: Path) -> None:
    async with custom_stack(tmp_path, ops_token=TOKEN) as stack:
        writes = _count_health_writes(stack)
        together = await asyncio.gather(*(stack.http.get("/healthz") for _ in range(100)))
        one_by_one = [await stack.http.get("/healthz", headers=BEARER) for _ in range(100)]
        assert {(r.status_code, r.text) for r in together} == {(200, "ok")}
        assert all(r.status_code == 200 and r.json()["db"] == "ok" for r in one_by_one)
        assert 1 <= len(writes) <= 2, len(writes)


async def test_serve_http_starts_and_stops_the_ops_listener(tmp_path: Path) -> None:
    ops_port = _free_port()
    async with custom_stack(tmp_path, ops_port=ops_port) as stack:
        serving = asyncio.get_running_loop().create_task(serve_http(stack.runtime, host="127.0.0.1", port=0))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ops_port}", timeout=10) as http:
            async def answers() -> bool:
                with contextlib.suppress(httpx.HTTPError):
                    return (await http.get("/healthz")).status_code == 200
                return False

            await wait_until(answers, timeout_s=10, what="the ops listener")
            await _open_to(http)
            serving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await serving
            with pytest.raises(httpx.ConnectError):
                await http.get("/healthz")


async def test_socket_mode_serves_the_ops_listener_too(tmp_path: Path) -> None:
    from bot.app import Runtime
    from handlers.delivery.slack_web import make_web_client

    slack = SocketModeSlack()
    await slack.start()
    assert slack.base_url is not None
    ops_port = _free_port()
    settings = Settings(_env_file=None, slack_app_token="xapp-1-A0OPS-socket", slack_bot_token="xoxb-ops",
                        slack_api_url=slack.base_url, database_url=f"sqlite:///{tmp_path / 'ops.db'}",
                        sim_agents=2, sim_failover_pairs=0, ops_port=ops_port)
    runtime = Runtime(settings, web_client=make_web_client(token="xoxb-ops", base_url=slack.base_url))
    await runtime.start()
    serving = asyncio.get_running_loop().create_task(serve_socket_mode(runtime))
    try:
        await wait_until(lambda: slack.connected == 1, timeout_s=15, what="the Socket Mode connection")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ops_port}", timeout=10) as http:
            await _open_to(http)
    finally:
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving
        await runtime.stop()
        await slack.stop()


@pytest.mark.parametrize(("values", "name"), [
    ({"ops_token": "short"}, "OPS_TOKEN"),
    ({"ops_port": 70000}, "OPS_PORT"),
    ({"ops_db_check_seconds": -1}, "OPS_DB_CHECK_SECONDS"),
])
def test_bad_ops_settings_are_refused(values: dict[str, Any], name: str) -> None:
    from pydantic import ValidationError

    from bot.startup import validation_message

    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None, **values)
    assert name in validation_message(caught.value)
    assert "short" not in validation_message(caught.value)


def test_the_defaults_keep_the_details_closed() -> None:
    settings = Settings(_env_file=None, ops_token="")
    assert settings.ops_host == "127.0.0.1" and settings.ops_port is None and settings.ops_token is None
    assert settings.ops_db_check_seconds > 0
