"""One rule for every piece of text the bot posts that came from a person or a DMS.

Slack reads ``<...>`` in mrkdwn as a mention (``<!channel>``, ``<@U1>``, ``<!subteam^S1>``) or a link
(``<https://evil|click>``), and ``*``, ``~``, ``_``, `````` ` `````` as formatting, so a cancel reason or an
agent name could ping the whole channel, hide a link behind friendly words, or make its text look like the
bot's own. Everything not written by the bot therefore goes through one of these before it is interpolated:

- ``mrkdwn(text)``: for mrkdwn text objects and the notification ``text``: control characters removed, one
  line, capped, formatting marks replaced by look-alikes that do not format, then ``&``, ``<``, ``>``
  escaped as Slack asks (so ``<!channel>`` shows literally and notifies nobody);
- ``plain(text)``: for ``plain_text`` objects (headers, checkbox labels), which Slack never parses: control
  characters removed, capped;
- ``user(user_id)``: ``<@U…>`` only for something shaped like a Slack user id, else the text, escaped;
- ``escape(text)``: only ``&``, ``<``, ``>``, for the bot's own sentences that quote what was typed;
- ``slack_id(value)``: a user or channel id from a payload, only if it is shaped like one (it becomes an
  audit actor, a mention and an ephemeral recipient).

Control characters are removed rather than escaped: NUL breaks PostgreSQL and many terminals, and the bidi
controls (U+202E RIGHT-TO-LEFT OVERRIDE, ...) make ``gpj.exe`` read as ``exe.jpg``.
"""

from __future__ import annotations

import re
import unicodedata

from workflow.model.text import CONTROLS

# Pieces of text in a message: names and versions are short, reasons and details longer. Block Kit's own
# limits (3000 a section) are kept by the builders; these keep one field from crowding out the rest.
NAME_LIMIT = 200
TEXT_LIMIT = 1500

# The control characters: one rule for what is stored and what is posted.
_CONTROLS = CONTROLS
_SPACES = re.compile(r"[ \t\r\n]+")
# Formatting marks -> look-alikes that Slack does not read as formatting. An underscore inside a word
# (``Core_Router``) formats nothing and stays; one at a word's edge could open or close italics.
_MARKS = str.maketrans({"*": "\u2217", "~": "\u223c", "`": "\u02cb"})
_EDGE_UNDERSCORE = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,20}$")


def clean(text: object, *, limit: int = TEXT_LIMIT, one_line: bool = True) -> str:
    """``text`` without control characters, on one line (unless ``one_line=False``), at most ``limit``
    characters (the last one an ellipsis when cut)."""
    value = unicodedata.normalize("NFC", "" if text is None else str(text))
    value = _CONTROLS.sub("", value)
    if one_line:
        value = _SPACES.sub(" ", value).strip()
    else:
        value = "\n".join(_SPACES.sub(" ", line).strip() for line in value.splitlines())
    return value if len(value) <= limit else value[: max(0, limit - 1)] + "…"


def strip_controls(text: str) -> str:
    """Only the control characters removed; spacing and lines kept (the bot's own replies)."""
    return _CONTROLS.sub("", text)


def escape(text: str) -> str:
    """Slack's three escapes: what is left can no longer mention or link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def literal(text: str) -> str:
    """The bot's own mrkdwn (help, usage, its catalog's warnings, instructions): its formatting is meant,
    but it must not mention or link, and controls go (a reply may quote what was typed)."""
    return escape(strip_controls(text))


def mrkdwn(text: object, *, limit: int = TEXT_LIMIT, one_line: bool = True) -> str:
    """Text from a person or a DMS, safe to put into mrkdwn: it can't mention, link or format."""
    value = clean(text, limit=limit, one_line=one_line).translate(_MARKS)
    return escape(_EDGE_UNDERSCORE.sub("\u02cd", value))


def plain(text: object, *, limit: int = TEXT_LIMIT) -> str:
    """Text for a ``plain_text`` object (Slack shows it as typed, but controls still do harm)."""
    return clean(text, limit=limit)


def name(text: object) -> str:
    """A name or version (DMS, agent, element, package) for mrkdwn."""
    return mrkdwn(text, limit=NAME_LIMIT)


def slack_id(value: object, *, kinds: str = "UW") -> str | None:
    """``value`` if it is shaped like a Slack id of one of ``kinds`` (``U``/``W`` users, ``C``/``G``/``D``
    conversations), else None: such ids become audit actors and mentions, so nothing else is taken."""
    text = value if isinstance(value, str) else ""
    return text if re.fullmatch(r"[A-Z0-9]{3,32}", text) and text[0] in kinds else None


def user(user_id: object) -> str:
    """A mention of a Slack user id (as Slack sent it to us); anything else is shown, escaped, as text."""
    value = "" if user_id is None else str(user_id)
    return f"<@{value}>" if _USER_ID.match(value) else mrkdwn(value, limit=NAME_LIMIT)
