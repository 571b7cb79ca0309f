"""Inbound Slack requests built and signed exactly as Slack sends them.

Slash commands are form-encoded; block actions and view submissions are ``payload=<json>`` form bodies.
Each builder returns ``(body, headers)`` to post to the app's ``/slack/events``, e.g. with httpx:
``await client.post(url, content=body, headers=headers)``.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any
from urllib.parse import urlencode

FORM = "application/x-www-form-urlencoded"
TEAM_ID = "T0FAKE"
TEAM_DOMAIN = "fake-workspace"
API_APP_ID = "A0DMUPGRADE"
VERIFICATION_TOKEN = "legacy-verification-token"  # deprecated by Slack but still sent in every body

Request = tuple[bytes, dict[str, str]]


def signature(body: bytes, *, signing_secret: str, timestamp: int) -> str:
    """``v0=`` + HMAC-SHA256(secret, ``v0:{timestamp}:{body}``), as in Slack's docs."""
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    body: bytes,
    *,
    signing_secret: str,
    timestamp: int | None = None,
    retry_num: int | None = None,
    retry_reason: str | None = None,
    content_type: str = FORM,
) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": signature(body, signing_secret=signing_secret, timestamp=ts),
        "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
    }
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = retry_reason or "http_timeout"
    return headers


def slash_command(
    text: str,
    *,
    signing_secret: str,
    command: str = "/dm-upgrade",
    user_id: str = "U0ALICE",
    user_name: str = "alice",
    channel_id: str = "C0UPGRADES",
    channel_name: str = "upgrades",
    trigger_id: str | None = None,
    response_url: str = "https://hooks.slack.com/commands/T0FAKE/1/fake",
    timestamp: int | None = None,
    retry_num: int | None = None,
    retry_reason: str | None = None,
) -> Request:
    fields = {
        "token": VERIFICATION_TOKEN,
        "team_id": TEAM_ID,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": API_APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id or _trigger_id(),
    }
    body = urlencode(fields).encode()
    headers = signed_headers(
        body,
        signing_secret=signing_secret,
        timestamp=timestamp,
        retry_num=retry_num,
        retry_reason=retry_reason,
    )
    return body, headers


def block_actions(
    *,
    signing_secret: str,
    action_id: str,
    block_id: str,
    value: str | None = None,
    action_type: str = "button",
    selected_options: list[dict[str, Any]] | None = None,
    message_ts: str,
    message: dict[str, Any] | None = None,
    thread_ts: str | None = None,
    user_id: str = "U0ALICE",
    user_name: str = "alice",
    channel_id: str = "C0UPGRADES",
    channel_name: str = "upgrades",
    timestamp: int | None = None,
    retry_num: int | None = None,
) -> Request:
    """A click on a button (``value``) or a change of checkboxes (``selected_options``) in a message."""
    action: dict[str, Any] = {
        "action_id": action_id,
        "block_id": block_id,
        "type": action_type,
        "action_ts": f"{time.time():.6f}",
    }
    if action_type == "checkboxes":
        action["selected_options"] = selected_options or []
    else:
        action["value"] = value
    msg = dict(message or {"type": "message", "text": "", "blocks": []})
    msg.setdefault("ts", message_ts)
    if thread_ts is not None:
        msg.setdefault("thread_ts", thread_ts)
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": TEAM_ID},
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
            **({"thread_ts": thread_ts} if thread_ts else {}),
        },
        "trigger_id": _trigger_id(),
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": channel_name},
        "message": msg,
        "state": {"values": {}},
        "response_url": f"https://hooks.slack.com/actions/{TEAM_ID}/1/fake",
        "actions": [action],
    }
    return _payload_request(payload, signing_secret=signing_secret, timestamp=timestamp, retry_num=retry_num)


def view_submission(
    *,
    signing_secret: str,
    callback_id: str,
    values: dict[str, dict[str, dict[str, Any]]],
    private_metadata: str = "",
    user_id: str = "U0ALICE",
    user_name: str = "alice",
    view_id: str = "V00000001",
    timestamp: int | None = None,
) -> Request:
    """A modal submitted; ``values`` is ``state.values``: block_id -> action_id -> element state.

    Element states look like ``{"type": "datepicker", "selected_date": "2026-12-01"}``,
    ``{"type": "timepicker", "selected_time": "22:00"}``, ``{"type": "plain_text_input", "value": "4h"}``.
    """
    payload: dict[str, Any] = {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": TEAM_ID},
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": _trigger_id(),
        "view": {
            "id": view_id,
            "team_id": TEAM_ID,
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": private_metadata,
            "blocks": [],
            "state": {"values": values},
            "hash": f"{view_id}.hash",
            "title": {"type": "plain_text", "text": "dm-upgrade"},
            "app_id": API_APP_ID,
            "bot_id": "BBOT",
        },
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return _payload_request(payload, signing_secret=signing_secret, timestamp=timestamp, retry_num=None)


def _payload_request(
    payload: dict[str, Any], *, signing_secret: str, timestamp: int | None, retry_num: int | None
) -> Request:
    body = urlencode({"payload": json.dumps(payload, separators=(",", ":"))}).encode()
    return body, signed_headers(body, signing_secret=signing_secret, timestamp=timestamp, retry_num=retry_num)


_trigger_numbers = itertools.count(1)


def _trigger_id() -> str:
    # Unique per request, shaped like Slack's ("<n>.<epoch>.<hex>"), so modal opens can be told apart.
    n = next(_trigger_numbers)
    return f"{n}.{int(time.time())}.fake{n:08x}"


_event_numbers = itertools.count(1)


def app_home_opened(
    *, signing_secret: str, user_id: str = "U0ALICE", tab: str = "home", timestamp: int | None = None
) -> Request:
    """The Events API's ``app_home_opened`` as Slack posts it: a JSON ``event_callback`` body."""
    n = next(_event_numbers)
    now = int(time.time())
    body = json.dumps({
        "token": VERIFICATION_TOKEN,
        "team_id": TEAM_ID,
        "api_app_id": API_APP_ID,
        "event": {"type": "app_home_opened", "user": user_id, "channel": f"D0{user_id[2:]}", "tab": tab,
                  "event_ts": f"{now}.{n:06d}"},
        "type": "event_callback",
        "event_id": f"Ev{n:010d}",
        "event_time": now,
        "authorizations": [{"team_id": TEAM_ID, "user_id": "UBOT", "is_bot": True}],
    }, separators=(",", ":")).encode()
    return body, signed_headers(body, signing_secret=signing_secret, timestamp=timestamp,
                                content_type="application/json")


def home_button(
    *, signing_secret: str, action_id: str, value: str, user_id: str, view_id: str = "VHOME"
) -> Request:
    """A click on a button of the App Home tab (a ``view`` container, no channel)."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": TEAM_ID},
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": {"type": "view", "view_id": view_id},
        "trigger_id": _trigger_id(),
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "view": {"id": view_id, "type": "home", "blocks": [], "state": {"values": {}}},
        "actions": [{"action_id": action_id, "block_id": "home", "type": "button", "value": value,
                     "action_ts": f"{time.time():.6f}"}],
    }
    return _payload_request(payload, signing_secret=signing_secret, timestamp=None, retry_num=None)
