"""The simulated DMS over real HTTP (aiohttp): every agent on an address of its own, one port for all.

Agent i answers on 127.0.1.i (see ``agent_ip``) and the main address (``host``, default 127.0.0.1) answers as
agent 1, all on the same port, so a client that swaps DMS_URL's host for an agent's PrimaryIP reaches that
agent. With a wildcard host (0.0.0.0) one listener serves all, and the local address of each connection says
which agent was asked. An agent that is down (stopping, installing, failed, unreachable) answers 503.

Routes, on every address:

* ``POST /API/v1/Json.asmx/<Method>``: the API (``simulator.api``); answers ``{"d": ...}`` or an ASMX
  fault.
* ``GET /_sim/state``: agents, trigger and upload counters, active faults (``SimCluster.state``).
* ``POST /_sim/cube`` ``{"step": "upload"|"upgrade", "package": FILE}``: with ``play_cube``, do what the
  person in Cube would (``simulator.cube``), for the watch driver.
* ``POST /_sim/fault`` ``{"fault": NAME, ...options}`` injects, ``{"clear": true[, "fault": NAME]}`` or
  ``DELETE /_sim/fault[?fault=NAME]`` clears (``simulator.faults``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import socket
from typing import Any

from aiohttp import web

from simulator import cube
from simulator.api import METHODS_BY_LOWER
from simulator.clock import ScaledClock, SimClock
from simulator.cluster import SimCluster
from simulator.config import SimulatorConfig
from simulator.errors import AsmxFault, BadRequest
from simulator.faults import ActiveFault, FaultError

log = logging.getLogger(__name__)

CLUSTER_KEY = web.AppKey("cluster", SimCluster)
ROUTES_KEY = web.AppKey("routes", dict)
_WILDCARDS = ("0.0.0.0", "::", "")


class SimulatorError(RuntimeError):
    """The simulator could not start (e.g. the port is taken on one of the agent addresses)."""


def _local_ip(request: web.Request) -> str:
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    return str(sockname[0]) if sockname else ""


def _agent_for(request: web.Request) -> int:
    return int(request.app[ROUTES_KEY].get(_local_ip(request), 1))


def _asmx(fault: AsmxFault) -> web.Response:
    return web.json_response(fault.to_json(), status=500)


async def _api(request: web.Request) -> web.StreamResponse:
    cluster = request.app[CLUSTER_KEY]
    agent_id = _agent_for(request)
    delay_ms = cluster.config.latency_ms + cluster.extra_latency_ms(agent_id)
    if delay_ms:
        await asyncio.sleep(delay_ms / 1000.0)  # network latency is real time, not simulated
    if not cluster.answers(agent_id):
        return web.Response(status=503, text="Service Unavailable: DataMiner is not running on this agent.")
    if cluster.answers_html(agent_id):
        return web.Response(status=200, content_type="text/html",
                            text="<html><body><h1>Server Error in '/API' Application.</h1></body></html>")
    name = request.match_info["method"]
    method = METHODS_BY_LOWER.get(name.lower())
    try:
        if method is None:
            raise BadRequest(f"Unknown web method {name[:100]}.", exception_type="System.ArgumentException")
        raw = await request.text()
        try:
            params = json.loads(raw) if raw.strip() else {}
        except ValueError:
            raise BadRequest("Invalid JSON primitive in the request body.",
                             exception_type="System.ArgumentException") from None
        if not isinstance(params, dict):
            raise BadRequest("The request body must be a JSON object of the method's parameters.")
        result = await method(cluster, agent_id, params)
    except AsmxFault as fault:
        log.info("%s on agent %d answered a fault: %s", name[:100], agent_id, fault.message)
        return _asmx(fault)
    return web.json_response({"d": result})


async def _state(request: web.Request) -> web.StreamResponse:
    return web.json_response(request.app[CLUSTER_KEY].state())


async def _fault(request: web.Request) -> web.StreamResponse:
    cluster = request.app[CLUSTER_KEY]
    try:
        body = await request.json()
    except ValueError:
        return web.json_response({"error": "the body must be JSON"}, status=400)
    if not isinstance(body, dict):
        return web.json_response({"error": "the body must be a JSON object"}, status=400)
    if body.get("clear"):
        name = body.get("fault")
        cleared = cluster.clear(str(name) if name else None)
        return web.json_response({"cleared": [f.to_json() for f in cleared], "state": cluster.state()})
    options = {key: value for key, value in body.items() if key != "fault"}
    try:
        active = cluster.inject(body.get("fault"), **options)
    except FaultError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    return web.json_response({"injected": active.to_json(), "state": cluster.state()})


async def _clear(request: web.Request) -> web.StreamResponse:
    cluster = request.app[CLUSTER_KEY]
    cleared = cluster.clear(request.query.get("fault") or None)
    return web.json_response({"cleared": [f.to_json() for f in cleared], "state": cluster.state()})


def build_app(cluster: SimCluster, *, routes: dict[str, int]) -> web.Application:
    app = web.Application()
    app[CLUSTER_KEY] = cluster
    app[ROUTES_KEY] = routes
    app.router.add_post("/API/v1/Json.asmx/{method}", _api)
    app.router.add_get("/_sim/state", _state)
    app.router.add_post("/_sim/fault", _fault)
    app.router.add_delete("/_sim/fault", _clear)
    app.router.add_post("/_sim/cube", cube.handler(cluster))
    return app


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class SimulatedDms:
    """A running simulated DMS: ``url = await sim.start()`` ... ``await sim.stop()`` (or ``async with``)."""

    def __init__(self, config: SimulatorConfig | None = None, *, clock: SimClock | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.clock = clock or ScaledClock(speed=self.config.speed)
        self.cluster = SimCluster(self.config, clock=self.clock)
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._host = "127.0.0.1" if self.config.host == "localhost" else self.config.host

    def __repr__(self) -> str:  # never the password
        return f"SimulatedDms(agents={self.config.agents}, url={self._url_or_none()!r})"

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> str:
        if self._runner is not None:
            return self.url
        routes = {agent.ip: agent.id for agent in self.cluster.agents.values()}
        wildcard = self._host in _WILDCARDS
        if not wildcard:
            routes.setdefault(self._host, 1)
        sockets = self._listen(wildcard=wildcard)
        runner = web.AppRunner(build_app(self.cluster, routes=routes), access_log=None)
        await runner.setup()
        for sock in sockets:
            await web.SockSite(runner, sock).start()
        self._runner = runner
        self._port = sockets[0].getsockname()[1]
        log.info("simulated DMS with %d agents at %s", self.config.agents, self.url)
        return self.url

    async def stop(self) -> None:
        for task in list(self.cluster.background):
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SimulatedDms:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _listen(self, *, wildcard: bool) -> list[socket.socket]:
        hosts = [self._host]
        if not wildcard:
            hosts += [a.ip for a in self.cluster.agents.values() if a.ip != self._host]
        attempts = 10 if self.config.port == 0 else 1
        error: OSError | None = None
        for _ in range(attempts):
            bound: list[socket.socket] = []
            try:
                bound.append(_bind(hosts[0], self.config.port))
                port = bound[0].getsockname()[1]  # port 0: the first bind picks it, the others follow
                bound += [_bind(host, port) for host in hosts[1:]]
                return bound
            except OSError as exc:
                error = exc
                for sock in bound:
                    sock.close()
        raise SimulatorError(f"cannot listen on {hosts[0]}:{self.config.port} and the agent addresses "
                             f"{hosts[1] if len(hosts) > 1 else ''}...: {error}")

    # ------------------------------------------------------------------ addresses

    @property
    def url(self) -> str:
        url = self._url_or_none()
        if url is None:
            raise SimulatorError("the simulated DMS is not started")
        return url

    def _url_or_none(self) -> str | None:
        if self._port is None or self._runner is None:
            return None
        host = "127.0.0.1" if self._host in _WILDCARDS else self._host
        return f"http://{_bracket(host)}:{self._port}"

    def agent_url(self, agent_id: int) -> str:
        self.url  # noqa: B018 -- raises when not started
        return f"http://{_bracket(self.cluster.agent(agent_id).ip)}:{self._port}"

    # ------------------------------------------------------------------ control, in process

    def state(self) -> dict[str, Any]:
        return self.cluster.state()

    def inject(self, fault: str, **options: object) -> ActiveFault:
        """Inject a fault now (raises ``FaultError`` for an unknown fault or option)."""
        return self.cluster.inject(fault, **options)

    def clear(self, fault: str | None = None) -> list[ActiveFault]:
        return self.cluster.clear(fault)


def _bracket(host: str) -> str:
    try:
        return f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        return host
