"""What Slack would make of what the bot sent: the live mentions, links and formatting in a Web API call.

Slack parses the top-level ``text`` and every ``mrkdwn`` text object: ``<...>`` is a mention or a link,
``*x*``/``~x~``/``_x_`` format. ``plain_text`` objects are shown as typed. ``problems`` lists everything in
one call's parameters that did not come from the bot itself: a mention of anyone but the expected users, a
link outside the documentation, an injected formatting mark, or a control character anywhere.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

# What a test puts wherever a person or a DMS can put text.
INJECTIONS: tuple[str, ...] = (
    "<!channel>", "<!here>", "<!everyone>", "<!subteam^S1>", "<@U1>", "<https://evil.example|click>",
    "*bold*", "~x~", "_it_", "`code`", "RTL\u202egpj.exe", "NUL\x00byte",
)
INJECTION = " ".join(INJECTIONS)
DOCS = "https://docs.dataminer.services/"
_TOKEN = re.compile(r"<([^<>]*)>")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")
_FORMATTING = ("*bold*", "~x~", "_it_", "`code`")


def texts(value: Any, *, kind: str = "mrkdwn") -> Iterator[tuple[str, str]]:
    """(kind, text) of every text in a Block Kit structure; a bare string counts as ``kind``."""
    if isinstance(value, str):
        yield kind, value
    elif isinstance(value, list):
        for item in value:
            yield from texts(item, kind=kind)
    elif isinstance(value, dict):
        if value.get("type") in ("mrkdwn", "plain_text") and isinstance(value.get("text"), str):
            yield value["type"], value["text"]
            return
        for key, item in value.items():
            if key in ("text", "title", "label", "description", "hint", "placeholder", "confirm", "deny",
                       "blocks", "elements", "fields", "accessory", "element", "options", "initial_options"):
                # Inside blocks a bare string is a plain_text shorthand, except a section's text.
                yield from texts(item, kind="plain_text" if key != "text" else kind)


def call_texts(params: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Every text of a chat.postMessage / chat.update / chat.postEphemeral / views.open call."""
    if isinstance(params.get("text"), str):
        yield "mrkdwn", params["text"]
    for key in ("blocks", "view"):
        value = params.get(key)
        if isinstance(value, str):
            value = json.loads(value)
        if value is not None:
            yield from texts(value)


def problems(params: dict[str, Any], *, users: Iterable[str]) -> list[str]:
    allowed = {f"@{user}" for user in users}
    found: list[str] = []
    for kind, text in call_texts(params):
        if _CONTROL.search(text):
            found.append(f"control character in {kind}: {text!r}")
        if kind != "mrkdwn":
            continue
        for token in _TOKEN.findall(text):
            if token in allowed or (token.startswith(DOCS) and "|" in token):
                continue
            found.append(f"live <{token}> in {text!r}")
        found += [f"formatting {mark} in {text!r}" for mark in _FORMATTING if mark in text]
    return found
