"""Socket Mode for the fake Slack: ``apps.connections.open`` returns the URL of a real WebSocket endpoint,
which greets each connection with ``hello``, sends envelopes as Slack does (slash commands, interactivity)
and expects an ack carrying each envelope's id; it can also ask the client to reconnect (``disconnect``) or
drop the connection, as Slack does every few hours and on deploys.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from tests.support import slack_requests as sr
from tests.support.fake_slack_faults import FaultySlack

UNSIGNED = "socket-mode-requests-are-not-signed"


class SocketModeSlack(FaultySlack):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._ws_runner: web.AppRunner | None = None
        self.ws_url: str | None = None
        self._sockets: list[web.WebSocketResponse] = []
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._tickets = itertools.count(1)
        self.connections = 0  # WebSocket connections accepted so far

    async def start(self, *, host: str = "127.0.0.1", port: int = 0) -> str:
        base = await super().start(host=host, port=port)
        app = web.Application()
        app.router.add_get("/link/", self._link)
        self._ws_runner = web.AppRunner(app, access_log=None)
        await self._ws_runner.setup()
        await web.TCPSite(self._ws_runner, host, 0).start()
        self.ws_url = f"ws://{host}:{self._ws_runner.addresses[0][1]}/link/"
        return base

    async def stop(self) -> None:
        for socket in list(self._sockets):
            await socket.close()
        if self._ws_runner is not None:
            await self._ws_runner.cleanup()
            self._ws_runner = None
        await super().stop()

    def _connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": f"{self.ws_url}?ticket={next(self._tickets)}"}

    async def _link(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self.connections += 1
        self._sockets.append(socket)
        debug = {"host": "fake-socket-mode", "approximate_connection_time": 18060}
        await socket.send_json({"type": "hello", "num_connections": len(self._sockets), "debug_info": debug,
                                "connection_info": {"app_id": sr.API_APP_ID}})
        async for message in socket:
            if message.type == WSMsgType.TEXT:
                ack = json.loads(message.data)
                waiting = self._acks.pop(str(ack.get("envelope_id")), None)
                if waiting is not None and not waiting.done():
                    waiting.set_result(ack)
        if socket in self._sockets:
            self._sockets.remove(socket)
        return socket

    @property
    def connected(self) -> int:
        return sum(1 for s in self._sockets if not s.closed)

    async def send(self, kind: str, payload: dict[str, Any], *, timeout_s: float = 3.0) -> dict[str, Any]:
        """Send one envelope on the newest connection; the client's ack (Slack allows it 3 seconds)."""
        socket = next(s for s in reversed(self._sockets) if not s.closed)
        envelope_id = str(uuid.uuid4())
        answered: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[envelope_id] = answered
        await socket.send_json({"envelope_id": envelope_id, "type": kind, "payload": payload,
                                "accepts_response_payload": kind != "events_api", "retry_attempt": 0,
                                "retry_reason": ""})
        return await asyncio.wait_for(answered, timeout=timeout_s)

    async def slash(self, text: str, **kwargs: Any) -> dict[str, Any]:
        body, _ = sr.slash_command(text, signing_secret=UNSIGNED, **kwargs)
        return await self.send("slash_commands", dict(parse_qsl(body.decode())))

    async def click(self, **kwargs: Any) -> dict[str, Any]:
        body, _ = sr.block_actions(signing_secret=UNSIGNED, **kwargs)
        return await self.send("interactive", json.loads(dict(parse_qsl(body.decode()))["payload"]))

    async def ask_to_reconnect(self) -> None:
        """Slack's ``disconnect`` message (``refresh_requested``): the client opens a new connection."""
        socket = next(s for s in reversed(self._sockets) if not s.closed)
        await socket.send_json({"type": "disconnect", "reason": "refresh_requested",
                                "debug_info": {"host": "fake-socket-mode"}})

    async def drop(self) -> None:
        """Close every connection from the server's side without a word."""
        for socket in list(self._sockets):
            await socket.close()
