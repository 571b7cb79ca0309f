"""How the Web Services API v1 looks on the wire: its URLs, TLS, and how its faults read.

Kept apart from ``dms.client`` so the client holds only the calling logic (sessions, retries, fan-out).
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
import ssl

import certifi
import httpx
from pydantic import ValidationError

API_PATH = "/API/v1/Json.asmx"
SESSION_EXPIRED = "no connection available"
# Words a DMS uses when it refuses a login; real agents phrase it in several ways.
_HOSTNAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9_][A-Za-z0-9_-]{0,62}(?:\.[A-Za-z0-9_-]{1,63})*", re.ASCII)
_AUTH_WORDS = ("password", "credential", "login", "logon", "unauthori", "authenticat", "access denied")


@functools.lru_cache(maxsize=8)
def ssl_context(verify: bool | str) -> ssl.SSLContext:
    """True: certifi's CA bundle (as httpx does); a path: that CA bundle; False: no verification.

    One context per setting for the whole process: loading a CA bundle costs about 40 ms of CPU on the
    event loop, and every pre-check, execution and probe opens a client of its own, so 50 DMSs whose
    pre-checks start together stalled the loop for 2 s. A context is only read once made, so sharing it
    is safe; a CA bundle replaced on disk is read again at the next start."""
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if isinstance(verify, str):
        try:
            return ssl.create_default_context(cafile=verify)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"cannot use the CA bundle {verify!r}: {exc}") from None
    return ssl.create_default_context(cafile=certifi.where())


def check_dms_url(url: str) -> None:
    """Refuse what cannot be a DMS address up front, rather than as a puzzling transport error later.
    The URL is not echoed: it may carry ``user:password@``."""
    try:
        parsed = httpx.URL(url.strip())
    except httpx.InvalidURL:
        raise ValueError("DMS URL is not a valid URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError("DMS URL must be http(s)://<host>[:port], e.g. https://dma01.example.com")


def api_base(url: str) -> str:
    """``http://host:port`` or a URL already ending in ``Json.asmx`` -> the API's base URL."""
    base = url.strip().rstrip("/")
    if not base.lower().endswith("json.asmx"):
        base += API_PATH
    return base


@functools.lru_cache(maxsize=4096)  # per request to an agent: ipaddress's parse was 2% of a fleet's CPU
def agent_host(ip: str) -> str:
    """PrimaryIP as a URL host. The DMS supplies it and we send the password there, so an answer such as
    ``x@attacker.example/`` must not steer the connect request elsewhere: only an IP or a host name passes."""
    try:
        address = ipaddress.ip_address(ip.strip("[]"))
    except ValueError:
        if not _HOSTNAME.fullmatch(ip):
            raise ValueError(f"PrimaryIP {ip[:64]!r} is not an IP address or host name") from None
        return ip
    return f"[{address}]" if address.version == 6 else str(address)


def agent_base_url(*, dms_url: str, template: str, ip: str) -> str:
    """Where the agent with PrimaryIP ``ip`` answers: the template, or DMS_URL with the host replaced."""
    host = agent_host(ip)
    if template:
        return api_base(template.replace("{ip}", host))
    parsed = httpx.URL(dms_url.strip())
    port = f":{parsed.port}" if parsed.port is not None else ""
    path = parsed.path.rstrip("/")
    return api_base(f"{parsed.scheme}://{host}{port}{path}")


def is_auth_refusal(message: str) -> bool:
    lowered = message.lower()
    return any(word in lowered for word in _AUTH_WORDS)


def asmx_message(status: int, body: object) -> str | None:
    """The ``Message`` of an ASMX fault (HTTP 4xx/5xx with a JSON body), else ``None``. Only this field is
    ever shown (through ``dms.secrets.dms_text``): ``StackTrace`` and the rest of the body may quote the
    request, password included."""
    if status < 400:
        return None
    if isinstance(body, dict) and isinstance(body.get("Message"), str):
        return str(body["Message"])
    return None


def parse_json(raw: bytes) -> object:
    """The JSON in ``raw``; ``ValueError`` for anything else (HTML, empty, not UTF-8, absurdly nested)."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error.get("loc", ()))
    return f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg", "invalid"))
