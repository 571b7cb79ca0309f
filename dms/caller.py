"""One request to a DMS address and how its answer is read: retries, caps, faults, ``{"d": ...}``.

``DmsClient`` (``dms.client``) adds sessions and the API's methods on top. Every answer is read through
``dms.limits`` (size cap, bounded inflation) and anything the Web Services API v1 does not promise (HTML, an
empty body, ``{"d": null}`` where a value is due, wrong types, a huge body) becomes a ``DmsProtocolError``
that names the agent and the method, never a traceback.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from dms.aiohttp_transport import HttpxPoster, Poster
from dms.call_stats import CALL_STATS, CallStats
from dms.exceptions import DmsApiError, DmsAuthError, DmsProtocolError, DmsScriptError, DmsUnreachable
from dms.limits import UnreadableBody, inflate_capped
from dms.models import ConnectInfo
from dms.secrets import dms_text, remember
from dms.wire import SESSION_EXPIRED, asmx_message, first_error, is_auth_refusal, parse_json

log = logging.getLogger(__name__)

CONNECT_METHODS = frozenset({"ConnectApp", "ConnectAppAndInfo"})
SCRIPT_METHODS = frozenset({"ExecuteAutomationScript", "ExecuteAutomationScriptWithOutput"})
TWO_STEP = "this account uses two-step authentication; use a service account without it"

Sleep = Callable[[float], Awaitable[None]]
M = TypeVar("M", bound=BaseModel)


class SessionExpired(Exception):
    """Internal: the DMS forgot our connection id; the caller reconnects once."""


class HttpCaller:
    """Posts to any DMS address with the client's credentials, limits and retry policy."""

    def __init__(
        self, *, user: str, password: SecretStr, retries: int, backoff_s: float, sleep: Sleep,
        max_response_bytes: int, client_app_name: str, stats_name: str = "", stats: CallStats = CALL_STATS,
        poster: Poster | None = None, http: httpx.AsyncClient | None = None,
    ) -> None:
        """``poster``: how requests go out (``dms.aiohttp_transport``); or ``http``, an httpx client."""
        if poster is None:
            if http is None:
                raise ValueError("HttpCaller needs a poster or an httpx client")
            poster = HttpxPoster(http, max_body_bytes=max_response_bytes)
        self._poster = poster
        # Every request is counted under the DMS's name (its agents' sessions included), see dms.call_stats.
        self.stats_name = stats_name
        self._stats = stats
        self.user = user
        self._password = password
        # The log filter and /healthz scrub every form of it too, as a last line of defence.
        remember(password, user=user)
        self.retries = retries
        self._backoff_s = backoff_s
        self._sleep = sleep
        self.max_response_bytes = max_response_bytes
        self.client_app_name = client_app_name
        self._computer = socket.gethostname()  # once: a system call per login otherwise

    # ----------------------------------------------------------------- connecting

    async def connect_raw(self, base: str, *, label: str, method: str) -> Any:
        payload = {
            "host": "",  # documented as obsolete: "Keep this field empty" (WS_Methods_v1/ConnectApp.md)
            "login": self.user,
            "password": self._password.get_secret_value(),
            "clientAppName": self.client_app_name,
            "clientAppVersion": "1.0",
            "clientComputerName": self._computer,
        }
        try:
            return await self.post(base, method, payload, label=label)
        except SessionExpired as exc:
            raise DmsAuthError("the DMS refused the session", agent=label, method=method) from exc

    async def connect_at(self, base: str, *, label: str) -> str:
        """``ConnectApp``: the answer is the connection id itself (WS_Methods_v1/ConnectApp.md)."""
        data = await self.connect_raw(base, label=label, method="ConnectApp")
        if isinstance(data, str) and data:
            return data
        raise DmsProtocolError("no connection id in the answer", agent=label, method="ConnectApp")

    async def connect_and_info(self, base: str, *, label: str) -> ConnectInfo:
        """``ConnectAppAndInfo``; a failed attempt is named by its ``MessageType`` (DMAConnectAndInfo.md)."""
        method = "ConnectAppAndInfo"
        info = self.model(ConnectInfo, await self.connect_raw(base, label=label, method=method), method,
                          label=label)
        kind = (info.message_type or "").strip()
        if kind.lower() == "challenge":
            raise DmsAuthError(TWO_STEP, agent=label, method=method)
        if not info.connection:
            # Only the DMS's own fields, cleaned: the rest of the answer may quote the login request.
            why = self.shown(info.message or "no message", limit=200)
            kind = self.shown(kind, limit=40) or "no MessageType"
            raise DmsAuthError(f"connection refused ({kind}): {why}", agent=label, method=method)
        return info

    # ----------------------------------------------------------------- one request

    async def post(
        self, base: str, method: str, payload: dict[str, Any], *, label: str, retries: int | None = None,
        once: bool = False,
    ) -> Any:
        """``once``: retry only when the request surely never reached the DMS (connection refused)."""
        attempts = (self.retries if retries is None else retries) + 1
        last = ""
        for attempt in range(attempts):
            if attempt:
                await self._sleep(self._backoff_s * 2 ** (attempt - 1))
            started = time.perf_counter()
            try:
                status, body = await self._exchange(f"{base}/{method}", payload)
            except UnreadableBody as exc:
                self._record(method, "protocol_error", started)
                raise DmsProtocolError(str(exc), agent=label, method=method) from None
            except httpx.TransportError as exc:
                timed_out = isinstance(exc, httpx.TimeoutException)
                self._record(method, "timeout" if timed_out else "connection_error", started)
                last = "timed out" if timed_out else f"connection failed: {type(exc).__name__}"
                unsent = isinstance(exc, httpx.ConnectError)
            else:
                fault = asmx_message(status, body)
                if status < 500 or fault is not None:
                    return self._answer(status, body, fault, method=method, label=label, started=started)
                self._record(method, "http_error", started)
                last, unsent = f"HTTP {status}", False
            if once and not unsent:
                raise DmsUnreachable(f"{last}; not retried: the DMS may have started it", agent=label,
                                     method=method)
            log.info("%s on %s: %s (attempt %d of %d)", method, label, last, attempt + 1, attempts)
        raise DmsUnreachable(f"no answer after {attempts} attempt(s), last: {last}", agent=label,
                             method=method)

    async def _exchange(self, url: str, payload: dict[str, Any]) -> tuple[int, object]:
        """Status and parsed JSON body (``ValueError`` text when it is no JSON), read through the caps."""
        # As httpx encodes json=: UTF-8, no NaN (the API's JSON has none), no spaces.
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
        status, encoding, raw = await self._poster.post(url, body)
        answer = inflate_capped(raw, encoding, limit=self.max_response_bytes)
        try:
            return status, parse_json(answer)
        except ValueError:
            return status, _NotJson(answer)

    def _record(self, method: str, outcome: str, started: float) -> None:
        self._stats.record(dms=self.stats_name, method=method, outcome=outcome,
                           seconds=time.perf_counter() - started)

    def _answer(self, status: int, body: object, fault: str | None, *, method: str, label: str,
                started: float) -> Any:
        """``_unwrap``, counted: a fault is the DMS's answer; otherwise a refusal is the status's fault
        (401, 404 ...) and anything else wrong with a 200 is the protocol's."""
        outcome = "fault" if fault is not None else "http_error" if status != 200 else "protocol_error"
        try:
            data = self._unwrap(status, body, fault, method=method, label=label)
        except BaseException:
            self._record(method, outcome, started)
            raise
        self._record(method, "ok", started)
        return data

    def _unwrap(self, status: int, body: object, fault: str | None, *, method: str, label: str) -> Any:
        if fault is not None:
            self._raise_fault(fault, method=method, label=label)
        if status in (401, 403):
            raise DmsAuthError(f"HTTP {status}: access refused for user {self.user!r}", agent=label,
                               method=method)
        if status != 200:
            raise DmsProtocolError(f"unexpected HTTP {status}", agent=label, method=method)
        if isinstance(body, _NotJson):
            raise DmsProtocolError(f"the answer is not JSON ({body.describe()})", agent=label, method=method)
        if not isinstance(body, dict) or "d" not in body:
            raise DmsProtocolError('the answer is not wrapped in {"d": ...}', agent=label, method=method)
        return body["d"]

    def _raise_fault(self, fault: str, *, method: str, label: str) -> None:
        text = self.shown(fault, limit=300)
        if SESSION_EXPIRED in fault.lower():
            raise SessionExpired(text)
        if method in CONNECT_METHODS and is_auth_refusal(fault):
            raise DmsAuthError(f"credentials refused for user {self.user!r}: {text}", agent=label,
                               method=method)
        if method in SCRIPT_METHODS:
            raise DmsScriptError(text, agent=label, method=method)
        raise DmsApiError(f"the DMS answered an error: {text}", agent=label, method=method)

    # ----------------------------------------------------------------- reading answers

    def shown(self, text: str, *, limit: int) -> str:
        """Text from the DMS as an error may carry it: every form of the password masked, one line, cut."""
        return dms_text(text, self._password, user=self.user, limit=limit)

    def model(self, model: type[M], data: Any, method: str, *, label: str) -> M:
        if data is None:
            raise DmsProtocolError('the answer is {"d": null}', agent=label, method=method)
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise DmsProtocolError(f"malformed answer: {first_error(exc)}", agent=label,
                                   method=method) from None

    def models(self, model: type[M], data: Any, method: str, *, label: str) -> list[M]:
        if not isinstance(data, list):
            got = "null" if data is None else type(data).__name__
            raise DmsProtocolError(f"expected a list, got {got}", agent=label, method=method)
        return [self.model(model, item, method, label=label) for item in data]


class _NotJson:
    """A body that did not parse; kept so a status-specific error can still be chosen first."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    def describe(self) -> str:
        if not self.raw.strip():
            return "empty body"
        if self.raw.lstrip()[:1] == b"<":
            return "HTML or XML"
        return f"{len(self.raw)} bytes"


def not_connected(label: str, method: str) -> DmsApiError:
    return DmsApiError("session expired again right after reconnecting", agent=label, method=method)

