"""An async client for the DataMiner Web Services API v1 (JSON flavor) of one DMS and its agents.

Every call is ``POST <base>/API/v1/Json.asmx/<Method>`` with a flat JSON object; answers arrive wrapped as
``{"d": ...}``. Errors are mapped to one exception per kind (see ``dms.exceptions``):

* timeouts, connection errors and HTTP 5xx without an ASMX message: retried with exponential backoff, then
  ``DmsUnreachable``;
* an ASMX fault (HTTP 500 with ``{"Message": ...}``): "No connection available" reconnects once and retries;
  refused credentials give ``DmsAuthError``; a failing Automation script gives ``DmsScriptError``;
* anything the API does not promise: ``DmsProtocolError`` (``dms.caller``).

Limits (``dms.limits``): answers are capped (compressed and inflated), the agent count is capped, the
password goes only to DMS_URL's host and allowed agent addresses, and plain http to a non-loopback host needs
``allow_plain_http``. The password lives in a ``SecretStr`` and is only unwrapped into a connect request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import httpx
from pydantic import SecretStr

from dms.agent_reads import AgentReader
from dms.aiohttp_transport import AiohttpPoster, HttpxPoster, Poster
from dms.call_stats import CALL_STATS, CallStats
from dms.caller import HttpCaller, SessionExpired, Sleep, not_connected
from dms.dma_version import describe, release_of
from dms.exceptions import DmsApiError, DmsProtocolError, DmsUnreachable
from dms.limits import DEFAULT_MAX_AGENTS, DEFAULT_MAX_RESPONSE_BYTES, AgentAllowList, check_plain_http
from dms.models import AgentInfo, AgentState, AgentStatistics, Alarm, ElementInfo
from dms.script_output import script_body, script_outputs
from dms.versions import Version
from dms.wire import api_base, check_dms_url, ssl_context

log = logging.getLogger(__name__)


# The httpx path, taken when a transport is injected (tests' httpx.MockTransport); without one, requests go
# to aiohttp directly (dms.aiohttp_transport.AiohttpPoster).
_URL_CACHE_SIZE = 4096
_URLS: dict[str, httpx.URL] = {}


def _parsed(text: str) -> httpx.URL:
    url = _URLS.get(text)
    if url is None:
        if len(_URLS) >= _URL_CACHE_SIZE:
            _URLS.clear()
        url = _URLS[text] = httpx.URL(text)
    return url


class _Cookies(httpx.Cookies):
    """Cookies read only from an answer that sets one. httpx wraps every response and its request in
    urllib's cookie adapters to look for them, about a tenth of a request's CPU, and DMS answers set none
    (a session is its connection id); one that does, such as a load balancer's affinity cookie, is kept."""

    def extract_cookies(self, response: httpx.Response) -> None:
        if "set-cookie" in response.headers:
            super().extract_cookies(response)


class _HttpClient(httpx.AsyncClient):
    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._jar = _Cookies()

    def build_request(self, method: str, url: httpx.URL | str, **options: Any) -> httpx.Request:
        # Each URL parsed once per process: the same few methods on the same agents come back at every
        # check, and parsing the string again cost more than the rest of building the request.
        return super().build_request(method, _parsed(url) if isinstance(url, str) else url, **options)

    @property
    def cookies(self) -> httpx.Cookies:
        return self._jar

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        self._jar = _Cookies(cookies)


class DmsClient:
    """One DMS: a session on ``url`` for cluster-wide calls, short sessions on each agent for its version."""

    def __init__(
        self, *, url: str, user: str, password: str | SecretStr, agent_url_template: str = "",
        verify: bool | str = True, timeout_s: float = 10.0, retries: int = 3, concurrency: int = 16,
        transport: httpx.AsyncBaseTransport | None = None, client_app_name: str = "dm-upgrade",
        backoff_s: float = 0.25, sleep: Sleep = asyncio.sleep,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES, max_agents: int = DEFAULT_MAX_AGENTS,
        agent_allow: Sequence[str] = (), allow_plain_http: bool = False, name: str | None = None,
        call_stats: CallStats = CALL_STATS,
    ) -> None:
        """``name``: the DMS's name in the call statistics (``dms.call_stats``; default: its host)."""
        check_dms_url(url)
        if retries < 0 or concurrency < 1 or timeout_s <= 0 or max_response_bytes < 1 or max_agents < 1:
            raise ValueError("retries must be >= 0, concurrency, max_agents and max_response_bytes >= 1 "
                             "and timeout_s > 0")
        self.url = url.strip()
        self.user = user
        self._password = password if isinstance(password, SecretStr) else SecretStr(password)
        self.agent_url_template = agent_url_template
        self.concurrency = concurrency
        self.max_agents = max_agents
        self._base = api_base(self.url)
        parsed = httpx.URL(self._base)
        check_plain_http(parsed, allow_plain_http=allow_plain_http)
        self._label = parsed.host or self.url
        if verify is False:
            log.warning("TLS certificate verification is OFF for %s: the DMS's identity is not checked",
                        self._label)
        # gzip/deflate only: those are what dms.limits inflates through its cap.
        headers = {"Content-Type": "application/json", "Accept": "application/json",
                   "Accept-Encoding": "gzip, deflate"}
        self._poster: Poster
        if transport is None:
            self._poster = AiohttpPoster(ssl_context=ssl_context(verify), timeout_s=timeout_s,
                                         max_connections=concurrency + 16, headers=headers,
                                         max_body_bytes=max_response_bytes)
        else:
            self._http = _HttpClient(transport=transport, timeout=httpx.Timeout(timeout_s), headers=headers)
            self._poster = HttpxPoster(self._http, max_body_bytes=max_response_bytes)
        self._caller = HttpCaller(poster=self._poster, user=user, password=self._password, retries=retries,
                                  backoff_s=backoff_s, sleep=sleep, max_response_bytes=max_response_bytes,
                                  client_app_name=client_app_name, stats_name=name or self._label,
                                  stats=call_stats)
        self._agents = AgentReader(caller=self._caller, dms_url=self.url, template=agent_url_template,
                                   allow=AgentAllowList(dms_host=parsed.host, entries=agent_allow),
                                   concurrency=concurrency)
        self._connection: str | None = None
        self._answered_by = ""  # the agent that last gave the agent list while DMS_URL's did not answer
        self._connect_lock = asyncio.Lock()

    def __repr__(self) -> str:
        # A URL may carry user:password@; show the host only.
        return f"DmsClient(host={httpx.URL(self.url).host!r}, user={self.user!r}, password='**********')"

    @property
    def retries(self) -> int:
        return self._caller.retries

    # ----------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> DmsClient:
        try:
            await self.connect()
        except BaseException:
            await self.close()  # a refused login must not leave the HTTP session and its sockets open
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def connect(self) -> str:
        """Open (or reopen) the session on DMS_URL; returns the connection id."""
        async with self._connect_lock:
            self._connection = await self._caller.connect_at(self._base, label=self._label)
            return self._connection

    async def _ensure_connected(self) -> None:
        # Concurrent first calls share one ConnectApp instead of each opening a session.
        if self._connection is not None:
            return
        async with self._connect_lock:
            if self._connection is None:
                self._connection = await self._caller.connect_at(self._base, label=self._label)

    async def close(self) -> None:
        """Log out (best effort: the session times out on its own anyway) and close the HTTP client."""
        try:
            if self._connection is not None:
                await self.logout()
        except DmsApiError as exc:
            log.debug("logout on close failed: %s", exc)
        finally:
            if self._agents.logouts:
                await asyncio.gather(*self._agents.logouts, return_exceptions=True)
            await self._poster.aclose()

    # ----------------------------------------------------------------- generic calls

    async def call(self, method: str, **params: Any) -> Any:
        """Call ``method`` on DMS_URL with our session and return the unwrapped ``d``.

        An expired session makes this call open a new one and retry once with it. Each call reconnects for
        itself rather than riding on a concurrent call's reconnect: a DMS may hand out sessions that expire
        again at once, and a call must not fail because a neighbour used up the session it was waiting for.
        """
        return await self._call(method, params, once=False)

    async def _call(
        self, method: str, params: dict[str, Any], *, once: bool, field: str = "connection"
    ) -> Any:
        """``field``: the session's parameter name as the method's page spells it (ExecuteAutomationScript's
        page says ``Connection``, every other page ``connection``)."""
        await self._ensure_connected()
        try:
            return await self._caller.post(self._base, method, {field: self._connection, **params},
                                           label=self._label, once=once)
        except SessionExpired:
            log.info("session on %s expired during %s; reconnecting", self._label, method)
        async with self._connect_lock:
            connection = await self._caller.connect_at(self._base, label=self._label)
            self._connection = connection
        try:
            return await self._caller.post(self._base, method, {field: connection, **params},
                                           label=self._label, once=once)
        except SessionExpired:
            raise not_connected(self._label, method) from None

    def _list(self, data: Any, method: str) -> list[Any]:
        if not isinstance(data, list):
            got = "null" if data is None else type(data).__name__
            raise DmsProtocolError(f"expected a list, got {got}", agent=self._label, method=method)
        return data

    async def agents_info(self) -> list[AgentInfo]:
        return self._agent_infos(await self.call("GetDataMinerAgentsInfo"), label=self._label)

    def _agent_infos(self, answer: Any, *, label: str) -> list[AgentInfo]:
        method = "GetDataMinerAgentsInfo"
        data = self._list(answer, method)
        if len(data) > self.max_agents:
            # Checked before parsing or connecting: each agent costs a login that carries the password.
            raise DmsProtocolError(f"the DMS lists {len(data)} agents, more than the limit of "
                                   f"{self.max_agents} (DMS_MAX_AGENTS)", agent=label, method=method)
        return self._caller.models(AgentInfo, data, method, label=label)

    async def agent_states_through_others(self, known: list[AgentInfo]) -> list[AgentState]:
        """Every agent's state, the list asked of the other agents when DMS_URL's does not answer: before
        DataMiner 10.6.6/10.7.0 the agent an upgrade was started from "can only be accessed after all Agents
        in the cluster have been upgraded", while "you can connect to any Agent that has completed its local
        upgrade" (Upgrading_a_DataMiner_Agent_using_DataMiner_Taskbar_Utility.md). DMS_URL's own host last."""
        method = "GetDataMinerAgentsInfo"
        # The agent that answered last time first (one that finished its local upgrade keeps answering).
        ordered = sorted(known, key=lambda agent: (agent.primary_ip != self._answered_by,
                                                   agent.primary_ip.strip() == self._label))
        last: DmsApiError | None = None
        for agent in ordered:
            try:
                answer = await self._agents.agents_info_at(agent)
            except DmsApiError as exc:
                last = exc
                continue
            self._answered_by = agent.primary_ip
            return await self._agents.states(self._agent_infos(answer, label=agent.label))
        raise DmsUnreachable(f"neither {self._label} nor any other agent answers (last: {last})",
                             method=method)

    async def agents_statistics(self) -> list[AgentStatistics]:
        method = "GetDataMinerAgentsStatistics"
        return self._caller.models(AgentStatistics, await self.call(method), method, label=self._label)

    async def active_alarms(self) -> list[Alarm]:
        method = "GetActiveAlarms"
        return self._caller.models(Alarm, await self.call(method), method, label=self._label)

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
            data = await self._caller.post(self._base, "IsConnectionAlive", {"connection": self._connection},
                                           label=self._label)
        except SessionExpired:
            return False
        return bool(data)

    async def logout(self) -> None:
        if self._connection is None:
            return
        connection, self._connection = self._connection, None
        with contextlib.suppress(SessionExpired):  # already gone: that is what we wanted
            await self._caller.post(self._base, "LogOut", {"connection": connection}, label=self._label)

    async def element_by_name(self, name: str) -> ElementInfo:
        data = await self.call("GetElementByName", elementName=name)
        return self._caller.model(ElementInfo, data, "GetElementByName", label=self._label)

    # ----------------------------------------------------------------- Automation scripts

    async def execute_automation_script(
        self, name: str, folder: str, parameters: dict[str, str], *, wait: bool = True
    ) -> int:
        """Run an Automation script; returns its instance id (WS_Methods_v1/ExecuteAutomationScript.md).

        A script failure raises ``DmsScriptError``. Long work is started with ``wait=False`` and followed
        through the script's own status action (``dms.script_runs``), never by holding this call open.
        """
        method = "ExecuteAutomationScript"
        # once: a timeout or 5xx may come after the DMS started the script; sending it again could start
        # a second upload or upgrade. Only a refused connection (nothing was sent) is retried.
        data = await self._call(method, script_body(name, folder, parameters, wait=wait), once=True,
                                field="Connection")  # WS_Methods_v1/ExecuteAutomationScript.md
        if isinstance(data, bool) or not isinstance(data, int):
            raise DmsProtocolError(f"expected a script instance id, got {type(data).__name__}",
                                   agent=self._label, method=method)
        return data

    async def script_output(self, name: str, folder: str, parameters: dict[str, str]) -> dict[str, str]:
        """Run a short script action and return what it reported (``ExecuteAutomationScriptWithOutput``)."""
        method = "ExecuteAutomationScriptWithOutput"
        data = await self._call(method, script_body(name, folder, parameters, wait=True), once=False)
        try:
            return script_outputs(data)
        except ValueError as exc:
            raise DmsProtocolError(str(exc), agent=self._label, method=method) from None

    async def automation_scripts(self) -> list[Any]:
        return self._list(await self.call("GetAutomationScripts"), "GetAutomationScripts")

    # ----------------------------------------------------------------- per agent

    async def agent_version(self, agent: AgentInfo) -> Version:
        """The agent's own version; an unrecognised DMAVersion is a ``DmsProtocolError`` that quotes it."""
        text, session = await self._agents.read(agent)
        self._agents.logout_later([session])
        version = release_of(text)
        if version is None:
            raise DmsProtocolError(describe(text), agent=agent.label, method="ConnectAppAndInfo")
        return version

    async def agent_states(self, *, agents: list[AgentInfo] | None = None) -> list[AgentState]:
        """Each agent's status and version, read concurrently (at most ``concurrency`` at a time).

        An agent that cannot be reached is reported with ``reachable=False`` and the reason in ``detail``;
        one outside the allow-list with ``contacted=False``.
        """
        infos = agents if agents is not None else await self.agents_info()
        return await self._agents.states(infos)
