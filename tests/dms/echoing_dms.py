"""A DMS (or a proxy in front of one) that echoes the login request back in its errors, over real HTTP.

Every request to the Web Services API is answered with an error that quotes the request body as received
and the password it carried in every encoding a server or proxy might use on the way back: JSON-escaped
(both ``json.dumps`` forms), URL-encoded, XML/HTML-escaped, base64 of ``user:password`` (a Basic
``Authorization`` header) and of the password alone. ``mode`` chooses the error's shape, both documented by
the Web Services v1: an ASMX fault (HTTP 500, ``{"Message", "ExceptionType", "StackTrace"}``) or a refused
``ConnectAppAndInfo`` (``{"d": {"Connection": "", "MessageType": ..., "Message": ...}}``).

A ``ThreadingHTTPServer`` in a thread of its own: usable from async tests and from the CLI's own
``asyncio.run`` alike. The encodings are computed here, independently of the bot's scrubber.
"""

from __future__ import annotations

import base64
import html
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal
from urllib.parse import quote, quote_plus
from xml.sax.saxutils import escape as xml_escape

Mode = Literal["fault", "connect_info"]

# Each password starts with a marker no encoding changes: seeing it anywhere means part of it leaked.
MARKER = "Zq7Kx"
PASSWORDS = (
    f'{MARKER}quote"back\\slash',
    f"{MARKER}&<amp>'\"&amp;",
    f"{MARKER}pässwörd-€-日本-\u2603",
    f"{MARKER}100%+pure/#?=%41%",
    f'{MARKER} "\\u0041\\n\t&lt;<>%é€+/=:',
)


def encodings(password: str, *, user: str) -> dict[str, str]:
    """Every form the password can come back in, by name."""
    forms = {
        "as typed": password,
        "json (ensure_ascii)": json.dumps(password)[1:-1],
        "json (unicode)": json.dumps(password, ensure_ascii=False)[1:-1],
        "url (quote)": quote(password, safe=""),
        "url (quote, default safe)": quote(password),
        "url (quote_plus)": quote_plus(password),
        "xml": xml_escape(password),
        "html": html.escape(password),
        "base64 user:password": base64.b64encode(f"{user}:{password}".encode()).decode(),
        "base64 password": base64.b64encode(password.encode()).decode(),
    }
    return forms


def leaks(text: str, password: str, *, user: str) -> list[str]:
    """The names of the encodings found in ``text`` (and "marker" for any part of the password)."""
    found = [name for name, form in encodings(password, user=user).items() if form in text]
    return found + (["marker"] if MARKER in text else [])


class EchoingDms:
    """``start()`` returns the DMS URL; every API call fails with an error echoing the request."""

    def __init__(self, *, mode: Mode = "fault") -> None:
        self.mode = mode
        self.requests: list[str] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> str:
        echo = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8", "replace")
                echo.requests.append(raw)
                status, body = echo.answer(raw)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def answer(self, raw: str) -> tuple[int, object]:
        try:
            sent = json.loads(raw)
        except ValueError:
            sent = {}
        password = str(sent.get("password", ""))
        user = str(sent.get("login", ""))
        forms = " | ".join(encodings(password, user=user).values()) if password else ""
        message = f"Login failed\r\nfor the request {raw}\n\tforms: {forms}\x00\x1b[31m end"
        if self.mode == "connect_info" and password:
            return 200, {"d": {"Connection": "", "MessageType": "Error", "Message": message}}
        return 500, {"Message": message, "ExceptionType": "System.Exception",
                     "StackTrace": f"   at Login({raw})"}
