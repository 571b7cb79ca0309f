"""Socket Mode for the fake Slack: ``apps.connections.open`` returns the URL of a real WebSocket endpoint,
which greets each connection with ``hello``, sends envelopes as Slack does (slash commands, interactivity:
button clicks, checkboxes, modal submissions) and expects an ack carrying each envelope's id, timing each
(``ack_seconds``); it can also ask the client to reconnect (``disconnect``) or drop the connection, as Slack
does every few hours and on deploys, or lose an ack: the connection breaks as the ack is on its way, so the
bot acted on the envelope but Slack never heard (the person sees "didn't respond" and clicks again).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
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
        self._lost: set[str] = set()  # envelopes whose ack breaks the connection instead of arriving
        self._tickets = itertools.count(1)
        self.connections = 0  # WebSocket connections accepted so far
        # Per acked envelope, in order: what it was (type, command text or action) and the seconds to its ack.
        self.ack_seconds: list[tuple[str, float]] = []

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
                envelope_id = str(ack.get("envelope_id"))
                waiting = self._acks.pop(envelope_id, None)
                if envelope_id in self._lost:
                    self._lost.discard(envelope_id)
                    if waiting is not None and not waiting.done():
                        waiting.set_exception(ConnectionResetError(f"the ack of {envelope_id} was lost"))
                    await socket.close()
                    break
                if waiting is not None and not waiting.done():
                    waiting.set_result(ack)
        if socket in self._sockets:
            self._sockets.remove(socket)
        return socket

    @property
    def connected(self) -> int:
        return sum(1 for s in self._sockets if not s.closed)

    async def send(self, kind: str, payload: dict[str, Any], *, timeout_s: float = 3.0, lose_ack: bool = False
                   ) -> dict[str, Any]:
        """Send one envelope on the newest connection; the client's ack (Slack allows it 3 seconds). With
        ``lose_ack`` the connection breaks when the ack comes: ``ConnectionResetError``."""
        socket = next(s for s in reversed(self._sockets) if not s.closed)
        envelope_id = str(uuid.uuid4())
        answered: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[envelope_id] = answered
        if lose_ack:
            self._lost.add(envelope_id)
        sent = time.monotonic()
        await socket.send_json({"envelope_id": envelope_id, "type": kind, "payload": payload,
                                "accepts_response_payload": kind != "events_api", "retry_attempt": 0,
                                "retry_reason": ""})
        try:
            ack = await asyncio.wait_for(answered, timeout=timeout_s)
        finally:
            self._acks.pop(envelope_id, None)
            self._lost.discard(envelope_id)
        self.ack_seconds.append((_what(kind, payload), time.monotonic() - sent))
        return ack

    async def slash(self, text: str, *, lose_ack: bool = False, **kwargs: Any) -> dict[str, Any]:
        body, _ = sr.slash_command(text, signing_secret=UNSIGNED, **kwargs)
        return await self.send("slash_commands", dict(parse_qsl(body.decode())), lose_ack=lose_ack)

    async def click(self, *, lose_ack: bool = False, **kwargs: Any) -> dict[str, Any]:
        body, _ = sr.block_actions(signing_secret=UNSIGNED, **kwargs)
        return await self.send("interactive", json.loads(dict(parse_qsl(body.decode()))["payload"]),
                               lose_ack=lose_ack)

    async def submit(self, *, lose_ack: bool = False, **kwargs: Any) -> dict[str, Any]:
        """A modal submitted (``view_submission``, an ``interactive`` envelope as for clicks); the ack may
        carry the response payload (``response_action``: errors, update, clear) the modal then shows."""
        body, _ = sr.view_submission(signing_secret=UNSIGNED, **kwargs)
        return await self.send("interactive", json.loads(dict(parse_qsl(body.decode()))["payload"]),
                               lose_ack=lose_ack)

    async def ask_to_reconnect(self) -> None:
        """Slack's ``disconnect`` message (``refresh_requested``): the client opens a new connection."""
        socket = next(s for s in reversed(self._sockets) if not s.closed)
        await socket.send_json({"type": "disconnect", "reason": "refresh_requested",
                                "debug_info": {"host": "fake-socket-mode"}})

    async def drop(self) -> None:
        """Close every connection from the server's side without a word."""
        for socket in list(self._sockets):
            await socket.close()


def _what(kind: str, payload: dict[str, Any]) -> str:
    if kind == "slash_commands":
        return f"{payload.get('command')} {payload.get('text')}"
    actions = payload.get("actions") or [{}]
    return " ".join(filter(None, (payload.get("type"), actions[0].get("action_id"))))
