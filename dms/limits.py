"""What the DMS client refuses to trust: answer sizes, agent counts, where the password may go, plain http.

A DMS (or whoever answers in its place) decides what comes back, so every answer is read through a cap, a
compressed answer is inflated through the same cap (a 1 MB gzip body can hold gigabytes), and the password is
sent only to DMS_URL's host and to agent addresses inside an allow-list.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import zlib
from collections.abc import Sequence

import httpx

log = logging.getLogger(__name__)

DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024  # the largest real answer (alarms of a big DMS) is a few MB
DEFAULT_MAX_AGENTS = 500  # DataMiner clusters are far smaller; 20,000 agents meant 60,000 logins
_CHUNK = 64 * 1024

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class UnreadableBody(Exception):
    """An answer the client will not read (too large, or in an encoding it did not ask for)."""


class ResponseTooLarge(UnreadableBody):
    pass


def too_large(limit: int) -> ResponseTooLarge:
    return ResponseTooLarge(f"the answer is larger than {limit} bytes (the client's limit)")


def inflate_capped(body: bytes, encoding: str, *, limit: int) -> bytes:
    """``body`` decoded per its Content-Encoding, never producing more than ``limit`` bytes."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        if len(body) > limit:
            raise too_large(limit)
        return body
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise UnreadableBody(f"the answer uses Content-Encoding {encoding[:32]!r}, which was not asked for")
    # wbits 47: gzip or zlib header, detected; "deflate" is sometimes sent raw (wbits -15).
    for wbits in (47, -15):
        inflater = zlib.decompressobj(wbits)
        out = bytearray()
        try:
            for start in range(0, len(body), _CHUNK):
                out += inflater.decompress(body[start:start + _CHUNK], limit + 1 - len(out))
                if len(out) > limit or inflater.unconsumed_tail:
                    raise too_large(limit)
            out += inflater.flush()
        except zlib.error:
            continue
        if len(out) > limit:
            raise too_large(limit)
        return bytes(out)
    raise UnreadableBody(f"the {encoding} answer cannot be decompressed")


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_plain_http(url: httpx.URL, *, allow_plain_http: bool) -> None:
    """ConnectApp sends the password in the body: over http it crosses the network readable by anyone."""
    if url.scheme != "http" or is_loopback(url.host):
        return
    if not allow_plain_http:
        raise ValueError(f"DMS URL uses plain http to {url.host}: the password would cross the network in "
                         "clear text; use https, or set DMS_ALLOW_PLAIN_HTTP=true to accept that")
    log.warning("DMS URL uses plain http to %s (DMS_ALLOW_PLAIN_HTTP): the password crosses the network "
                "in clear text", url.host)


class AgentAllowList:
    """Hosts and CIDR ranges that may receive the password; DMS_URL's own host always may.

    Default (no entries): the /24 around DMS_URL's address (a /64 for IPv6). A loopback DMS_URL (the
    simulator) allows the loopback range, where the simulated agents live.
    """

    def __init__(self, *, dms_host: str, entries: Sequence[str] = ()) -> None:
        self.dms_host = dms_host.strip("[]").lower()
        self.hosts: set[str] = {self.dms_host}
        self.networks: list[IpNetwork] = []
        for entry in entries:
            self._add(entry.strip())
        if not entries:
            self._add_default()

    def _add(self, entry: str) -> None:
        if not entry:
            return
        try:
            self.networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            self.hosts.add(entry.lower())

    def _add_default(self) -> None:
        address = _address_of(self.dms_host)
        if address is None:
            return
        if address.is_loopback:
            self.networks.append(ipaddress.ip_network("127.0.0.0/8" if address.version == 4 else "::1/128"))
            return
        prefix = 24 if address.version == 4 else 64
        self.networks.append(ipaddress.ip_network(f"{address}/{prefix}", strict=False))

    def allows(self, host: str) -> bool:
        host = host.strip("[]").lower()
        if host in self.hosts:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False  # a name outside the list: resolving it would already trust the DMS's answer
        return any(address in network for network in self.networks)

    def describe(self) -> str:
        return ", ".join([*sorted(self.hosts), *(str(n) for n in self.networks)])


def _address_of(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if host == "localhost":
        return ipaddress.ip_address("127.0.0.1")
    try:  # once, at client construction: the /24 default needs DMS_URL's address
        return ipaddress.ip_address(socket.gethostbyname(host))
    except (OSError, ValueError):
        log.warning("cannot resolve %s; agents are contacted only when DMS_AGENT_ALLOW lists them", host)
        return None
