"""The client's own HTTP path (aiohttp directly, no httpx in between) keeps what the httpx path promised: a
redirect is refused, not followed; a cookie the DMS sets is sent back (also to a DMS addressed by IP); a DMS
that does not answer in time is unreachable; the body goes out as JSON."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from dms.client import DmsClient
from dms.exceptions import DmsProtocolError, DmsUnreachable

PASSWORD = "poster-secret"


@dataclass
class Dms:
    url: str
    # (method, Cookie header, body) of each request, in order
    seen: list[tuple[str, str | None, dict[str, object]]] = field(default_factory=list)
    mode: str = "ok"
    content_types: set[str] = field(default_factory=set)


@pytest.fixture
async def dms() -> AsyncIterator[Dms]:
    state = Dms(url="")

    async def api(request: web.Request) -> web.Response:
        method = request.match_info["method"]
        state.seen.append((method, request.headers.get("Cookie"), json.loads(await request.read())))
        state.content_types.add(request.headers.get("Content-Type", ""))
        if state.mode == "redirect" and method == "GetActiveAlarmsCount":
            raise web.HTTPFound("/API/v1/Json.asmx/Elsewhere")
        if state.mode == "slow" and method == "GetActiveAlarmsCount":
            await asyncio.sleep(2)
        answer: object = {"ConnectApp": "conn-1", "GetActiveAlarmsCount": 4}.get(method)
        response = web.json_response({"d": answer})
        if method == "ConnectApp":
            response.set_cookie("affinity", "agent-1")
        return response

    app = web.Application()
    app.router.add_post("/API/v1/Json.asmx/{method}", api)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield state
    finally:
        await runner.cleanup()


async def test_the_answer_is_read_and_a_cookie_the_dms_sets_is_sent_back(dms: Dms) -> None:
    async with DmsClient(url=dms.url, user="admin", password=PASSWORD, retries=0) as client:
        assert await client.active_alarms_count() == 4
    assert [method for method, _, _ in dms.seen] == ["ConnectApp", "GetActiveAlarmsCount", "LogOut"]
    assert dms.seen[0][1] is None and dms.seen[0][2]["login"] == "admin"
    assert [cookie for _, cookie, _ in dms.seen[1:]] == ["affinity=agent-1", "affinity=agent-1"]
    assert dms.seen[1][2] == {"connection": "conn-1"}
    assert dms.content_types == {"application/json"}  # what an ASMX endpoint needs to answer JSON


async def test_a_redirect_is_refused_not_followed(dms: Dms) -> None:
    dms.mode = "redirect"
    async with DmsClient(url=dms.url, user="admin", password=PASSWORD, retries=0) as client:
        with pytest.raises(DmsProtocolError, match="unexpected HTTP 302"):
            await client.active_alarms_count()
    assert "Elsewhere" not in [method for method, _, _ in dms.seen]


async def test_a_dms_that_does_not_answer_in_time_is_unreachable(dms: Dms) -> None:
    dms.mode = "slow"
    async with DmsClient(url=dms.url, user="admin", password=PASSWORD, retries=0, timeout_s=0.3) as client:
        with pytest.raises(DmsUnreachable, match="timed out") as caught:
            await client.active_alarms_count()
    assert PASSWORD not in str(caught.value)
