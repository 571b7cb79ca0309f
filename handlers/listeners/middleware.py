"""Ack first, then work; and know when the work is done.

Bolt runs a listener's work after the ack in a task of its own (``process_before_response=False``), which
nothing else waits for, and which competes for the one event loop with requests still waiting for their ack.
``ListenerWork`` keeps both in view:

- ``count_acks`` (a global Bolt middleware) counts requests whose ack has not been sent yet;
- ``after_acks()`` lets post-ack work wait, briefly, until no request waits for its ack, so a burst of
  commands is acknowledged before the engine's database and DMS work starts;
- ``track()`` wraps each listener, so shutdown, the console and tests can wait until every one finished.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from slack_bolt.response import BoltResponse

# Post-ack work never waits longer than this for other acks: it is a priority, not a lock.
MAX_ACK_WAIT_S = 0.5


class ListenerWork:
    def __init__(self) -> None:
        self._running = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._awaiting_ack = 0
        self._acks_done = asyncio.Event()
        self._acks_done.set()

    @property
    def running(self) -> int:
        return self._running

    @property
    def awaiting_ack(self) -> int:
        return self._awaiting_ack

    async def count_acks(self, next: Callable[[], Awaitable[BoltResponse]]) -> BoltResponse:
        """Bolt global middleware: ``next()`` returns once the listener acked (or the request ended)."""
        async with self.answering():
            return await next()

    @asynccontextmanager
    async def answering(self) -> AsyncIterator[None]:
        """A request whose answer is not sent yet. The HTTP layer wraps the whole exchange in it too, so
        that post-ack work waits until the answer is written, not only until Bolt produced it."""
        self._awaiting_ack += 1
        self._acks_done.clear()
        try:
            yield
        finally:
            self._awaiting_ack -= 1
            if self._awaiting_ack == 0:
                self._acks_done.set()

    async def after_acks(self, *, max_wait_s: float = MAX_ACK_WAIT_S) -> None:
        """Let the acks still pending go out first (waits at most ``max_wait_s``)."""
        if self._awaiting_ack:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._acks_done.wait(), timeout=max_wait_s)

    @asynccontextmanager
    async def track(self) -> AsyncIterator[None]:
        self._running += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._running -= 1
            if self._running == 0:
                self._idle.set()

    async def idle(self, *, timeout_s: float = 30.0) -> None:
        await asyncio.wait_for(self._idle.wait(), timeout=timeout_s)
