"""Data kept by the fake Slack server (``bot.console.fake_slack``) and the parsing of the requests it
receives.

Split from the server so each stays readable: here are the recorded calls, the message state, the events
subscribers see, ``ts`` allocation, Block Kit limit checks and request-parameter helpers.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from aiohttp import web

_JSON_FIELDS = ("blocks", "attachments", "view", "metadata")
_SECTION_TEXT_LIMIT = 3000
_SECTION_FIELDS_LIMIT = 10
_ACTIONS_ELEMENTS_LIMIT = 25


@dataclass(frozen=True)
class RecordedCall:
    """One HTTP request as the server saw it (token removed), in arrival order."""

    method: str
    params: dict[str, Any]
    at: float
    status: int
    ok: bool | None
    error: str | None


@dataclass
class FakeMessage:
    """The latest state of one message; ``edits`` counts the ``chat.update`` calls it received."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None
    reply_broadcast: bool
    user: str
    edits: int = 0
    deleted: bool = False
    ephemeral_to: str | None = None
    files: list[dict[str, Any]] = dataclasses.field(default_factory=list)  # files shared with the message

    def snapshot(self) -> FakeMessage:
        return dataclasses.replace(self, blocks=copy.deepcopy(self.blocks))

    def as_api(self, *, bot_id: str) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "user": self.user,
            "bot_id": bot_id,
            "text": self.text,
            "ts": self.ts,
        }
        if self.blocks:
            message["blocks"] = self.blocks
        if self.thread_ts is not None:
            message["thread_ts"] = self.thread_ts
        if self.edits:
            message["edited"] = {"user": self.user, "ts": self.ts}
        if self.files:
            message["files"] = self.files
        return message


@dataclass(frozen=True)
class FakeEvent:
    """What a subscriber sees: a message posted/updated/deleted, an ephemeral, a view opened/updated, or
    a Home tab published."""

    kind: Literal[
        "posted", "updated", "deleted", "ephemeral", "view_opened", "view_updated", "home_published"
    ]
    message: FakeMessage | None = None
    view: dict[str, Any] | None = None


Listener = Callable[[FakeEvent], Awaitable[None] | None]


class TsAllocator:
    """Slack-style ``ts`` values ("1700000000.000100"): unique and increasing, 100 microseconds apart."""

    def __init__(self, *, start_seconds: int = 1_700_000_000) -> None:
        self._micros = start_seconds * 1_000_000

    def next(self) -> str:
        self._micros += 100
        return f"{self._micros // 1_000_000}.{self._micros % 1_000_000:06d}"


class BlockKitLimitError(ValueError):
    pass


def check_blocks(blocks: list[Any], *, limit: int) -> None:
    # Slack refuses these with invalid_blocks; checking them here catches builders that overflow.
    if len(blocks) > limit:
        raise BlockKitLimitError(f"{len(blocks)} blocks > {limit}")
    for block in blocks:
        text = (block.get("text") or {}).get("text", "") if isinstance(block.get("text"), dict) else ""
        if block.get("type") == "section" and len(text) > _SECTION_TEXT_LIMIT:
            raise BlockKitLimitError("section text too long")
        if len(block.get("fields") or []) > _SECTION_FIELDS_LIMIT:
            raise BlockKitLimitError("too many fields")
        if len(block.get("elements") or []) > _ACTIONS_ELEMENTS_LIMIT:
            raise BlockKitLimitError("too many elements")


class SlackMethodError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def failure_answer(
    status: int, retry_after: int | None, error: str | None
) -> tuple[int, dict[str, str], dict[str, Any] | None]:
    if status == 429:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        return 429, headers, {"ok": False, "error": "ratelimited"}
    if status >= 500:
        return status, {}, None
    return status, {}, {"ok": False, "error": error or "fatal_error"}


async def read_params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    raw = await request.read()
    if raw:
        if request.content_type == "application/json":
            loaded = json.loads(raw)
            if isinstance(loaded, dict):
                params.update(loaded)
        else:
            params.update(await request.post())
    # Form and query bodies carry blocks/views as JSON strings; JSON bodies carry them as objects.
    for name in _JSON_FIELDS:
        value = params.get(name)
        if isinstance(value, str) and value:
            with contextlib.suppress(json.JSONDecodeError):
                params[name] = json.loads(value)
    return params


def bearer(header: str | None) -> str:
    if header and header.startswith("Bearer "):
        return header.removeprefix("Bearer ").strip()
    return ""


def require(params: dict[str, Any], name: str, error: str) -> str:
    value = opt_str(params.get(name))
    if not value:
        raise SlackMethodError(error)
    return value


def opt_str(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


def truthy(value: object) -> bool:
    return value is True or str(value).lower() in ("true", "1")


def parse_blocks(params: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = params.get("blocks") or []
    if not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks):
        raise SlackMethodError("invalid_blocks_format")
    try:
        check_blocks(blocks, limit=50)
    except BlockKitLimitError as err:
        raise SlackMethodError("invalid_blocks") from err
    return blocks


def parse_content(params: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    text = str(params.get("text") or "")
    blocks = parse_blocks(params)
    if not text and not blocks and not params.get("attachments"):
        raise SlackMethodError("no_text")
    return text, blocks


class FaultSource(Protocol):
    """Decides, call by call, whether the fake answers with a failure instead (``None``: answer normally)."""

    def take(self, method: str) -> tuple[int, dict[str, str], dict[str, Any] | None] | None: ...
