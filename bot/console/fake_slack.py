"""A fake Slack Web API server: real HTTP on loopback, for tests and for the console.

No maintained Slack emulator exists, so the bot's Web API client is pointed (``base_url``) at this small
aiohttp app instead. It answers the methods the bot uses with realistic shapes (unique, increasing ``ts``
values, the ``message`` object), keeps the latest version of every message so a test or the console can read
it, records every call in order, and misbehaves on demand (429 with ``Retry-After``, 5xx, Slack error codes)
so retries are tested against real HTTP rather than mocks.

slack_sdk sends ``chat.*`` and ``views.*`` as JSON bodies, ``auth.test``/``chat.delete`` as query parameters
and ``users.info``/``usergroups.users.list`` as GET query parameters; all of them (and form-encoded bodies, as
other clients send) are accepted and merged.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from bot.console.fake_slack_files import FakeFilesAndHome
from bot.console.fake_slack_state import (
    BlockKitLimitError,
    FakeEvent,
    FakeMessage,
    FaultSource,
    Listener,
    RecordedCall,
    SlackMethodError,
    TsAllocator,
    bearer,
    check_blocks,
    opt_str,
    parse_blocks,
    parse_content,
    read_params,
    require,
    truthy,
)

__all__ = ["FakeEvent", "FakeMessage", "FakeSlack", "RecordedCall"]

Handler = Callable[[dict[str, Any]], dict[str, Any]]


class FakeSlack:
    """The fake server. ``base_url = await fake.start()``; point ``AsyncWebClient(base_url=...)`` at it."""

    def __init__(
        self,
        *,
        token: str | None = None,
        team_id: str = "T0FAKE",
        team: str = "Fake Workspace",
        bot_user_id: str = "UBOT",
        bot_id: str = "BBOT",
        unknown_methods_ok: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # token=None accepts any bot token (xoxb-...); a given token must match exactly.
        self._token = token
        self.team_id = team_id
        self.team = team
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self._unknown_ok = unknown_methods_ok
        self._clock = clock
        self.calls: list[RecordedCall] = []
        self.messages: dict[tuple[str, str], FakeMessage] = {}
        self.ephemerals: list[FakeMessage] = []
        self.views: dict[str, dict[str, Any]] = {}
        self._group_members: dict[str, list[str]] = {}
        self._groups_need_paid_plan = False
        self._user_names: dict[str, str] = {}
        # Misbehaviour on demand (tests): any object whose take(method) gives a failure answer or None.
        self.faults: FaultSource | None = None
        self._ts = TsAllocator()
        self._view_ids = itertools.count(1)
        self._listeners: list[Listener] = []
        self._queues: list[asyncio.Queue[FakeEvent]] = []
        self._runner: web.AppRunner | None = None
        self.base_url: str | None = None
        self._handlers: dict[str, Handler] = {
            "auth.test": self._auth_test,
            "apps.connections.open": self._connections_open,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.delete": self._delete,
            "views.open": self._views_open,
            "views.update": self._views_update,
            "usergroups.users.list": self._group_users,
            "users.info": self._users_info,
        }
        # Files upload v2, views.publish and chat.getPermalink (``fake_slack_files``).
        self.extras = FakeFilesAndHome(ts=self._ts, messages=self.messages, bot_user_id=bot_user_id,
                                       base_url=lambda: self.base_url)
        self._handlers.update(self.extras.handlers())

    # ----- lifecycle -------------------------------------------------------------------------------------

    async def start(self, *, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on loopback (a free port by default); return the base URL, ending with ``/api/``."""
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._dispatch)
        self.extras.add_routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound_port = self._runner.addresses[0][1]
        self.base_url = f"http://{host}:{bound_port}/api/"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSlack:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ----- configuration ---------------------------------------------------------------------------------

    def set_group_members(self, group_id: str, users: list[str]) -> None:
        self._group_members[group_id] = list(users)

    def set_groups_require_paid_plan(self, required: bool = True) -> None:
        """Make ``usergroups.users.list`` answer ``plan_upgrade_required``, as on Slack's free plan."""
        self._groups_need_paid_plan = required

    def set_user_name(self, user_id: str, name: str) -> None:
        self._user_names[user_id] = name

    # ----- observation -----------------------------------------------------------------------------------

    def calls_for(self, method: str) -> list[RecordedCall]:
        return [call for call in self.calls if call.method == method]

    def message(self, channel: str, ts: str) -> FakeMessage:
        return self.messages[(channel, ts)]

    def channel_messages(self, channel: str) -> list[FakeMessage]:
        """Top-level messages (and broadcast replies) of a channel, oldest first."""
        found = [
            m
            for m in self.messages.values()
            if m.channel == channel and not m.deleted and (m.thread_ts is None or m.reply_broadcast)
        ]
        return sorted(found, key=lambda m: float(m.ts))

    def thread(self, channel: str, thread_ts: str) -> list[FakeMessage]:
        """Replies in a thread, oldest first (the parent is not included)."""
        found = [
            m
            for m in self.messages.values()
            if m.channel == channel and m.thread_ts == thread_ts and not m.deleted
        ]
        return sorted(found, key=lambda m: float(m.ts))

    def subscribe(self) -> asyncio.Queue[FakeEvent]:
        """A queue that receives every message/view event from now on."""
        queue: asyncio.Queue[FakeEvent] = asyncio.Queue()
        self._queues.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[FakeEvent]) -> None:
        with contextlib.suppress(ValueError):
            self._queues.remove(queue)

    def on_event(self, listener: Listener) -> None:
        """Call ``listener`` (sync or async) for every message/view event, before the HTTP answer goes out."""
        self._listeners.append(listener)

    # ----- HTTP ------------------------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await read_params(request)
        token = bearer(request.headers.get("Authorization")) or str(params.pop("token", "") or "")
        params.pop("token", None)
        events: list[FakeEvent] = []
        status, headers, body = self._answer(method, params, token, events)
        self.calls.append(RecordedCall(
            method=method, params=params, at=self._clock(), status=status,
            ok=bool(body.get("ok")) if body is not None else None,
            error=body.get("error") if body is not None else None,
        ))
        for event in events:
            await self._publish(event)
        if body is None:
            return web.Response(status=status, headers=headers, text="Internal Server Error")
        return web.json_response(body, status=status, headers=headers)

    def _answer(
        self, method: str, params: dict[str, Any], token: str, events: list[FakeEvent]
    ) -> tuple[int, dict[str, str], dict[str, Any] | None]:
        if not self._token_ok(method, token):
            return 200, {}, {"ok": False, "error": "invalid_auth" if token else "not_authed"}
        failure = self.faults.take(method) if self.faults is not None else None
        if failure is not None:
            return failure
        handler = self._handlers.get(method)
        if handler is None:
            return 200, {}, {"ok": True} if self._unknown_ok else {"ok": False, "error": "unknown_method"}
        try:
            body = handler(params)
        except SlackMethodError as err:
            return 200, {}, {"ok": False, "error": err.code}
        events.extend(body.pop("_events", []))
        return 200, {}, body

    def _token_ok(self, method: str, token: str) -> bool:
        if method == "apps.connections.open":
            return token.startswith("xapp-")
        if self._token is not None:
            return token == self._token
        return token.startswith("xoxb-")

    async def _publish(self, event: FakeEvent) -> None:
        for queue in self._queues:
            queue.put_nowait(event)
        for listener in self._listeners:
            result = listener(event)
            if inspect.isawaitable(result):
                await result

    # ----- methods ---------------------------------------------------------------------------------------

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://fake.slack.com/",
            "team": self.team,
            "user": "dm-upgrade",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        # No WebSocket behind it: Socket Mode is out of scope for the fake; the answer only looks right.
        return {"ok": True, "url": "wss://fake.slack.invalid/link/?ticket=fake"}

    def _post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = require(params, "channel", "channel_not_found")
        text, blocks = parse_content(params)
        thread_ts = opt_str(params.get("thread_ts"))
        if thread_ts is not None and (channel, thread_ts) not in self.messages:
            raise SlackMethodError("thread_not_found")
        message = FakeMessage(
            channel=channel,
            ts=self._ts.next(),
            text=text,
            blocks=blocks,
            thread_ts=thread_ts,
            reply_broadcast=truthy(params.get("reply_broadcast")),
            user=self.bot_user_id,
        )
        self.messages[(channel, message.ts)] = message
        return {
            "ok": True,
            "channel": channel,
            "ts": message.ts,
            "message": message.as_api(bot_id=self.bot_id),
            "_events": [FakeEvent(kind="posted", message=message.snapshot())],
        }

    def _update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = require(params, "channel", "channel_not_found")
        ts = require(params, "ts", "message_not_found")
        message = self.messages.get((channel, ts))
        if message is None or message.deleted:
            raise SlackMethodError("message_not_found")
        if "text" not in params and "blocks" not in params:
            raise SlackMethodError("no_text")
        if "text" in params:
            message.text = str(params["text"] or "")
        # As on Slack: an update that carries no blocks removes the blocks the message had.
        message.blocks = parse_blocks(params)
        message.edits += 1
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "text": message.text,
            "message": message.as_api(bot_id=self.bot_id),
            "_events": [FakeEvent(kind="updated", message=message.snapshot())],
        }

    def _post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = require(params, "channel", "channel_not_found")
        user = require(params, "user", "user_not_in_channel")
        text, blocks = parse_content(params)
        message = FakeMessage(
            channel=channel,
            ts=self._ts.next(),
            text=text,
            blocks=blocks,
            thread_ts=opt_str(params.get("thread_ts")),
            reply_broadcast=False,
            user=self.bot_user_id,
            ephemeral_to=user,
        )
        self.ephemerals.append(message)
        return {
            "ok": True,
            "message_ts": message.ts,
            "_events": [FakeEvent(kind="ephemeral", message=message.snapshot())],
        }

    def _delete(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = require(params, "channel", "channel_not_found")
        ts = require(params, "ts", "message_not_found")
        message = self.messages.get((channel, ts))
        if message is None or message.deleted:
            raise SlackMethodError("message_not_found")
        message.deleted = True
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "_events": [FakeEvent(kind="deleted", message=message.snapshot())],
        }

    def _views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("trigger_id"):
            raise SlackMethodError("invalid_trigger_id")
        view = self._view_from(params)
        view_id = f"V{next(self._view_ids):08d}"
        view.update(id=view_id, team_id=self.team_id, hash=f"{view_id}.{self._ts.next()}")
        self.views[view_id] = view
        return {"ok": True, "view": view, "_events": [FakeEvent(kind="view_opened", view=dict(view))]}

    def _views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        view_id = opt_str(params.get("view_id"))
        external_id = opt_str(params.get("external_id"))
        current = None
        if view_id is not None:
            current = self.views.get(view_id)
        elif external_id is not None:
            current = next((v for v in self.views.values() if v.get("external_id") == external_id), None)
        if current is None:
            raise SlackMethodError("not_found")
        if params.get("hash") and params["hash"] != current["hash"]:
            raise SlackMethodError("hash_conflict")
        view = self._view_from(params)
        view.update(id=current["id"], team_id=self.team_id, hash=f"{current['id']}.{self._ts.next()}")
        self.views[current["id"]] = view
        return {"ok": True, "view": view, "_events": [FakeEvent(kind="view_updated", view=dict(view))]}

    def _view_from(self, params: dict[str, Any]) -> dict[str, Any]:
        view = params.get("view")
        if not isinstance(view, dict) or view.get("type") not in ("modal", "home"):
            raise SlackMethodError("invalid_arguments")
        try:
            check_blocks(view.get("blocks") or [], limit=100)
        except BlockKitLimitError as err:
            raise SlackMethodError("invalid_blocks") from err
        return dict(view)

    def _group_users(self, params: dict[str, Any]) -> dict[str, Any]:
        if self._groups_need_paid_plan:
            raise SlackMethodError("plan_upgrade_required")
        group = require(params, "usergroup", "no_such_subteam")
        if group not in self._group_members:
            raise SlackMethodError("no_such_subteam")
        return {"ok": True, "users": list(self._group_members[group])}

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user_id = require(params, "user", "user_not_found")
        if user_id not in self._user_names:
            raise SlackMethodError("user_not_found")
        name = self._user_names[user_id]
        return {
            "ok": True,
            "user": {
                "id": user_id,
                "team_id": self.team_id,
                "name": name,
                "real_name": name,
                "deleted": False,
                "is_bot": False,
                "profile": {"display_name": name, "real_name": name},
            },
        }


