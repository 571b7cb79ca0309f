"""The DMS client's HTTP: a JSON POST straight through aiohttp, and the same through httpx for tests.

Reading 100 agents means 100 requests in flight at once. httpcore (httpx's default transport) spends about
2-3 ms of CPU per request there; aiohttp's C-accelerated client does the same work for a fraction of that.
Every request of the client is one shape (a POST of a small JSON object, the answer read whole), so it goes
to aiohttp directly (``AiohttpPoster``): httpx's request and response models, its header and URL layers and
its redirect and auth machinery around an aiohttp transport were measured at a third of the client's CPU per
request, for nothing this one shape needs. Tests inject an ``httpx`` transport (``httpx.MockTransport``),
which ``HttpxPoster`` serves. Both raise httpx's exception types, so the retry logic sees one vocabulary,
and both hand back the raw body and its Content-Encoding, which ``dms.limits`` inflates through its cap.

What the client promises holds on both: no redirect is followed, a body over the cap is refused as it
arrives (a 300 MB answer is never held), the environment's proxies are ignored, and the time limit covers
the whole exchange.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from typing import Protocol

import aiohttp
import httpx
from yarl import URL

from dms.limits import DEFAULT_MAX_RESPONSE_BYTES, too_large

_URL_CACHE_SIZE = 4096
_CHUNK = 64 * 1024
# Each URL parsed once per process (yarl URLs are immutable, so shared by every client): the same few methods
# on the same agents come back at every check, and parsing and normalising the string again cost more than
# building the rest of the request.
_URLS: dict[str, URL] = {}


def _url(text: str) -> URL:
    url = _URLS.get(text)
    if url is None:
        if len(_URLS) >= _URL_CACHE_SIZE:
            _URLS.clear()
        url = _URLS[text] = URL(text)
    return url


class Poster(Protocol):
    async def post(self, url: str, body: bytes) -> tuple[int, str, bytes]:
        """``url`` given ``body`` (JSON): the status, the answer's Content-Encoding and its raw body."""
        ...

    async def aclose(self) -> None: ...


class AiohttpPoster:
    def __init__(
        self, *, ssl_context: ssl.SSLContext, timeout_s: float, max_connections: int,
        headers: Mapping[str, str], max_body_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self._ssl = ssl_context
        self._max_body = max_body_bytes
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._max_connections = max_connections
        self._headers = dict(headers)
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        # Created lazily: an aiohttp session must be made inside the running event loop.
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(ssl=self._ssl, limit=self._max_connections, limit_per_host=0)
            # auto_decompress off: dms.limits inflates the body through its cap. unsafe: a cookie a load
            # balancer sets on a DMS addressed by IP is kept and sent back, as httpx's jar does.
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=self._timeout, auto_decompress=False, trust_env=False,
                headers=self._headers, cookie_jar=aiohttp.CookieJar(unsafe=True))
        return self._session

    async def post(self, url: str, body: bytes) -> tuple[int, str, bytes]:
        try:
            async with self._get_session().post(_url(url), data=body, allow_redirects=False) as response:
                content = await self._read_capped(response)
                return response.status, response.headers.get("Content-Encoding", ""), content
        except TimeoutError as exc:
            raise httpx.ReadTimeout(f"timed out: {exc}") from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(f"cannot connect: {exc.os_error}") from exc
        except (aiohttp.ClientError, asyncio.IncompleteReadError) as exc:
            raise httpx.RemoteProtocolError(f"{type(exc).__name__}: {exc}") from exc

    async def _read_capped(self, response: aiohttp.ClientResponse) -> bytes:
        """The raw (still compressed) body, refused once it passes the cap."""
        length = response.content_length
        if length is not None:
            if length > self._max_body:
                raise too_large(self._max_body)
            # aiohttp's parser delivers no more than Content-Length bytes: read in one go.
            return await response.read()
        body = bytearray()
        async for chunk in response.content.iter_chunked(_CHUNK):
            body += chunk
            if len(body) > self._max_body:
                raise too_large(self._max_body)
        return bytes(body)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class HttpxPoster:
    """The same exchange through an ``httpx.AsyncClient`` (tests give it an ``httpx.MockTransport``)."""

    def __init__(self, http: httpx.AsyncClient, *, max_body_bytes: int) -> None:
        self.http = http
        self._max_body = max_body_bytes

    async def post(self, url: str, body: bytes) -> tuple[int, str, bytes]:
        limit = self._max_body
        async with self.http.stream("POST", url, content=body) as response:
            if response.is_stream_consumed:  # a transport that handed httpx the whole (decoded) body
                return response.status_code, "", response.content
            raw = bytearray()
            async for chunk in response.aiter_raw():
                raw += chunk
                if len(raw) > limit:
                    raise too_large(limit)
            return response.status_code, response.headers.get("content-encoding", ""), bytes(raw)

    async def aclose(self) -> None:
        await self.http.aclose()
