"""An async client for the DataMiner Web Services API v1 (JSON flavor) of one DMS and its agents.

Every call is ``POST <base>/API/v1/Json.asmx/<Method>`` with a flat JSON object; answers arrive wrapped as
``{"d": ...}``. Errors are mapped to one exception per kind (see ``dms.exceptions``):

* timeouts, connection errors and HTTP 5xx without an ASMX message: retried with exponential backoff, then
  ``DmsUnreachable``;
* an ASMX fault (HTTP 500 with ``{"Message": ...}``): "No connection available" reconnects once and retries;
  refused credentials give ``DmsAuthError``; a failing Automation script gives ``DmsScriptError``;
* anything the API does not promise: ``DmsProtocolError``.

The password lives in a ``SecretStr`` and is only unwrapped into the body of a connect request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from dms.aiohttp_transport import AiohttpTransport
from dms.exceptions import (
    DmsApiError,
    DmsAuthError,
    DmsProtocolError,
    DmsScriptError,
    DmsUnreachable,
    VersionError,
)
from dms.models import AgentInfo, AgentState, AgentStatistics, Alarm, ConnectInfo, ElementInfo
from dms.script_contract import PARAMETER_IDS
from dms.versions import Version, parse_version
from dms.wire import (
    SESSION_EXPIRED,
    agent_base_url,
    api_base,
    asmx_message,
    check_dms_url,
    first_error,
    is_auth_refusal,
    scrub,
    ssl_context,
)

log = logging.getLogger(__name__)

_CONNECT_METHODS = frozenset({"ConnectApp", "ConnectAppAndInfo"})

Sleep = Callable[[float], Awaitable[None]]
M = TypeVar("M", bound=BaseModel)


class _SessionExpired(Exception):
    """Internal: the DMS forgot our connection id; the caller reconnects once."""


class DmsClient:
    """One DMS: a session on ``url`` for cluster-wide calls, short sessions on each agent for its version."""

    def __init__(
        self,
        *,
        url: str,
        user: str,
        password: str | SecretStr,
        agent_url_template: str = "",
        verify: bool | str = True,
        timeout_s: float = 10.0,
        retries: int = 3,
        concurrency: int = 16,
        transport: httpx.AsyncBaseTransport | None = None,
        client_app_name: str = "dm-upgrade",
        backoff_s: float = 0.25,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        check_dms_url(url)
        if retries < 0 or concurrency < 1 or timeout_s <= 0:
            raise ValueError("retries must be >= 0, concurrency >= 1 and timeout_s > 0")
        self.url = url.strip()
        self.user = user
        self._password = password if isinstance(password, SecretStr) else SecretStr(password)
        self.agent_url_template = agent_url_template
        self.retries = retries
        self.concurrency = concurrency
        self.client_app_name = client_app_name
        self._backoff_s = backoff_s
        self._sleep = sleep
        self._base = api_base(self.url)
        self._label = httpx.URL(self._base).host or self.url
        if verify is False:
            log.warning("TLS certificate verification is OFF for %s: the DMS's identity is not checked",
                        self._label)
        self._http = httpx.AsyncClient(
            transport=transport or AiohttpTransport(ssl_context=ssl_context(verify), timeout_s=timeout_s,
                                                    max_connections=concurrency + 16),
            timeout=httpx.Timeout(timeout_s),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        self._logouts: set[asyncio.Task[None]] = set()
        # Bounds every per-agent request (version reads and their logouts) across concurrent callers.
        self._agent_slots = asyncio.Semaphore(concurrency)
        self._connection: str | None = None
        self._connect_lock = asyncio.Lock()

    def __repr__(self) -> str:
        # A URL may carry user:password@; show the host only.
        return f"DmsClient(host={httpx.URL(self.url).host!r}, user={self.user!r}, password='**********')"

    # ----------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> DmsClient:
        await self.connect()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def connect(self) -> str:
        """Open (or reopen) the session on DMS_URL; returns the connection id."""
        async with self._connect_lock:
            self._connection = await self._connect_at(self._base, label=self._label, method="ConnectApp")
            return self._connection

    async def _ensure_connected(self) -> None:
        # Concurrent first calls share one ConnectApp instead of each opening a session.
        if self._connection is not None:
            return
        async with self._connect_lock:
            if self._connection is None:
                self._connection = await self._connect_at(self._base, label=self._label, method="ConnectApp")

    async def close(self) -> None:
        """Log out (best effort: the session times out on its own anyway) and close the HTTP client."""
        try:
            if self._connection is not None:
                await self.logout()
        except DmsApiError as exc:
            log.debug("logout on close failed: %s", exc)
        finally:
            if self._logouts:
                await asyncio.gather(*self._logouts, return_exceptions=True)
            await self._http.aclose()

    # ----------------------------------------------------------------- generic calls

    async def call(self, method: str, **params: Any) -> Any:
        """Call ``method`` on DMS_URL with our session and return the unwrapped ``d``.

        An expired session makes this call open a new one and retry once with it. Each call reconnects for
        itself rather than riding on a concurrent call's reconnect: a DMS may hand out sessions that expire
        again at once, and a call must not fail because a neighbour used up the session it was waiting for.
        """
        return await self._call(method, params, once=False)

    async def _call(self, method: str, params: dict[str, Any], *, once: bool) -> Any:
        await self._ensure_connected()
        try:
            return await self._post(self._base, method, {"connection": self._connection, **params},
                                    label=self._label, once=once)
        except _SessionExpired:
            log.info("session on %s expired during %s; reconnecting", self._label, method)
        async with self._connect_lock:
            connection = await self._connect_at(self._base, label=self._label, method="ConnectApp")
            self._connection = connection
        try:
            return await self._post(self._base, method, {"connection": connection, **params},
                                    label=self._label, once=once)
        except _SessionExpired:
            raise DmsApiError("session expired again right after reconnecting", agent=self._label,
                              method=method) from None

    async def agents_info(self) -> list[AgentInfo]:
        return self._models(AgentInfo, await self.call("GetDataMinerAgentsInfo"), "GetDataMinerAgentsInfo")

    async def agents_statistics(self) -> list[AgentStatistics]:
        data = await self.call("GetDataMinerAgentsStatistics")
        return self._models(AgentStatistics, data, "GetDataMinerAgentsStatistics")

    async def active_alarms(self) -> list[Alarm]:
        return self._models(Alarm, await self.call("GetActiveAlarms"), "GetActiveAlarms")

    async def active_alarms_count(self) -> int:
        data = await self.call("GetActiveAlarmsCount")
        if isinstance(data, bool) or not isinstance(data, int):
            raise DmsProtocolError(f"expected an integer, got {type(data).__name__}", agent=self._label,
                                   method="GetActiveAlarmsCount")
        return data

    async def is_connection_alive(self) -> bool:
        if self._connection is None:
            return False
        try:
            data = await self._post(self._base, "IsConnectionAlive", {"connection": self._connection},
                                    label=self._label)
        except _SessionExpired:
            return False
        return bool(data)

    async def logout(self) -> None:
        if self._connection is None:
            return
        connection, self._connection = self._connection, None
        with contextlib.suppress(_SessionExpired):  # already gone: that is what we wanted
            await self._post(self._base, "LogOut", {"connection": connection}, label=self._label)

    async def element_by_name(self, name: str) -> ElementInfo:
        data = await self.call("GetElementByName", elementName=name)
        return self._model(ElementInfo, data, "GetElementByName")

    async def execute_automation_script(
        self, name: str, folder: str, parameters: dict[str, str], *, wait: bool = True
    ) -> int | str:
        """Run an Automation script; returns its instance id. A script failure raises ``DmsScriptError``."""
        script = {
            "Name": name,
            "Folder": folder,
            "Parameters": [
                {"ParameterId": PARAMETER_IDS.get(key, index + 1), "Name": key, "Value": str(value)}
                for index, (key, value) in enumerate(parameters.items())
            ],
        }
        options = {"WaitForScript": wait}
        # once: a timeout or 5xx may come after the DMS started the script; sending it again could start
        # a second upload or upgrade. Only a refused connection (nothing was sent) is retried.
        data = await self._call("ExecuteAutomationScript", {"script": script, "scriptOptions": options},
                                once=True)
        if isinstance(data, bool) or not isinstance(data, int | str):
            raise DmsProtocolError(f"expected a script instance id, got {type(data).__name__}",
                                   agent=self._label, method="ExecuteAutomationScript")
        return data

    async def automation_scripts(self) -> list[Any]:
        data = await self.call("GetAutomationScripts")
        if not isinstance(data, list):
            raise DmsProtocolError("expected a list of scripts", agent=self._label,
                                   method="GetAutomationScripts")
        return data

    # ----------------------------------------------------------------- per agent

    async def agent_version(self, agent: AgentInfo) -> Version:
        """Connect to the agent's own address: ``ConnectAppAndInfo`` reports the version of that agent."""
        version, session = await self._read_version(agent)
        self._logout_later([session])
        return version

    async def agent_states(self, *, agents: list[AgentInfo] | None = None) -> list[AgentState]:
        """Each agent's status and version, read concurrently (at most ``concurrency`` at a time).

        An agent that cannot be reached is reported with ``reachable=False`` and the reason in ``detail``.
        """
        infos = agents if agents is not None else await self.agents_info()
        sessions: list[tuple[str, str, str]] = []

        async def one(agent: AgentInfo) -> AgentState:
            async with self._agent_slots:
                try:
                    version, session = await self._read_version(agent)
                except DmsApiError as exc:
                    return AgentState(id=agent.id, name=agent.name, status=agent.status,
                                      detail=str(exc), version=None, reachable=False)
            sessions.append(session)
            return AgentState(id=agent.id, name=agent.name, status=agent.status,
                              detail=agent.status_detail, version=version)

        try:
            return list(await asyncio.gather(*(one(agent) for agent in infos)))
        finally:
            # Logged out after the reads, not between them: the logouts would compete for the CPU with the
            # reads still in flight and nobody waits on their answers.
            self._logout_later(sessions)

    async def _read_version(self, agent: AgentInfo) -> tuple[Version, tuple[str, str, str]]:
        label = f"{agent.name} ({agent.primary_ip[:64]})"
        try:
            base = agent_base_url(dms_url=self.url, template=self.agent_url_template, ip=agent.primary_ip)
        except ValueError as exc:
            raise DmsProtocolError(str(exc), agent=agent.name, method="GetDataMinerAgentsInfo") from None
        data = await self._connect_raw(base, label=label, method="ConnectAppAndInfo")
        info = self._model(ConnectInfo, data, "ConnectAppAndInfo", label=label)
        session = (base, info.connection, label)
        try:
            return parse_version(info.dma_version), session
        except VersionError as exc:
            self._logout_later([session])
            raise DmsProtocolError(f"unreadable DMAVersion {info.dma_version[:64]!r}", agent=label,
                                   method="ConnectAppAndInfo") from exc

    def _logout_later(self, sessions: list[tuple[str, str, str]]) -> None:
        """Close short per-agent sessions so they do not linger for 5 minutes; ``close()`` waits for them."""
        for base, connection, label in sessions:
            task = asyncio.create_task(self._logout_at(base, connection, label=label))
            self._logouts.add(task)
            task.add_done_callback(self._logouts.discard)

    async def _logout_at(self, base: str, connection: str, *, label: str) -> None:
        try:
            async with self._agent_slots:
                await self._post(base, "LogOut", {"connection": connection}, label=label, retries=0)
        except (DmsApiError, _SessionExpired) as exc:
            log.debug("logout from %s failed: %s", label, exc)

    # ----------------------------------------------------------------- plumbing

    async def _connect_at(self, base: str, *, label: str, method: str) -> str:
        data = await self._connect_raw(base, label=label, method=method)
        if isinstance(data, str) and data:
            return data
        if isinstance(data, dict) and isinstance(data.get("Connection"), str):
            return str(data["Connection"])
        raise DmsProtocolError("no connection id in the answer", agent=label, method=method)

    async def _connect_raw(self, base: str, *, label: str, method: str) -> Any:
        payload = {
            "host": httpx.URL(base).host or "localhost",
            "login": self.user,
            "password": self._password.get_secret_value(),
            "clientAppName": self.client_app_name,
            "clientAppVersion": "1.0",
            "clientComputerName": socket.gethostname(),
        }
        try:
            return await self._post(base, method, payload, label=label)
        except _SessionExpired as exc:
            raise DmsAuthError("the DMS refused the session", agent=label, method=method) from exc

    async def _post(
        self, base: str, method: str, payload: dict[str, Any], *, label: str, retries: int | None = None,
        once: bool = False,
    ) -> Any:
        """``once``: retry only when the request surely never reached the DMS (connection refused)."""
        attempts = (self.retries if retries is None else retries) + 1
        last = ""
        for attempt in range(attempts):
            if attempt:
                await self._sleep(self._backoff_s * 2 ** (attempt - 1))
            try:
                response = await self._http.post(f"{base}/{method}", json=payload)
            except httpx.TransportError as exc:
                timed_out = isinstance(exc, httpx.TimeoutException)
                last = "timed out" if timed_out else f"connection failed: {type(exc).__name__}"
                unsent = isinstance(exc, httpx.ConnectError)
            else:
                fault = asmx_message(response)
                if response.status_code < 500 or fault is not None:
                    return self._unwrap(response, fault, method=method, label=label)
                last, unsent = f"HTTP {response.status_code}", False
            if once and not unsent:
                raise DmsUnreachable(f"{last}; not retried: the DMS may have started it", agent=label,
                                     method=method)
            log.info("%s on %s: %s (attempt %d of %d)", method, label, last, attempt + 1, attempts)
        raise DmsUnreachable(f"no answer after {attempts} attempt(s), last: {last}", agent=label,
                             method=method)

    def _unwrap(self, response: httpx.Response, fault: str | None, *, method: str, label: str) -> Any:
        if fault is not None:
            lowered = fault.lower()
            if SESSION_EXPIRED in lowered:
                raise _SessionExpired(fault)
            if method in _CONNECT_METHODS and is_auth_refusal(fault):
                reason = scrub(fault, self._password)
                raise DmsAuthError(f"credentials refused for user {self.user!r}: {reason}", agent=label,
                                   method=method)
            if method == "ExecuteAutomationScript":
                raise DmsScriptError(scrub(fault, self._password), agent=label, method=method)
            raise DmsApiError(f"the DMS answered an error: {scrub(fault, self._password)}", agent=label,
                              method=method)
        if response.status_code in (401, 403):
            raise DmsAuthError(f"HTTP {response.status_code}: access refused for user {self.user!r}",
                               agent=label, method=method)
        if response.status_code != 200:
            raise DmsProtocolError(f"unexpected HTTP {response.status_code}", agent=label, method=method)
        try:
            body = response.json()
        except ValueError:
            raise DmsProtocolError("the answer is not JSON", agent=label, method=method) from None
        if not isinstance(body, dict) or "d" not in body:
            raise DmsProtocolError('the answer is not wrapped in {"d": ...}', agent=label, method=method)
        return body["d"]

    def _model(self, model: type[M], data: Any, method: str, *, label: str | None = None) -> M:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise DmsProtocolError(f"malformed answer: {first_error(exc)}", agent=label or self._label,
                                   method=method) from None

    def _models(self, model: type[M], data: Any, method: str) -> list[M]:
        if not isinstance(data, list):
            raise DmsProtocolError(f"expected a list, got {type(data).__name__}", agent=self._label,
                                   method=method)
        return [self._model(model, item, method) for item in data]
