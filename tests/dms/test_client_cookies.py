"""Cookies: the client reads them only from an answer that sets one, and still sends back what a DMS (or a
load balancer in front of it) set, such as an affinity cookie."""

from __future__ import annotations

import json

import httpx

from dms.client import DmsClient
from tests.dms.dms_fakes import PASSWORD, URL


class CookieDms:
    def __init__(self, *, set_cookie: str | None) -> None:
        self.set_cookie = set_cookie
        self.sent: list[tuple[str, str | None]] = []  # (method, Cookie header)

    def handler(self, request: httpx.Request) -> httpx.Response:
        method = request.url.path.rsplit("/", 1)[-1]
        self.sent.append((method, request.headers.get("cookie")))
        headers = {"Set-Cookie": self.set_cookie} if self.set_cookie and method == "ConnectApp" else {}
        answer: object = {"ConnectApp": "conn-1", "GetActiveAlarmsCount": 3}.get(method)
        return httpx.Response(200, headers=headers, content=json.dumps({"d": answer}).encode())


def client_for(fake: CookieDms) -> DmsClient:
    return DmsClient(url=URL, user="admin", password=PASSWORD, transport=httpx.MockTransport(fake.handler),
                     retries=0)


async def test_a_cookie_the_dms_sets_is_sent_back() -> None:
    fake = CookieDms(set_cookie="affinity=agent-1; Path=/")
    async with client_for(fake) as client:
        assert await client.active_alarms_count() == 3
        assert await client.active_alarms_count() == 3
    assert fake.sent[0] == ("ConnectApp", None)
    methods = ["GetActiveAlarmsCount", "GetActiveAlarmsCount", "LogOut"]
    assert fake.sent[1:] == [(method, "affinity=agent-1") for method in methods]


async def test_without_set_cookie_no_cookie_is_sent() -> None:
    fake = CookieDms(set_cookie=None)
    async with client_for(fake) as client:
        assert await client.active_alarms_count() == 3
    assert [cookie for _, cookie in fake.sent] == [None, None, None]
