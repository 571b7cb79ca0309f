"""One console session: the real bot (``bot.app.Runtime``) talking to an in-process fake Slack.

The console is the chat backend beside the Slack one (docs/architecture.md): it lives in ``bot/console/`` and
receives the composed bot from the composition root ``bot/console/runner.py`` through ``make_runtime``.

Outbound, the bot's Web API client points at ``bot.console.fake_slack.FakeSlack`` on loopback. Inbound, the
console builds each slash command, click and form submission exactly as Slack sends it (form-encoded,
``payload=`` JSON, signed with a signing secret generated for this session) and dispatches it to the same
Bolt app the Slack modes serve, so every listener, the signature check included, runs as in production.
Replies sent to ``response_url`` land on a small loopback endpoint of the session. """

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

from aiohttp import web
from pydantic import SecretStr
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.signature import SignatureVerifier

from bot.console.fake_slack import FakeEvent, FakeSlack
from bot.console.render import Transcript
from bot.settings import Settings
from handlers.blocks.render import Element
from handlers.listeners.commands import UNEXPECTED
from handlers.listeners.middleware import ListenerWork
from workflow.engine import UpgradeEngine
from workflow.model.clock import utc_now

TEAM = {"id": "T0FAKE", "domain": "console"}
APP_ID = "A0DMUPGRADE"
CHANNEL_ID = "C0UPGRADES"
CHANNEL_NAME = "upgrades"
DEFAULT_USERS = {"alice": "U0ALICE", "bob": "U0BOB", "carol": "U0CAROL"}
# A job due this soon counts as part of the current line's work (``window now`` makes jobs due at once).
JOB_HORIZON_S = 3.0
QUIET_S = 0.15  # no Slack traffic for this long (after the engine settled) = the line's work is done
POLL_S = 0.02
FILES_DIR = "dm-upgrade-files"

# The listeners answer a click or a form only to refuse or report a failure, so any reply to one is an
# error; a slash command's reply is one when it carries the usage (bad input) or the unexpected-failure text.
def looks_like_error(text: str, *, kind: str) -> bool:
    if kind == "action":
        return True
    return "Usage:" in text or UNEXPECTED in text


ErrorTest = Callable[..., bool]


class ConsoleError(Exception):
    """A console line that cannot be done (unknown element, no form open ...); the message says why."""


def quoted(text: str, *, limit: int = 40) -> str:
    """``text`` quoted for an error, cut short so that a pasted 5000-character line stays one line."""
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


@dataclass(frozen=True)
class Reply:
    """An answer only the acting user sees: an ack body, a ``response_url`` post, or an ephemeral."""

    text: str
    blocks: list[dict[str, Any]]
    to: str | None


class ConsoleRuntime(Protocol):
    """What the console needs of the composed bot (``bot.app.Runtime``, built by the composition root)."""

    settings: Settings

    @property
    def app(self) -> AsyncApp: ...

    @property
    def engine(self) -> UpgradeEngine: ...

    @property
    def listener_work(self) -> ListenerWork: ...

    async def start(self) -> Any: ...

    async def stop(self) -> None: ...

    async def settle(self, timeout_s: float = ...) -> None: ...


# Builds the runtime from the session's settings, its clock and the Slack pacing interval.
RuntimeFactory = Callable[[Settings, Callable[[], datetime], float], ConsoleRuntime]


class ConsoleSession:
    """Start with ``await session.start()``; every inbound method returns once Bolt acknowledged."""

    def __init__(
        self,
        settings: Settings,
        *,
        make_runtime: RuntimeFactory,
        pacer_interval_s: float = 1.0,
        is_error: ErrorTest = looks_like_error,
        files_dir: Path | None = None,
    ) -> None:
        # Files the bot shares (the timeline picture) are written here; it outlives the session. By default
        # the working directory, beside the session's database (so plan #N's picture is that plan's), never
        # a fixed folder shared by every user and test run of the machine.
        self.files_dir = files_dir or Path.cwd() / FILES_DIR
        self._base_settings = settings
        self._make_runtime = make_runtime
        self._pacer_interval_s = pacer_interval_s
        self._is_error = is_error
        self.users: dict[str, str] = dict(DEFAULT_USERS)
        self.user = "alice"
        self.signing_secret = secrets.token_hex(16)
        self.fake = FakeSlack()
        self.transcript = Transcript(user_names={v: k for k, v in self.users.items()},
                                     channel_names={CHANNEL_ID: CHANNEL_NAME})
        self._runtime: ConsoleRuntime | None = None
        self._queue: asyncio.Queue[FakeEvent] | None = None
        self._replies: list[Reply] = []
        self._responses: web.AppRunner | None = None
        self._response_base = ""
        self.errors: list[str] = []  # error replies seen since the last take_errors()
        self.kind = "command"  # what the current line sent: "command" or "action" (clicks, forms)

    @property
    def runtime(self) -> ConsoleRuntime:
        if self._runtime is None:
            raise RuntimeError("ConsoleSession.start() was not called")
        return self._runtime

    # ----- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        base_url = await self.fake.start()
        self._queue = self.fake.subscribe()
        for name, user_id in self.users.items():
            self.fake.set_user_name(user_id, name)
        await self._start_responses()
        # Slack credentials of this session only: the fake accepts any bot token, Bolt checks the signature.
        settings = self._base_settings.model_copy(update={
            "slack_api_url": base_url,
            "slack_bot_token": SecretStr("xoxb-console-" + secrets.token_hex(8)),
            "slack_signing_secret": SecretStr(self.signing_secret),
            "slack_app_token": None,
        })
        self._runtime = self._make_runtime(settings, utc_now, self._pacer_interval_s)
        try:
            await self._runtime.start()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        if self._runtime is not None:
            await self._runtime.stop()
        if self._responses is not None:
            await self._responses.cleanup()
        await self.fake.stop()

    async def _start_responses(self) -> None:
        async def respond(request: web.Request) -> web.Response:
            data = await request.json()
            if isinstance(data, dict) and not data.get("delete_original"):
                self._add_reply(str(data.get("text") or ""), data.get("blocks") or [], to=self.user_id)
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_post("/respond/{n}", respond)
        self._responses = web.AppRunner(app, access_log=None)
        await self._responses.setup()
        await web.TCPSite(self._responses, "127.0.0.1", 0).start()
        self._response_base = f"http://127.0.0.1:{self._responses.addresses[0][1]}/respond/"

    # ----- users -------------------------------------------------------------------------------------

    @property
    def user_id(self) -> str:
        return self.users[self.user]

    def switch_user(self, name: str) -> None:
        name = name.strip().lower().lstrip("@")
        if not name.isalnum() or len(name) > 20:
            raise ConsoleError(f"{quoted(name)} is not a user name (letters and digits)")
        if name not in self.users:
            self.users[name] = "U0" + name.upper()
            self.fake.set_user_name(self.users[name], name)
            self.transcript.user_names = {v: k for k, v in self.users.items()}
        self.user = name

    # ----- inbound requests --------------------------------------------------------------------------

    async def slash(self, text: str, *, command: str = "/dm-upgrade") -> None:
        fields = {
            "token": "unused-verification-token", "team_id": TEAM["id"], "team_domain": TEAM["domain"],
            "channel_id": CHANNEL_ID, "channel_name": CHANNEL_NAME, "user_id": self.user_id,
            "user_name": self.user, "command": command, "text": text, "api_app_id": APP_ID,
            "is_enterprise_install": "false", "response_url": self._response_url(),
            "trigger_id": _trigger_id(),
        }
        self.kind = "command"
        await self._dispatch(urlencode(fields))

    async def act(self, element: Element, *, label: str) -> None:
        """Click a button or toggle one checkbox of the message labelled ``label``."""
        state = self.transcript.by_label(label)
        # An ephemeral answer is no message Slack keeps: its clicks carry no ``message``, as in Slack.
        message = None if state.ephemeral else self.fake.message(state.channel, state.ts)
        action: dict[str, Any] = {"action_id": element.action_id, "block_id": element.block_id,
                                  "action_ts": f"{time.time():.6f}"}
        if element.kind == "checkbox" and message is not None:
            rendered = self.transcript.render(message.blocks, message.text)
            group = rendered.checkbox_group(rendered.element(element.number))
            selected = [e.raw for e in group if (e.checked != (e.number == element.number))]
            action.update(type="checkboxes", selected_options=selected)
        else:
            action.update(type="button", value=element.value, text=element.raw.get("text"))
        container: dict[str, Any] = {"type": "message", "message_ts": state.ts, "channel_id": state.channel,
                                     "is_ephemeral": state.ephemeral}
        if state.thread_ts:
            container["thread_ts"] = state.thread_ts
        self.kind = "action"
        payload = self._payload("block_actions")
        payload.update(
            container=container, channel={"id": state.channel, "name": CHANNEL_NAME}, state={"values": {}},
            response_url=self._response_url(), actions=[action],
            **({"message": message.as_api(bot_id=self.fake.bot_id)} if message is not None else {}),
        )
        await self._dispatch(urlencode({"payload": json.dumps(payload)}))

    async def submit_view(self, values: dict[str, dict[str, dict[str, Any]]]) -> BoltResponse:
        view = self.transcript.view
        if view is None:
            raise ConsoleError("no form is open")
        self.kind = "action"
        payload = self._payload("view_submission")
        payload["view"] = {**view, "state": {"values": values}}
        payload["response_urls"] = []
        response = await self._dispatch(urlencode({"payload": json.dumps(payload)}))
        body = _json(response.body)
        if body.get("response_action") == "errors":
            problems = "; ".join(f"{k}: {v}" for k, v in (body.get("errors") or {}).items())
            self.errors.append(problems)
            raise ConsoleError(f"the form was refused: {self.transcript.names(problems)}")
        self.transcript.view = None
        return response

    def close_view(self) -> None:
        if self.transcript.view is None:
            raise ConsoleError("no form is open")
        self.transcript.view = None

    def _payload(self, kind: str) -> dict[str, Any]:
        return {
            "type": kind, "team": TEAM, "api_app_id": APP_ID, "token": "unused-verification-token",
            "user": {"id": self.user_id, "username": self.user, "name": self.user, "team_id": TEAM["id"]},
            "trigger_id": _trigger_id(), "is_enterprise_install": False, "enterprise": None,
        }

    def _response_url(self) -> str:
        return self._response_base + secrets.token_hex(4)

    async def _dispatch(self, body: str) -> BoltResponse:
        """Sign ``body`` as Slack does and hand it to the Bolt app; returns its answer (the ack)."""
        timestamp = str(int(time.time()))
        signature = SignatureVerifier(self.signing_secret).generate_signature(timestamp=timestamp, body=body)
        headers: dict[str, str | Sequence[str]] = {
            "content-type": "application/x-www-form-urlencoded",
            "x-slack-request-timestamp": timestamp,
            "x-slack-signature": signature or "",
        }
        # The listener goes on after its ack (process_before_response=False), inside the listener tracker
        # (``handlers.listeners.middleware.ListenerWork``) that ``settle`` waits on.
        response = await self.runtime.app.async_dispatch(AsyncBoltRequest(body=body, headers=headers))
        if response.status != 200:
            self.errors.append(f"HTTP {response.status}")
            raise ConsoleError(f"the bot answered HTTP {response.status} ({response.body or 'no body'})")
        data = _json(response.body)
        if data.get("text") or data.get("blocks"):
            self._add_reply(str(data.get("text") or ""), data.get("blocks") or [], to=self.user_id)
        elif response.body and not data and response.body.strip():
            self._add_reply(response.body, [], to=self.user_id)
        return response

    def _add_reply(self, text: str, blocks: list[dict[str, Any]], *, to: str | None) -> None:
        self._replies.append(Reply(text=text, blocks=list(blocks), to=to))
        self._note_error(text, blocks)

    def _note_error(self, text: str, blocks: list[dict[str, Any]]) -> None:
        rendered = self.transcript.render(blocks, text).text
        if self._is_error(rendered, kind=self.kind) or self._is_error(text, kind=self.kind):
            self.errors.append(rendered)

    # ----- waiting and output ------------------------------------------------------------------------

    async def settle(self, *, timeout_s: float) -> None:
        """Wait until the last line's work is done: listeners, engine tasks, due jobs, Slack calls."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise ConsoleError(f"the bot was still busy after {timeout_s:g}s")
            listeners = self.runtime.listener_work
            if listeners.running:
                with contextlib.suppress(TimeoutError):
                    await listeners.idle(timeout_s=remaining)
                continue
            try:
                await self.runtime.settle(timeout_s=remaining)
            except TimeoutError:
                raise ConsoleError(f"the bot was still busy after {timeout_s:g}s") from None
            if self._jobs_busy():
                await asyncio.sleep(POLL_S)
                continue
            calls = len(self.fake.calls)
            await asyncio.sleep(QUIET_S)
            quiet = len(self.fake.calls) == calls and not self.runtime.listener_work.running
            if quiet and not self._jobs_busy():
                return

    def _jobs_busy(self) -> bool:
        """A scheduled job (pre-check, approval request ...) is due (about) now or running."""
        scheduler = self.runtime.engine.scheduler
        soon = time.time() + JOB_HORIZON_S
        if any(when is not None and when.timestamp() <= soon for when in scheduler.jobs().values()):
            return True
        return scheduler.jobs_in_progress > 0

    def drain(self) -> list[str]:
        """Lines for everything that happened since the last call: direct replies first, then events."""
        lines: list[str] = []
        for reply in self._replies:
            lines.extend(self.transcript.ephemeral_lines(reply.text, reply.blocks, to=reply.to))
        self._replies.clear()
        assert self._queue is not None
        while not self._queue.empty():
            event = self._queue.get_nowait()
            if event.kind == "ephemeral" and event.message is not None:
                self._note_error(event.message.text, event.message.blocks)
            lines.extend(self.transcript.lines_for(event))
            if event.message is not None and event.kind == "posted":
                lines.extend(self._save_files(event.message.files))
        return lines

    def _save_files(self, shared: list[dict[str, Any]]) -> list[str]:
        """Write each shared file to ``files_dir``; a line with its path, as the person's way to open it."""
        lines = []
        for item in shared:
            found = self.fake.extras.files.get(str(item.get("id")))
            if found is None or found.content is None:
                continue
            self.files_dir.mkdir(parents=True, exist_ok=True)
            path = self.files_dir / f"{found.id}-{Path(found.filename).name}"
            path.write_bytes(found.content)
            lines.append(f"  [file] {found.title or found.filename}: {path}")
        return lines

    def take_errors(self) -> list[str]:
        errors, self.errors = self.errors, []
        return errors


def _json(body: str | None) -> dict[str, Any]:
    if not body:
        return {}
    with contextlib.suppress(ValueError):
        data = json.loads(body)
        if isinstance(data, dict):
            return data
    return {}


_triggers = iter(range(1, 1 << 62))


def _trigger_id() -> str:
    n = next(_triggers)
    return f"{n}.{int(time.time())}.console{n:06x}"
