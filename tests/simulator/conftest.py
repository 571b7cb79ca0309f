from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from dms import script_contract as contract
from simulator import SimClock, SimulatedDms, SimulatorConfig

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
        """``ExecuteAutomationScript`` (its session field is spelled ``Connection``)."""
        return await self.post(base, "ExecuteAutomationScript", Connection=connection,
                               script=_script(values), scriptOptions={"WaitForScript": wait})

    async def run(self, base: str, connection: str, values: dict[str, str]) -> httpx.Response:
        """``ExecuteAutomationScriptWithOutput``, waiting, as the bot runs every action."""
        return await self.post(base, "ExecuteAutomationScriptWithOutput", connection=connection,
                               script=_script(values), scriptOptions={"WaitForScript": True})

    async def outputs(self, base: str, connection: str, values: dict[str, str]) -> dict[str, str]:
        """The script's outputs of an action that must not fail."""
        response = await self.run(base, connection, values)
        assert response.status_code == 200, response.text
        result = response.json()["d"]
        assert isinstance(result["ID"], int)
        return {item["Key"]: item["Value"] for item in result["Output"]}

    async def state(self, base: str) -> dict[str, Any]:
        response = await self.http.get(f"{base}/_sim/state")
        assert response.status_code == 200
        return dict(response.json())


def _script(values: dict[str, str]) -> dict[str, Any]:
    parameters = [{"ParameterId": contract.PARAMETER_IDS.get(name, 99), "Name": name, "Value": value}
                  for name, value in values.items()]
    return {"Name": contract.SCRIPT_NAME, "Folder": contract.SCRIPT_FOLDER, "Parameters": parameters}


def every_agent(sim: SimulatedDms) -> str:
    """The ``Agents`` parameter the bot sends: every agent GetDataMinerAgentsInfo lists, ID=address."""
    return contract.agents_parameter([(a.id, a.ip) for a in sim.cluster.agents.values()])


def upgrade_params(sim: SimulatedDms, package: str, job: str, **extra: str) -> dict[str, str]:
    values = {contract.PARAM_ACTION: contract.ACTION_UPGRADE, contract.PARAM_PACKAGE: package,
              contract.PARAM_AGENTS: every_agent(sim),
              contract.PARAM_FAILOVER_POLICY: contract.FAILOVER_SIMULTANEOUSLY, contract.PARAM_JOB: job}
    return {**values, **extra}


def status_params(job: str, **extra: str) -> dict[str, str]:
    return {contract.PARAM_ACTION: contract.ACTION_STATUS, contract.PARAM_JOB: job, **extra}


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


def job_of(sim: SimulatedDms, job: str) -> dict[str, Any]:
    """The job as ``/_sim/state`` shows it."""
    (found,) = [row for row in sim.state()["jobs"] if row["job"] == job]
    return dict(found)


def statuses(state: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(a["status"], a["detail"], a["version"]) for a in state["agents"]]
