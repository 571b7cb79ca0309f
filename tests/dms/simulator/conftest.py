from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from dms import script_contract as contract
from dms.simulator import SimClock, SimulatedDms, SimulatorConfig

API = "/API/v1/Json.asmx"


class Api:
    """Raw Web Services calls over real HTTP, so the tests see exactly what a client sees."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def post(self, base: str, method: str, **params: Any) -> httpx.Response:
        return await self.http.post(f"{base}{API}/{method}", json=params)

    async def ok(self, base: str, method: str, **params: Any) -> Any:
        response = await self.post(base, method, **params)
        assert response.status_code == 200, response.text
        return response.json()["d"]

    async def fault(self, base: str, method: str, **params: Any) -> str:
        response = await self.post(base, method, **params)
        assert response.status_code == 500, response.text
        body = response.json()
        assert set(body) == {"Message", "ExceptionType", "StackTrace"}
        return str(body["Message"])

    async def connect(self, base: str, *, user: str = "admin", password: str = "admin") -> str:
        return str(await self.ok(base, "ConnectApp", host="dms", login=user, password=password,
                                 clientAppName="tests", clientAppVersion="1", clientComputerName="here"))

    async def script(
        self, base: str, connection: str, values: dict[str, str], *, wait: bool = True
    ) -> httpx.Response:
        parameters = [{"ParameterId": contract.PARAMETER_IDS.get(name, 99), "Name": name, "Value": value}
                      for name, value in values.items()]
        return await self.post(base, "ExecuteAutomationScript", connection=connection,
                               script={"Name": contract.SCRIPT_NAME, "Folder": contract.SCRIPT_FOLDER,
                                       "Parameters": parameters},
                               scriptOptions={"WaitForScript": wait})

    async def state(self, base: str) -> dict[str, Any]:
        response = await self.http.get(f"{base}/_sim/state")
        assert response.status_code == 200
        return dict(response.json())


def upload_params(package: str) -> dict[str, str]:
    return {"Action": "upload", "Package": package, "Agents": "all",
            "FailoverPolicy": "Simultaneously", "UploadOnly": "true"}


def upgrade_params(package: str, policy: str = "Simultaneously") -> dict[str, str]:
    return {"Action": "upgrade", "Package": package, "Agents": "all",
            "FailoverPolicy": policy, "UploadOnly": "false"}


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    async with httpx.AsyncClient(timeout=10.0) as http:
        yield Api(http)


Factory = Callable[..., Awaitable[SimulatedDms]]


@pytest.fixture
async def make_sim() -> AsyncIterator[Factory]:
    """Start simulators on port 0; stopped after the test."""
    started: list[SimulatedDms] = []

    async def factory(clock: SimClock | None = None, **options: Any) -> SimulatedDms:
        options.setdefault("session_idle_minutes", 10_000.0)  # high speeds would otherwise expire sessions
        sim = SimulatedDms(SimulatorConfig(**options), clock=clock)
        await sim.start()
        started.append(sim)
        return sim

    yield factory
    for sim in started:
        await sim.stop()


async def wait_until(predicate: Callable[[], Awaitable[bool]], *, timeout: float = 5.0) -> None:
    """Poll with a deadline (never a bare sleep)."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not met before the deadline")
        await asyncio.sleep(0.01)
