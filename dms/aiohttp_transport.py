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


class AiohttpTransport(httpx.AsyncBaseTransport):
    def __init__(self, *, ssl_context: ssl.SSLContext, timeout_s: float, max_connections: int) -> None:
        self._ssl = ssl_context
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
        headers = [(key, value) for key, value in request.headers.multi_items() if key.lower() != "host"]
        try:
            async with self._get_session().request(
                request.method, str(request.url), data=body, headers=headers, allow_redirects=False
            ) as response:
                content = await response.read()
                return httpx.Response(
                    response.status,
                    headers=[(key, value) for key, value in response.raw_headers],
                    content=content,
                    request=request,
                )
        except TimeoutError as exc:
            raise httpx.ReadTimeout(f"timed out: {exc}", request=request) from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(f"cannot connect: {exc.os_error}", request=request) from exc
        except (aiohttp.ClientError, asyncio.IncompleteReadError) as exc:
            raise httpx.RemoteProtocolError(f"{type(exc).__name__}: {exc}", request=request) from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
