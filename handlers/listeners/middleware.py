"""Ack first, then work; and know when the work is done.

Bolt runs a listener's work after the ack in a task of its own (``process_before_response=False``), which
nothing else waits for, and which competes for the one event loop with requests still waiting for their ack.
``ListenerWork`` keeps both in view:

- ``count_acks`` (a global Bolt middleware) counts requests whose ack has not been sent yet;
- ``after_acks()`` lets post-ack work wait, briefly, until no request waits for its ack and, in a burst,
  none was answered for ``QUIET_S``, so a burst of commands is acknowledged before the engine's database
  and DMS work starts: its requests arrive a few milliseconds apart, and without the quiet time each one's
  work began between two arrivals and took the loop from the acks still to come. A lone request (none
  answered within ``QUIET_S`` before it) starts its work at once;
- ``track()`` wraps each listener, so shutdown, the console and tests can wait until every one finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from slack_bolt.response import BoltResponse

# Post-ack work never waits longer than this for other acks: it is a priority, not a lock.
MAX_ACK_WAIT_S = 0.5
# Answers this close together are a burst, whose work starts once no answer was sent for this long: the 50
# commands of benchmarks/bench_ack.py arrive 5-10 ms apart.
QUIET_S = 0.05


class ListenerWork:
    def __init__(self, *, quiet_s: float = QUIET_S) -> None:
        self._quiet_s = quiet_s
        self._running = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._awaiting_ack = 0
        # Open when post-ack work may start: no answer pending and, after a burst, none sent for quiet_s.
        # One gate for every waiter: an Event wakes them in the order they came, so the work of two
        # commands typed one after the other starts in that order.
        self._open = asyncio.Event()
        self._open.set()
        self._last_answer = -math.inf  # the loop's clock when the last pending answer was sent
        self._reopen: asyncio.TimerHandle | None = None

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
        self._open.clear()
        if self._reopen is not None:
            self._reopen.cancel()
            self._reopen = None
        try:
            yield
        finally:
            self._awaiting_ack -= 1
            if self._awaiting_ack == 0:
                # Judged when the last answer pending is sent, not at each: one request is answered inside
                # two of these (the HTTP exchange around Bolt's), and would have made a burst of its own.
                loop = asyncio.get_running_loop()
                now = loop.time()
                burst, self._last_answer = now - self._last_answer < self._quiet_s, now
                if burst:
                    self._reopen = loop.call_later(self._quiet_s, self._open.set)
                else:
                    self._open.set()

    async def after_acks(self, *, max_wait_s: float = MAX_ACK_WAIT_S) -> None:
        """Let the acks still pending go out first and, in a burst, those of requests arriving within the
        quiet time of the last answer (waits at most ``max_wait_s``)."""
        if not self._open.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._open.wait(), timeout=max_wait_s)

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
