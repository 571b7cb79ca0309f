"""A server that accepts connections and never answers: Slack's Web API behind a blocked egress or a proxy
that swallows the connection (no refusal, no reset, no answer, ever)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


@asynccontextmanager
async def blackhole() -> AsyncIterator[str]:
    """The base URL (``http://127.0.0.1:<port>/api/``) of a server that never answers, for the block."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/api/"
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()
