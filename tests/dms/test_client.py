"""DmsClient against httpx.MockTransport: protocol details and error mapping."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest

from dms.client import DmsClient
from dms.exceptions import DmsApiError, DmsAuthError, DmsProtocolError, DmsScriptError, DmsUnreachable
from dms.models import AgentInfo
from dms.versions import Version
from dms.wire import agent_base_url, api_base
from tests.dms.dms_fakes import (
    PASSWORD,
    URL,
    FakeDms,
    _no_sleep,
    fault,
    make_client,
)


async def test_unwraps_answers_into_models_and_sends_the_session() -> None:
    fake = FakeDms()
    client, _ = make_client(fake)
    async with client:
        agents = await client.agents_info()
        stats = await client.agents_statistics()
        assert await client.active_alarms() == []
        assert await client.active_alarms_count() == 0
        assert await client.is_connection_alive() is True
    assert [a.name for a in agents] == ["DMA1", "DMA2", "DMA3"]
    assert agents[0].primary_ip == "127.0.1.1"
    assert stats[1].amount_elements_active == 9
    connect = fake.methods("ConnectApp")[0][2]
    assert connect["login"] == "admin" and connect["clientAppName"] == "dm-upgrade"
    assert fake.methods("GetDataMinerAgentsInfo")[0][2] == {"connection": "conn-1"}
    assert fake.methods("LogOut"), "close() logs out"


async def test_concurrent_first_calls_share_one_session() -> None:
    fake = FakeDms(latency_s=0.01)
    client, _ = make_client(fake)
    async with client:
        await asyncio.gather(client.agents_info(), client.agents_statistics(), client.active_alarms())
    assert len(fake.methods("ConnectApp")) == 1


async def test_5xx_is_retried_with_exponential_backoff() -> None:
    fake = FakeDms()
    fake.queue["GetDataMinerAgentsInfo"] = [httpx.Response(503), httpx.Response(502, text="bad gateway")]
    client, delays = make_client(fake)
    async with client:
        agents = await client.agents_info()
    assert len(agents) == 3
    assert delays == [0.1, 0.2]
    assert len(fake.methods("GetDataMinerAgentsInfo")) == 3


@pytest.mark.parametrize(
    "error",
    [httpx.ReadTimeout("slow"), httpx.ConnectError("refused"), httpx.RemoteProtocolError("reset")],
)
async def test_transport_errors_end_in_unreachable_naming_agent_and_method(error: Exception) -> None:
    fake = FakeDms()
    fake.queue["GetDataMinerAgentsInfo"] = [error] * 5
    client, delays = make_client(fake, retries=3)
    async with client:
        with pytest.raises(DmsUnreachable) as caught:
            await client.agents_info()
    assert "GetDataMinerAgentsInfo" in str(caught.value) and "127.0.0.1" in str(caught.value)
    assert caught.value.method == "GetDataMinerAgentsInfo"
    assert len(fake.methods("GetDataMinerAgentsInfo")) == 4
    assert delays == [0.1, 0.2, 0.4]


async def test_expired_session_reconnects_once_and_retries() -> None:
    fake = FakeDms()
    fake.queue["GetDataMinerAgentsStatistics"] = [fault("No connection available. Please log in again.")]
    client, delays = make_client(fake)
    async with client:
        stats = await client.agents_statistics()
    assert len(stats) == 3
    assert len(fake.methods("ConnectApp")) == 2
    assert fake.methods("GetDataMinerAgentsStatistics")[-1][2]["connection"] == "conn-2"
    assert delays == [], "an expired session is not a transport failure"


async def test_session_expiring_again_after_reconnect_raises() -> None:
    fake = FakeDms()
    fake.queue["GetActiveAlarms"] = [fault("No connection available")] * 2
    client, _ = make_client(fake)
    async with client:
        with pytest.raises(DmsApiError, match="GetActiveAlarms"):
            await client.active_alarms()
    assert len(fake.methods("ConnectApp")) == 2


async def test_concurrent_expiry_each_call_reconnects_once_with_its_own_session() -> None:
    fake = FakeDms(latency_s=0.005)
    client, _ = make_client(fake)
    async with client:
        fake.queue["GetActiveAlarms"] = [fault("No connection available")] * 3
        await asyncio.gather(*(client.active_alarms() for _ in range(3)))
    assert len(fake.methods("ConnectApp")) == 4
    retried_with = sorted(body["connection"] for _, _, body in fake.methods("GetActiveAlarms")[3:])
    assert retried_with == ["conn-2", "conn-3", "conn-4"]


async def test_refused_credentials_raise_auth_error_without_retry_or_password() -> None:
    fake = FakeDms()
    client = DmsClient(url=URL, user="admin", password="wrong-" + PASSWORD, retries=3,
                       transport=httpx.MockTransport(fake.handler), sleep=_no_sleep)
    with pytest.raises(DmsAuthError) as caught:
        await client.connect()
    await client.close()
    assert "ConnectApp" in str(caught.value) and "admin" in str(caught.value)
    assert PASSWORD not in str(caught.value)
    assert len(fake.methods("ConnectApp")) == 1


async def test_http_401_is_an_auth_error() -> None:
    fake = FakeDms()
    fake.queue["ConnectApp"] = [httpx.Response(401, text="Unauthorized")]
    client, _ = make_client(fake)
    with pytest.raises(DmsAuthError, match="401"):
        await client.connect()
    await client.close()


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="<html>not json</html>"),
        httpx.Response(200, json={"agents": []}),
        httpx.Response(200, json={"d": {"not": "a list"}}),
        httpx.Response(200, json={"d": [{"ID": "x", "Name": "DMA1"}]}),
        httpx.Response(404, text="no such page"),
    ],
)
async def test_malformed_answers_are_protocol_errors(response: httpx.Response) -> None:
    fake = FakeDms()
    fake.queue["GetDataMinerAgentsInfo"] = [response]
    client, delays = make_client(fake)
    async with client:
        with pytest.raises(DmsProtocolError, match="GetDataMinerAgentsInfo"):
            await client.agents_info()
    assert delays == []


async def test_asmx_fault_with_message_is_not_retried() -> None:
    fake = FakeDms()
    client, delays = make_client(fake)
    async with client:
        with pytest.raises(DmsApiError, match="Unknown web method GetElementByName") as caught:
            await client.element_by_name("Core router")
    assert type(caught.value) is DmsApiError
    assert delays == [] and len(fake.methods("GetElementByName")) == 1


async def test_script_failure_is_a_script_error_with_the_message() -> None:
    fake = FakeDms()
    fake.queue["ExecuteAutomationScript"] = [fault("Prerequisite check failed: Verify Cluster Ports")]
    client, _ = make_client(fake)
    async with client:
        with pytest.raises(DmsScriptError, match="Verify Cluster Ports"):
            await client.execute_automation_script("S", "F", {"Action": "verify"}, wait=True)
        instance = await client.execute_automation_script("S", "F", {"Action": "verify", "Package": "p"},
                                                          wait=True)
    assert instance == 4711
    body = fake.methods("ExecuteAutomationScript")[-1][2]
    assert body["script"]["Name"] == "S" and body["script"]["Folder"] == "F"
    assert {"ParameterId": 2, "Name": "Package", "Value": "p"} in body["script"]["Parameters"]
    assert body["scriptOptions"] == {"WaitForScript": True}


@pytest.mark.parametrize(
    "failure", [httpx.ReadTimeout("slow"), httpx.Response(503), httpx.RemoteProtocolError("reset")]
)
async def test_a_script_that_may_have_started_is_never_sent_twice(failure: Any) -> None:
    fake = FakeDms()
    fake.queue["ExecuteAutomationScript"] = [failure]
    client, _ = make_client(fake)
    async with client:
        with pytest.raises(DmsUnreachable, match="not retried"):
            await client.execute_automation_script("S", "F", {"Action": "upgrade"})
    assert len(fake.methods("ExecuteAutomationScript")) == 1


async def test_a_refused_connection_before_a_script_is_retried() -> None:
    fake = FakeDms()
    fake.queue["ExecuteAutomationScript"] = [httpx.ConnectError("refused")]
    client, _ = make_client(fake)
    async with client:
        assert await client.execute_automation_script("S", "F", {"Action": "upgrade"}) == 4711
    assert len(fake.methods("ExecuteAutomationScript")) == 2


async def test_agent_version_reads_each_agent_on_its_own_address() -> None:
    fake = FakeDms()
    fake.versions["127.0.1.2"] = "10.3.0.0-12000-CU22"
    client, _ = make_client(fake)
    async with client:
        agents = await client.agents_info()
        versions = [await client.agent_version(agent) for agent in agents]
    assert versions == [Version(10, 4, 0, 3), Version(10, 3, 0, 22), Version(10, 4, 0, 3)]
    hosts = [host for host, _, _ in fake.methods("ConnectAppAndInfo")]
    assert hosts == ["127.0.1.1", "127.0.1.2", "127.0.1.3"]
    assert {host for host, _, _ in fake.methods("LogOut")} >= set(hosts), "short sessions are logged out"


async def test_agent_url_template_is_used() -> None:
    fake = FakeDms(agents=1)
    client, _ = make_client(fake, agent_url_template="http://{ip}:9000/")
    seen: list[str] = []

    async def spy(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return await fake.handler(request)

    client._http._transport = httpx.MockTransport(spy)
    async with client:
        await client.agent_version((await client.agents_info())[0])
    assert "http://127.0.1.1:9000/API/v1/Json.asmx/ConnectAppAndInfo" in seen


async def test_unreadable_version_is_a_protocol_error_naming_the_agent() -> None:
    fake = FakeDms(agents=1)
    fake.versions["127.0.1.1"] = "banana"
    client, _ = make_client(fake)
    async with client:
        with pytest.raises(DmsProtocolError, match=r"DMA1.*ConnectAppAndInfo"):
            await client.agent_version((await client.agents_info())[0])


async def test_huge_unreadable_version_is_cut_in_the_message() -> None:
    fake = FakeDms(agents=1)
    fake.versions["127.0.1.1"] = "9" * 100_000
    client, _ = make_client(fake)
    async with client:
        with pytest.raises(DmsProtocolError) as caught:
            await client.agent_version((await client.agents_info())[0])
    assert len(str(caught.value)) < 300


@pytest.mark.parametrize("ip", ["x@attacker.example", "attacker.example/steal#", "1.2.3.4:80@e", "a b", ""])
async def test_hostile_primary_ip_gets_no_credentials(ip: str) -> None:
    fake = FakeDms(agents=2)
    fake.agents[1]["PrimaryIP"] = ip
    client, _ = make_client(fake)
    async with client:
        states = await client.agent_states()
    assert states[0].reachable and not states[1].reachable
    assert "is not an IP address or host name" in states[1].detail
    connect_hosts = {host for host, method, _ in fake.calls if method.startswith("ConnectApp")}
    assert connect_hosts == {httpx.URL(URL).host, "127.0.1.1"}, "the password went nowhere else"


async def test_agent_states_marks_unreachable_agents_and_bounds_concurrency() -> None:
    fake = FakeDms(agents=10, latency_s=0.002)
    fake.down.add("127.0.1.4")
    client, _ = make_client(fake, concurrency=3, retries=1)
    async with client:
        states = await client.agent_states()
    assert len(states) == 10
    bad = [s for s in states if not s.reachable]
    assert [s.name for s in bad] == ["DMA4"] and bad[0].version is None
    assert "ConnectAppAndInfo" in bad[0].detail
    assert all(s.version == Version(10, 4, 0, 3) for s in states if s.reachable)
    assert fake.max_agent_in_flight == 3, "version reads and their logouts share the bound"


async def test_password_never_in_repr_logs_or_exceptions(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fake = FakeDms()
    # A DMS that echoes the password back in its fault must not make us repeat it.
    fake.queue["ExecuteAutomationScript"] = [fault(f"script failed for password {PASSWORD}")]
    fake.queue["GetActiveAlarms"] = [httpx.ConnectError("down")] * 3
    client, _ = make_client(fake, verify=False)
    assert PASSWORD not in repr(client) and PASSWORD not in str(vars(client))
    errors: list[BaseException] = []
    async with client:
        for call in (client.execute_automation_script("S", "F", {}, wait=True), client.active_alarms()):
            try:
                await call
            except DmsApiError as exc:
                errors.append(exc)
    assert len(errors) == 2
    assert all(PASSWORD not in str(error) and PASSWORD not in repr(error) for error in errors)
    assert PASSWORD not in caplog.text
    assert "verification is OFF" in caplog.text


def test_urls() -> None:
    assert api_base("http://h:1/") == "http://h:1/API/v1/Json.asmx"
    assert api_base("https://h/API/v1/Json.asmx") == "https://h/API/v1/Json.asmx"
    assert agent_base_url(dms_url="https://dms.example:8443", template="", ip="10.0.0.5") == (
        "https://10.0.0.5:8443/API/v1/Json.asmx"
    )
    assert agent_base_url(dms_url="http://dms", template="", ip="fe80::1") == "http://[fe80::1]/API/v1/Json.asmx"
    assert agent_base_url(dms_url="http://dms", template="https://{ip}/API/v1/Json.asmx", ip="10.0.0.5") == (
        "https://10.0.0.5/API/v1/Json.asmx"
    )
    assert agent_base_url(dms_url="http://dms", template="", ip="dma-2.corp_lan") == (
        "http://dma-2.corp_lan/API/v1/Json.asmx"
    )
    with pytest.raises(ValueError, match="not an IP address or host name"):
        agent_base_url(dms_url="http://dms", template="", ip="evil@attacker.example")


@pytest.mark.parametrize("url", ["", "dms.example", "ftp://dms.example", "http://", "http://u:pw@[::1"])
def test_a_url_that_is_no_dms_address_is_refused_without_echoing_it(url: str) -> None:
    with pytest.raises(ValueError, match="DMS URL") as caught:
        DmsClient(url=url, user="u", password="p")
    assert "pw" not in str(caught.value)


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError):
        DmsClient(url=URL, user="u", password="p", concurrency=0)


def test_agent_info_model_reads_documented_names_and_ignores_others() -> None:
    # develop/webservices/WS_v1/WS_CustomDataTypes_v1/DMAInfo.md
    info = AgentInfo.model_validate({"ID": 1, "Name": "A", "PrimaryIP": "1.2.3.4", "Status": "Running",
                                     "IsFailOver": True, "LastChangeUTC": 1400050577000, "Invented": 2})
    assert info.is_failover and info.last_change_utc == 1400050577000
    assert not hasattr(info, "Invented") and AgentInfo.model_validate({"ID": 2}).status == "Unknown"


def test_tls_contexts(tmp_path: Any) -> None:
    import ssl

    import certifi

    from dms.wire import ssl_context

    assert ssl_context(True).verify_mode is ssl.CERT_REQUIRED
    assert ssl_context(certifi.where()).check_hostname is True
    off = ssl_context(False)
    assert off.verify_mode is ssl.CERT_NONE and not off.check_hostname
    with pytest.raises(ValueError, match="CA bundle"):
        DmsClient(url="https://dms", user="u", password="p", verify=str(tmp_path / "missing.pem"))


def test_clients_share_one_tls_context_per_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading a CA bundle costs about 40 ms of CPU on the event loop: 50 DMSs whose pre-checks start
    together each opened a client and stalled the loop for 2 s. It is loaded once per setting."""
    import ssl

    from dms import wire

    wire.ssl_context.cache_clear()
    made: list[object] = []
    real = ssl.create_default_context

    def counting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        made.append(kwargs.get("cafile"))
        return real(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counting)
    for _ in range(3):
        DmsClient(url="https://dms.example.net", user="u", password="p")
    DmsClient(url="https://dms.example.net", user="u", password="p", verify=False)
    assert len(made) == 2  # one for verify=True, one for verify=False
    wire.ssl_context.cache_clear()
