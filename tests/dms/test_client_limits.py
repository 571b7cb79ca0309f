"""A DMS client that trusts nothing: malformed answers, size caps, agent caps, where the
password may go, plain http, and the connect answers DMAConnectAndInfo.md documents (MessageType).

Each test here failed on the client before these limits: HTML/empty/null answers were tracebacks or vague,
a gzip answer was inflated without bound, 20,000 agents meant 20,000 logins, and any PrimaryIP got the
password.
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web

from dms.client import DmsClient
from dms.exceptions import DmsAuthError, DmsProtocolError
from dms.limits import AgentAllowList, inflate_capped
from tests.dms.dms_fakes import PASSWORD, FakeDms, make_client

METHOD = "GetDataMinerAgentsInfo"


@pytest.mark.parametrize(("response", "says"), [
    (httpx.Response(200, text="<html><body>IIS</body></html>"), "not JSON (HTML or XML)"),
    (httpx.Response(200, content=b""), "not JSON (empty body)"),
    (httpx.Response(200, json={"d": None}), "expected a list, got null"),
    (httpx.Response(200, json={"d": "agents"}), "expected a list, got str"),
    (httpx.Response(200, json={"d": [{"ID": "one"}]}), "malformed answer: ID"),
    (httpx.Response(200, json={"d": ["x"]}), "malformed answer"),
    (httpx.Response(200, json=[1, 2]), 'not wrapped in {"d": ...}'),
    (httpx.Response(200, content=b"[" * 100_000), "not JSON"),
    (httpx.Response(200, content=b"\xff\xfe\x00garbage"), "not JSON"),
    (httpx.Response(200, content=b'{"d": "' + b"x" * (50 * 1024 * 1024) + b'"}'), "larger than"),
])
async def test_a_malformed_answer_is_a_protocol_error_naming_agent_and_method(
    response: httpx.Response, says: str
) -> None:
    fake = FakeDms()
    fake.queue[METHOD] = [response]
    client, _ = make_client(fake)
    async with client:
        with pytest.raises(DmsProtocolError) as caught:
            await client.agents_info()
    assert says in str(caught.value)
    assert caught.value.agent == "127.0.0.1" and caught.value.method == METHOD


async def test_null_where_an_object_is_due_names_it() -> None:
    fake = FakeDms()
    fake.extra["GetElementByName"] = None
    client, _ = make_client(fake)
    async with client:
        with pytest.raises(DmsProtocolError, match=r'\{"d": null\}.*GetElementByName'):
            await client.element_by_name("x")


def test_inflation_is_capped() -> None:
    bomb = gzip.compress(b"\0" * (8 * 1024 * 1024))  # 8 MB of zeros in about 8 kB
    assert len(bomb) < 64 * 1024
    with pytest.raises(Exception, match="larger than 1048576 bytes"):
        inflate_capped(bomb, "gzip", limit=1024 * 1024)
    assert inflate_capped(gzip.compress(b"[1]"), "gzip", limit=10) == b"[1]"
    with pytest.raises(Exception, match="not asked for"):
        inflate_capped(b"x", "br", limit=10)


@pytest.fixture
async def hostile_server() -> AsyncIterator[str]:
    """Real HTTP through the real transport: a gzip bomb and an oversized plain body."""

    async def bomb(request: web.Request) -> web.Response:
        body = gzip.compress(b'{"d": "' + b"0" * (64 * 1024 * 1024) + b'"}')
        headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
        return web.Response(body=body, headers=headers)

    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        for _ in range(64):  # 64 MB, without a Content-Length
            await response.write(b"0" * (1024 * 1024))
        return response

    async def connect(request: web.Request) -> web.Response:
        return web.json_response({"d": "c-1"})

    app = web.Application()
    app.router.add_post("/bomb/API/v1/Json.asmx/ConnectApp", connect)
    app.router.add_post("/bomb/API/v1/Json.asmx/GetActiveAlarms", bomb)
    app.router.add_post("/huge/API/v1/Json.asmx/ConnectApp", connect)
    app.router.add_post("/huge/API/v1/Json.asmx/GetActiveAlarms", huge)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("path", ["bomb", "huge"])
async def test_real_transport_caps_compressed_and_inflated_answers(hostile_server: str, path: str) -> None:
    client = DmsClient(url=f"{hostile_server}/{path}", user="u", password="p", retries=0,
                       max_response_bytes=4 * 1024 * 1024)
    async with client:
        with pytest.raises(DmsProtocolError, match=r"larger than 4194304 bytes.*GetActiveAlarms"):
            await client.active_alarms()


async def test_too_many_agents_is_a_clear_error_before_any_agent_login() -> None:
    fake = FakeDms(agents=1)
    fake.agents = [{"ID": i, "Name": f"A{i}", "PrimaryIP": "127.0.1.1", "Status": "Running"}
                   for i in range(20_000)]
    client, _ = make_client(fake, max_agents=500)
    async with client:
        with pytest.raises(DmsProtocolError, match=r"20000 agents, more than the limit of 500 .DMS_MAX"):
            await client.agent_states()
    assert not fake.methods("ConnectAppAndInfo") and fake.sessions == 1


async def test_an_agent_outside_the_allow_list_is_reported_and_never_contacted() -> None:
    fake = FakeDms(agents=2)
    fake.agents[1]["PrimaryIP"] = "203.0.113.9"
    client, _ = make_client(fake)
    async with client:
        states = await client.agent_states()
    assert [s.contacted for s in states] == [True, False]
    assert "outside the allowed agent addresses" in states[1].detail and "DMS_AGENT_ALLOW" in states[1].detail
    connected = {host for host, method, _ in fake.calls if method.startswith("Connect")}
    assert connected == {"127.0.0.1", "127.0.1.1"}
    assert all(host != "203.0.113.9" for host, _, _ in fake.calls)


async def test_the_allow_list_setting_admits_listed_hosts_and_ranges() -> None:
    fake = FakeDms(agents=2)
    fake.agents[1]["PrimaryIP"] = "203.0.113.9"
    fake.versions["203.0.113.9"] = "10.4.0.0-14000-CU3"
    client, _ = make_client(fake, agent_allow=["127.0.1.0/24", "203.0.113.0/28"])
    async with client:
        states = await client.agent_states()
    assert all(s.contacted and s.reachable for s in states)


def test_default_allow_list_is_the_slash_24_of_dms_url() -> None:
    allow = AgentAllowList(dms_host="10.1.2.3")
    assert allow.allows("10.1.2.200") and allow.allows("10.1.2.3")
    assert not allow.allows("10.1.3.1") and not allow.allows("127.0.0.2") and not allow.allows("evil.example")
    named = AgentAllowList(dms_host="dms.example", entries=["dma2.example", "192.0.2.0/24"])
    assert named.allows("dms.example") and named.allows("DMA2.example") and named.allows("192.0.2.7")
    assert not named.allows("198.51.100.1")


def test_plain_http_to_a_remote_dms_needs_an_explicit_setting(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(ValueError, match=r"plain http.*DMS_ALLOW_PLAIN_HTTP"):
        DmsClient(url="http://10.1.2.3", user="u", password="p")
    with caplog.at_level(logging.WARNING, logger="dms.limits"):
        DmsClient(url="http://10.1.2.3", user="u", password="p", allow_plain_http=True)
    assert "clear text" in caplog.text
    DmsClient(url="http://127.0.0.1:8731", user="u", password="p")  # loopback: nothing crosses a network
    DmsClient(url="https://10.1.2.3", user="u", password="p")


def info_answer(**fields: Any) -> httpx.Response:
    return httpx.Response(200, json={"d": {"Connection": "", "DMAVersion": "", **fields}})


async def test_connect_sends_host_empty_and_names_message_types() -> None:
    fake = FakeDms(agents=2)
    fake.queue["ConnectAppAndInfo"] = [
        info_answer(MessageType="Challenge", Message="Enter the code sent to your phone"),
        info_answer(MessageType="AccountLocked", Message=f"locked; you sent {PASSWORD}"),
    ]
    client, _ = make_client(fake)
    async with client:
        states = await client.agent_states()
    assert all(body.get("host") == "" for _, method, body in fake.calls if method.startswith("Connect"))
    details = sorted(s.detail for s in states)
    assert any("this account uses two-step authentication; use a service account without it" in d
               for d in details)
    locked = next(d for d in details if "AccountLocked" in d)
    assert PASSWORD not in locked and "ConnectAppAndInfo" in locked


async def test_challenge_is_an_auth_error_for_agent_version() -> None:
    fake = FakeDms(agents=1)
    fake.queue["ConnectAppAndInfo"] = [info_answer(MessageType="Challenge")]
    client, _ = make_client(fake)
    async with client:
        agents = await client.agents_info()
        with pytest.raises(DmsAuthError, match="two-step authentication"):
            await client.agent_version(agents[0])


@pytest.mark.parametrize("text", ["10.6.2617.1490", "build 7", ""])
async def test_an_unrecognised_version_is_kept_as_read_and_the_agent_stays_reachable(text: str) -> None:
    fake = FakeDms(agents=1, version=text)
    client, _ = make_client(fake)
    async with client:
        (state,) = await client.agent_states()
    assert state.reachable and state.version is None and state.version_text == text
    assert state.detail == f"version {text} not recognised"


@pytest.mark.parametrize("text", ["10.4.0.0-14772-CU3", "DataMiner 10.4.0.0-14772 CU3",
                                  "10.4.0.0 - 14772 - CU3", "10.4.0 [CU3]", "10.4.0 CU3"])
async def test_dma_version_forms_map_to_one_release(text: str) -> None:
    fake = FakeDms(agents=1, version=text)
    client, _ = make_client(fake)
    async with client:
        (state,) = await client.agent_states()
    assert str(state.version) == "10.4.0 CU3"
