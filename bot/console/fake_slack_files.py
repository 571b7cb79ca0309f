"""Files upload v2 and the App Home for the fake Slack (``bot.console.fake_slack``).

Upload v2 as Slack does it: ``files.getUploadURLExternal`` gives an upload URL and a file id, the bytes are
POSTed to that URL, and ``files.completeUploadExternal`` shares the file in a channel (or a thread) as a
message carrying ``files``. ``views.publish`` keeps each user's Home tab; ``chat.getPermalink`` answers
the permalink of a message the fake holds.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.console.fake_slack_state import (
    FakeEvent,
    FakeMessage,
    SlackMethodError,
    TsAllocator,
    check_blocks,
    opt_str,
    require,
)

UPLOAD_PATH = "/upload/{file_id}"
PERMALINK_BASE = "https://fake.slack.com/archives/"


@dataclass
class FakeFile:
    id: str
    filename: str
    length: int
    title: str = ""
    content: bytes | None = None
    shared_in: tuple[str, str | None] | None = None  # (channel, thread_ts) once completed

    def as_api(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.filename, "title": self.title or self.filename,
                "size": len(self.content or b""), "mimetype": _mimetype(self.filename)}


def _mimetype(filename: str) -> str:
    return "image/png" if filename.lower().endswith(".png") else "application/octet-stream"


class FakeFilesAndHome:
    """State and Web API methods of uploads, the Home tab and permalinks; the server routes calls here."""

    def __init__(self, *, ts: TsAllocator, messages: dict[tuple[str, str], FakeMessage], bot_user_id: str,
                 base_url: Callable[[], str | None]) -> None:
        self._ts = ts
        self._messages = messages
        self._bot_user_id = bot_user_id
        self._base_url = base_url
        self._ids = itertools.count(1)
        self.files: dict[str, FakeFile] = {}
        self.home_views: dict[str, dict[str, Any]] = {}  # user id -> the Home tab published for them

    def handlers(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        return {
            "files.getUploadURLExternal": self._get_upload_url,
            "files.completeUploadExternal": self._complete_upload,
            "views.publish": self._views_publish,
            "chat.getPermalink": self._permalink,
        }

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(UPLOAD_PATH, self._upload)

    def shared_files(self) -> list[FakeFile]:
        return [f for f in self.files.values() if f.shared_in is not None]

    # ----- files upload v2 -------------------------------------------------------------------------------

    def _get_upload_url(self, params: dict[str, Any]) -> dict[str, Any]:
        filename = require(params, "filename", "invalid_arguments")
        try:
            length = int(params.get("length") or 0)
        except (TypeError, ValueError):
            raise SlackMethodError("invalid_arguments") from None
        if length <= 0:
            raise SlackMethodError("invalid_arguments")
        file_id = f"F{next(self._ids):08d}"
        self.files[file_id] = FakeFile(id=file_id, filename=filename, length=length)
        base = (self._base_url() or "").removesuffix("/api/")
        return {"ok": True, "upload_url": f"{base}/upload/{file_id}", "file_id": file_id}

    async def _upload(self, request: web.Request) -> web.Response:
        found = self.files.get(request.match_info["file_id"])
        if found is None:
            return web.Response(status=404, text="no such upload")
        found.content = await request.read()
        return web.Response(text=f"OK - {len(found.content)}")

    def _complete_upload(self, params: dict[str, Any]) -> dict[str, Any]:
        raw = params.get("files")
        items = json.loads(raw) if isinstance(raw, str) else raw
        if not isinstance(items, list) or not items:
            raise SlackMethodError("invalid_arguments")
        shared: list[FakeFile] = []
        for item in items:
            found = self.files.get(str(item.get("id")))
            if found is None or found.content is None or len(found.content) != found.length:
                raise SlackMethodError("file_not_found" if found is None else "file_upload_incomplete")
            found.title = str(item.get("title") or found.filename)
            shared.append(found)
        channel = opt_str(params.get("channel_id"))
        thread_ts = opt_str(params.get("thread_ts"))
        events: list[FakeEvent] = []
        if channel is not None:
            if thread_ts is not None and (channel, thread_ts) not in self._messages:
                raise SlackMethodError("thread_not_found")
            message = FakeMessage(channel=channel, ts=self._ts.next(),
                                  text=str(params.get("initial_comment") or ""), blocks=[],
                                  thread_ts=thread_ts, reply_broadcast=False, user=self._bot_user_id,
                                  files=[f.as_api() for f in shared])
            self._messages[(channel, message.ts)] = message
            for found in shared:
                found.shared_in = (channel, thread_ts)
            events.append(FakeEvent(kind="posted", message=message.snapshot()))
        return {"ok": True, "files": [f.as_api() for f in shared], "_events": events}

    # ----- App Home and permalinks -----------------------------------------------------------------------

    def _views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        user = require(params, "user_id", "user_not_found")
        view = params.get("view")
        if not isinstance(view, dict) or view.get("type") != "home":
            raise SlackMethodError("invalid_arguments")
        check_blocks(view.get("blocks") or [], limit=100)
        published = {**view, "id": f"VHOME{user}"}
        self.home_views[user] = published
        return {"ok": True, "view": published, "_events": [FakeEvent(kind="home_published", view=published)]}

    def _permalink(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = require(params, "channel", "channel_not_found")
        ts = require(params, "message_ts", "message_not_found")
        if (channel, ts) not in self._messages:
            raise SlackMethodError("message_not_found")
        link = f"{PERMALINK_BASE}{channel}/p{ts.replace('.', '')}"
        return {"ok": True, "channel": channel, "permalink": link}
