"""The operations endpoints, ``GET /healthz`` and ``GET /metrics``, and where they are served.

Closed by default. The details (lease owners such as ``vm:<pid>``, DMS names and their errors, every metric)
are for operators, not for whoever reaches the app's public port (``PORT``, which Slack must reach). So:

* on the app's port an anonymous caller gets ``/healthz`` as one word, ``ok`` (200) or ``unavailable``
  (503), and no ``/metrics`` (404, or 401 when a token is configured);
* ``OPS_TOKEN`` set: ``Authorization: Bearer <OPS_TOKEN>`` gets the details on any listener;
* ``OPS_PORT`` set: a listener of its own on ``OPS_HOST`` (loopback by default) serves the details; to
  anyone who reaches it when no token is configured, else with the token only.

The health check's database write is one ``bot.health.DatabaseCheck`` per runtime, shared by both
listeners, so probes on both never add up to more writes. ``ops_listener`` is started by ``bot.app``'s
serve functions, HTTP and Socket Mode alike (Socket Mode has no other port).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Protocol

from aiohttp import web

from bot.health import DatabaseCheck, database_writable
from bot.metrics import CONTENT_TYPE as METRICS_TYPE
from bot.metrics import Source
from bot.metrics import render as metrics_text
from bot.settings import Settings
from bot.slack_check import SlackCheck, SlackReachability

log = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"
OK, DOWN = "ok", "unavailable"


class OpsSource(Source, Protocol):
    """What the endpoints read (``bot.app.Runtime``)."""

    settings: Settings
    slack_check: SlackCheck | None


class HttpServer:
    """A started aiohttp site; ``port`` is the bound port (useful with port 0)."""

    def __init__(self, runner: web.AppRunner) -> None:
        self._runner = runner

    @property
    def host(self) -> str:
        return str(self._runner.addresses[0][0])

    @property
    def port(self) -> int:
        return int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        await self._runner.cleanup()


class OpsEndpoints:
    """The two handlers for one runtime; ``trusted``: served on the operations listener."""

    def __init__(self, runtime: OpsSource) -> None:
        settings = runtime.settings
        self._runtime = runtime
        self._token = settings.ops_token.get_secret_value().encode() if settings.ops_token else None
        db = runtime.db
        self.database = DatabaseCheck(lambda: database_writable(db), every_s=settings.ops_db_check_seconds)

    def mount(self, app: web.Application, *, trusted: bool) -> None:
        app.router.add_get(HEALTH_PATH, partial(self.health, trusted=trusted))
        app.router.add_get(METRICS_PATH, partial(self.metrics, trusted=trusted))

    def may_see_details(self, request: web.Request, *, trusted: bool) -> bool:
        if self._token is None:
            return trusted
        scheme, _, given = request.headers.get("Authorization", "").strip().partition(" ")
        # Constant time: the comparison must not tell a caller how much of a guess was right.
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self._token)

    async def health(self, request: web.Request, *, trusted: bool) -> web.Response:
        ok = await self.database.ok()
        status = 200 if ok else 503
        if not self.may_see_details(request, trusted=trusted):
            return web.Response(status=status, text=OK if ok else DOWN)
        probe = self._runtime.dms_probe
        dms = {name: state.as_json() for name, state in (probe.status() if probe else {}).items()}
        # Reported beside the DMS's, never counted in ``ok``: a restart does not bring Slack back.
        check = self._runtime.slack_check
        slack = (check.status() if check else SlackReachability(None)).as_json()
        return web.json_response({"ok": ok, "db": OK if ok else DOWN, "dms": dms, "slack": slack},
                                 status=status)

    async def metrics(self, request: web.Request, *, trusted: bool) -> web.Response:
        if not self.may_see_details(request, trusted=trusted):
            if self._token is None:
                raise web.HTTPNotFound()
            return web.Response(status=401, text="unauthorized",
                                headers={"WWW-Authenticate": 'Bearer realm="dm-upgrade operations"'})
        return web.Response(text=await metrics_text(self._runtime), headers={"Content-Type": METRICS_TYPE})


_ENDPOINTS: weakref.WeakKeyDictionary[OpsSource, OpsEndpoints] = weakref.WeakKeyDictionary()


def endpoints(runtime: OpsSource) -> OpsEndpoints:
    """The runtime's endpoints, made once: both listeners share one database check."""
    found = _ENDPOINTS.get(runtime)
    if found is None:
        found = _ENDPOINTS[runtime] = OpsEndpoints(runtime)
    return found


def mount_public(app: web.Application, runtime: OpsSource) -> None:
    """``/healthz`` and ``/metrics`` on the app's public port: details only with the token."""
    endpoints(runtime).mount(app, trusted=False)


async def start_ops(runtime: OpsSource, *, host: str, port: int) -> HttpServer:
    app = web.Application()
    endpoints(runtime).mount(app, trusted=True)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    server = HttpServer(runner)
    if runtime.settings.ops_token is None and not _loopback(host):
        log.warning("OPS_HOST %s is not a loopback address and OPS_TOKEN is not set: anyone who reaches "
                    "port %s sees the health details and metrics", host, server.port)
    log.info("serving /healthz and /metrics on http://%s:%s", host, server.port)
    return server


@asynccontextmanager
async def ops_listener(runtime: OpsSource) -> AsyncIterator[HttpServer | None]:
    """The operations listener while the block runs; none (``None``) unless ``OPS_PORT`` is set."""
    settings = runtime.settings
    if settings.ops_port is None:
        yield None
        return
    server = await start_ops(runtime, host=settings.ops_host, port=settings.ops_port)
    try:
        yield server
    finally:
        await server.stop()


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
