"""The DMS password never leaves through text a DMS (or a proxy in front of it) sent back.

A DMS may echo the login request in an error. What comes back is then not the password as typed but the
request as the server saw it: JSON-escaped (``"`` and ``\\`` gain a backslash, non-ASCII may become
``\\u00e9``), URL-encoded, XML/HTML-escaped by an error page, or base64 in a Basic ``Authorization`` header.
Replacing the password only as typed misses every one of those, so ``scrub`` replaces each form it can take:

* as typed;
* JSON-escaped: both ``json.dumps`` forms (``ensure_ascii`` true and false), with ``/`` escaped or not, with
  ``<>&'`` as ``\\u003c``... (.NET's serializer does that) and upper-case hex, and escaped once more (a
  JSON document quoted inside another);
* URL-encoded: ``quote`` and ``quote_plus``, with ``/`` kept or encoded, hex in either case;
* XML/HTML-escaped: ``&amp; &lt; &gt;`` with the quotes as themselves, named or numeric entities;
* base64 (standard and URL-safe, padded or not) of ``user:password`` and of the password alone;
* and any of the text forms inside Python's ``repr`` or ``ascii`` of a longer text (an exception or a log
  argument quoting it with ``!r``).

``dms_text`` is what a DMS's own error field becomes before it is put into an exception: scrubbed, made one
line without control characters, and cut (after scrubbing, so a cut never leaves half a password).

``remember`` keeps the credentials of every client made in this process (a few, bounded) so that the last
line of defence, the log filter and the health report, can ``scrub_known`` text that never passed a client.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import threading
import unicodedata
from collections import OrderedDict
from urllib.parse import quote, quote_plus

from pydantic import SecretStr

MASK = "**********"
ELLIPSIS = "…"
# Credentials remembered for scrub_known: a process talks to a handful of DMSs, a rotated password adds one.
_REMEMBERED_MAX = 32

_UNICODE_ESCAPE = re.compile(r"\\u[0-9a-f]{4}")
_PERCENT = re.compile(r"%[0-9A-F]{2}")
_NET_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "'": "\\u0027"}
_SPACES = re.compile(r"\s+")
_UNSHOWN = frozenset({"Cc", "Cf", "Zl", "Zp"})  # control, format (bidi overrides), line and paragraph


def _json_forms(secret: str) -> set[str]:
    forms = {json.dumps(secret, ensure_ascii=ascii)[1:-1] for ascii in (True, False)}
    forms |= {form.replace("/", "\\/") for form in forms}
    forms |= {"".join(_NET_ESCAPES.get(char, char) for char in form) for form in list(forms)}
    forms |= {_UNICODE_ESCAPE.sub(lambda match: match.group().upper().replace("\\U", "\\u"), form)
              for form in forms}
    nested = {json.dumps(form, ensure_ascii=ascii)[1:-1] for form in forms for ascii in (True, False)}
    return forms | nested


def _url_forms(secret: str) -> set[str]:
    forms = {quote(secret, safe=""), quote(secret), quote_plus(secret, safe=""), quote_plus(secret)}
    return forms | {_PERCENT.sub(lambda match: match.group().lower(), form) for form in forms}


def _markup_forms(secret: str) -> set[str]:
    base = secret.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return {base.replace('"', double).replace("'", single)
            for double in ('"', "&quot;", "&#34;", "&#x22;")
            for single in ("'", "&#x27;", "&apos;", "&#39;")}


def _repr_forms(secret: str) -> set[str]:
    """Inside Python's ``repr``/``ascii`` of a longer text (an error that quotes it with ``!r``)."""
    forms = {"".join(char if char in "'\"" else show(char)[1:-1] for char in secret)
             for show in (repr, ascii)}
    return forms | {form.replace("'", "\\'") for form in forms}


def _base64_forms(secret: str, user: str) -> set[str]:
    forms = set()
    for raw in {secret.encode(), f"{user}:{secret}".encode()}:
        for encoded in (base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()):
            forms |= {encoded, encoded.rstrip("=")}
    return forms


@functools.lru_cache(maxsize=64)
def secret_forms(secret: str, *, user: str = "") -> tuple[str, ...]:
    """Every form ``secret`` can come back in, longest first (so a longer form is replaced whole)."""
    if not secret:
        return ()
    forms = {secret} | _json_forms(secret) | _url_forms(secret) | _markup_forms(secret)
    # An error quoting an echo with !r shows any of those forms inside a repr.
    forms |= {shown for form in forms for shown in _repr_forms(form)}
    forms |= _base64_forms(secret, user)
    return tuple(sorted((form for form in forms if form), key=lambda form: (-len(form), form)))


@functools.lru_cache(maxsize=64)
def _pattern(forms: tuple[str, ...]) -> re.Pattern[str] | None:
    if not forms:
        return None
    return re.compile("|".join(re.escape(form) for form in sorted(set(forms), key=len, reverse=True)))


def _value(secret: SecretStr | str) -> str:
    return secret.get_secret_value() if isinstance(secret, SecretStr) else secret


def scrub(text: str, secret: SecretStr | str, *, user: str = "") -> str:
    """``text`` with every form of ``secret`` (see the module) replaced by ``MASK``."""
    pattern = _pattern(secret_forms(_value(secret), user=user))
    return pattern.sub(MASK, text) if pattern is not None else text


def one_line(text: str) -> str:
    """Control and format characters (newlines, escapes, bidi overrides) become spaces; runs of spaces one."""
    cleaned = "".join(" " if unicodedata.category(char) in _UNSHOWN else char for char in text)
    return _SPACES.sub(" ", cleaned).strip()


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - len(ELLIPSIS))] + ELLIPSIS


def dms_text(text: str, secret: SecretStr | str, *, user: str = "", limit: int = 300) -> str:
    """A DMS's error field fit to show a person: scrubbed, one clean line, at most ``limit`` characters.
    Scrubbed again after cleaning: joining lines must not put a password back together."""
    cleaned = scrub(one_line(scrub(text, secret, user=user)), secret, user=user)
    return cut(cleaned, limit)


class _Remembered:
    """The credentials of the clients made in this process; read from any thread (the log filter)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._credentials: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._pattern: re.Pattern[str] | None = None

    def add(self, secret: str, user: str) -> None:
        key = (secret, user)
        with self._lock:
            if key in self._credentials:
                self._credentials.move_to_end(key)
                return
            self._credentials[key] = None
            while len(self._credentials) > _REMEMBERED_MAX:
                self._credentials.popitem(last=False)
            forms = tuple(form for value, name in self._credentials
                          for form in secret_forms(value, user=name))
            self._pattern = _pattern(forms)

    def scrub(self, text: str) -> str:
        pattern = self._pattern  # one read: a concurrent add swaps in a complete pattern
        return pattern.sub(MASK, text) if pattern is not None else text


_REMEMBERED = _Remembered()


def remember(secret: SecretStr | str, *, user: str = "") -> None:
    """Have ``scrub_known`` hide this password (in every form) from now on."""
    value = _value(secret)
    if value:
        _REMEMBERED.add(value, user)


def scrub_known(text: str) -> str:
    """``text`` with every form of every remembered password masked."""
    return _REMEMBERED.scrub(text)
