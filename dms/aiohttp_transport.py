"""An httpx transport that sends requests through aiohttp.

Reading 100 agents means 100 requests in flight at once. httpcore (httpx's default transport) spends about
2-3 ms of CPU per request there and its pool slows down with many connections, which made a 100-agent
pre-check take 2-3x one agent's chain of calls; aiohttp's C-accelerated client does the same work for a
fraction of that. The client above stays plain ``httpx.AsyncClient`` (tests inject ``httpx.MockTransport``),
and transport errors are mapped to httpx's exception types so the retry logic sees one vocabulary.
"""

from __future__ import annotations

import asyncio
import ssl

import aiohttp
import httpx

from dms.limits import DEFAULT_MAX_RESPONSE_BYTES, too_large


class AiohttpTransport(httpx.AsyncBaseTransport):
    def __init__(
        self, *, ssl_context: ssl.SSLContext, timeout_s: float, max_connections: int,
        max_body_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self._ssl = ssl_context
        self._max_body = max_body_bytes
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        # Created lazily: an aiohttp session must be made inside the running event loop.
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(ssl=self._ssl, limit=self._max_connections, limit_per_host=0)
            # auto_decompress off: httpx decodes the body itself from the headers we hand back.
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout,
                                                  auto_decompress=False, trust_env=False)
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        # From the raw pairs: httpx's multi_items() works out the headers' encoding again for every header.
        headers = [(key.decode("latin-1"), value.decode("latin-1")) for key, value in request.headers.raw
                   if key.lower() != b"host"]
        try:
            async with self._get_session().request(
                request.method, str(request.url), data=body, headers=headers, allow_redirects=False
            ) as response:
                content = await self._read_capped(response)
                return httpx.Response(
                    response.status,
                    headers=[(key, value) for key, value in response.raw_headers],
                    # stream=, not content=: httpx would decode (inflate) content= at once, without a cap.
                    stream=httpx.ByteStream(content),
                    request=request,
                )
        except TimeoutError as exc:
            raise httpx.ReadTimeout(f"timed out: {exc}", request=request) from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(f"cannot connect: {exc.os_error}", request=request) from exc
        except (aiohttp.ClientError, asyncio.IncompleteReadError) as exc:
            raise httpx.RemoteProtocolError(f"{type(exc).__name__}: {exc}", request=request) from exc

    async def _read_capped(self, response: aiohttp.ClientResponse) -> bytes:
        """The raw (still compressed) body, refused once it passes the cap: a 300 MB answer is never held.
        The client inflates it through the same cap (``dms.limits.inflate_capped``)."""
        if (response.content_length or 0) > self._max_body:
            raise too_large(self._max_body)
        body = bytearray()
        async for chunk in response.content.iter_chunked(64 * 1024):
            body += chunk
            if len(body) > self._max_body:
                raise too_large(self._max_body)
        return bytes(body)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
