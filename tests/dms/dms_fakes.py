"""Stand-ins for a DMS in the dms tests: a scripted MockTransport peer and simulator shortcuts."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from dms.client import DmsClient

PASSWORD = "s3cret-Pa55"
URL = "http://127.0.0.1:8731"


def fault(message: str, status: int = 500) -> httpx.Response:
    return httpx.Response(status, json={"Message": message, "ExceptionType": "System.Exception"})


class FakeDms:
    """A scripted DMS: answers by method, agents answer on their own host; queued answers go first."""

    def __init__(
        self, *, agents: int = 3, version: str = "10.4.0.0-14000-CU3", latency_s: float = 0.0
    ) -> None:
        self.agents = [
            {"ID": 100 + i, "Name": f"DMA{i}", "PrimaryIP": f"127.0.1.{i}", "Cluster": "c",
             "IsFailOver": False, "Status": "Running"}
            for i in range(1, agents + 1)
        ]
        self.versions = {f"127.0.1.{i}": version for i in range(1, agents + 1)}
        self.down: set[str] = set()  # hosts that refuse connections
        self.queue: dict[str, list[httpx.Response | Exception]] = {}
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.sessions = 0
        self.latency_s = latency_s
        self.in_flight = 0
        self.max_in_flight = 0
        self.agent_in_flight = 0
        self.max_agent_in_flight = 0
        self.extra: dict[str, Any] = {}  # method -> answer ("d")

    def methods(self, name: str) -> list[tuple[str, str, dict[str, Any]]]:
        return [call for call in self.calls if call[1] == name]

    async def handler(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        method = request.url.path.rsplit("/", 1)[-1]
        body = json.loads(request.content or b"{}")
        self.calls.append((host, method, body))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        on_agent = host.startswith("127.0.1.")  # an agent's own address, not DMS_URL
        self.agent_in_flight += on_agent
        self.max_agent_in_flight = max(self.max_agent_in_flight, self.agent_in_flight)
        try:
            if self.latency_s:
                await asyncio.sleep(self.latency_s)  # simulated network latency, not a wait for a condition
            if host in self.down:
                raise httpx.ConnectError("refused", request=request)
            queued = self.queue.get(method)
            if queued:
                item = queued.pop(0)
                if isinstance(item, Exception):
                    raise item
                return item
            return self.answer(host, method, body)
        finally:
            self.in_flight -= 1
            self.agent_in_flight -= on_agent

    def answer(self, host: str, method: str, body: dict[str, Any]) -> httpx.Response:
        if method in ("ConnectApp", "ConnectAppAndInfo"):
            if body.get("password") != PASSWORD:
                return fault("Connecting failed: invalid username or password")
            self.sessions += 1
            connection = f"conn-{self.sessions}"
            if method == "ConnectApp":
                return httpx.Response(200, json={"d": connection})
            info = {"Connection": connection, "DMAVersion": self.versions[host], "User": "admin"}
            return httpx.Response(200, json={"d": info})
        # WS_Methods_v1/ExecuteAutomationScript.md spells the session field "Connection", every other page
        # "connection": a fake that took either would not see the client send the wrong one.
        field = "Connection" if method == "ExecuteAutomationScript" else "connection"
        if not str(body.get(field, "")).startswith("conn-"):
            return fault("No connection available")
        answers: dict[str, Any] = {
            "GetDataMinerAgentsInfo": self.agents,
            "GetDataMinerAgentsStatistics": [
                {"ID": a["ID"], "AmountElements": 10, "AmountElementsActive": 9, "AmountServices": 1}
                for a in self.agents
            ],
            "GetActiveAlarms": [],
            "GetActiveAlarmsCount": 0,
            "IsConnectionAlive": True,
            "LogOut": None,
            "ExecuteAutomationScript": 4711,
            "GetAutomationScripts": [{"Name": "DMUpgrade_Orchestrator"}],
            **self.extra,
        }
        if method not in answers:
            return fault(f"Unknown web method {method}.", status=500)
        return httpx.Response(200, json={"d": answers[method]})


def make_client(fake: FakeDms, **options: Any) -> tuple[DmsClient, list[float]]:
    delays: list[float] = []

    async def record(delay: float) -> None:
        delays.append(delay)

    options.setdefault("retries", 2)
    client = DmsClient(url=URL, user="admin", password=PASSWORD, transport=httpx.MockTransport(fake.handler),
                       backoff_s=0.1, sleep=record, **options)
    return client, delays


async def _no_sleep(delay: float) -> None:
    return None


# ---------------------------------------------------------------- against the simulated DMS, over real HTTP

SIM_PASSWORD = "sim-Secret-9"


def sim_config(**overrides: Any) -> Any:
    from simulator import SimulatorConfig

    options: dict[str, Any] = {"agents": 4, "failover_pairs": 1, "speed": 6000.0, "user": "admin",
                               "password": SIM_PASSWORD}
    options.update(overrides)
    return SimulatorConfig(**options)


def sim_client(url: str, **options: Any) -> DmsClient:
    options.setdefault("retries", 1)
    options.setdefault("backoff_s", 0.01)
    options.setdefault("timeout_s", 5.0)
    return DmsClient(url=url, user="admin", password=SIM_PASSWORD, **options)
