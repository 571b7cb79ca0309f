"""The running bot's background loops (the DMS probe, the Slack check) in one ``asyncio.TaskGroup``.

The group lives in a supervising task of its own, entered and left by that task: the runtime is started
and stopped from whichever task its caller runs in (a test fixture's setup and teardown are two), and a
task group must be left by the task that entered it. ``run`` adds a loop while the group is open (the Slack
check joins when serving starts, the console never adds it); ``stop`` cancels the supervisor, and the group
cancels every loop and waits for each to end. A loop is meant never to end: one that fails takes the others
down with it (the group's rule) and is logged, loudly, as the bug it is; the bot goes on serving, without
those reports on ``/healthz``.

The engines' own loops (the scheduler's thread, the outbox sender, the campaign poll) stop in the order the
runtime's stop needs (``Runtime._teardown``: no pass may approve a plan once the engine is stopping), so
they are not in this group.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)

Loop = Callable[[], Coroutine[Any, Any, None]]


class BackgroundLoops:
    def __init__(self) -> None:
        self._group: asyncio.TaskGroup | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._names: set[str] = set()

    @property
    def running(self) -> frozenset[str]:
        return frozenset(self._names) if self._group is not None else frozenset()

    async def start(self) -> None:
        """Open the group (once); returns when loops can be added."""
        if self._supervisor is not None:
            return
        opened = asyncio.Event()
        self._supervisor = asyncio.get_running_loop().create_task(self._supervise(opened),
                                                                  name="background-loops")
        await opened.wait()

    async def _supervise(self, opened: asyncio.Event) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                opened.set()
                await asyncio.Event().wait()  # until ``stop`` cancels this task
        except* Exception as failed:  # a loop that ended with an error: the others were cancelled with it
            for error in failed.exceptions:
                log.error("a background loop failed and the others were stopped with it: %r", error,
                          exc_info=error)
        finally:
            self._group = None
            opened.set()  # a group that could not open must not leave ``start`` waiting

    def run(self, name: str, loop: Loop) -> None:
        """Run ``loop`` in the group until ``stop``; a name already running is not started twice."""
        if self._group is None:
            raise RuntimeError(f"background loop {name!r} started before BackgroundLoops.start()")
        if name in self._names:
            return
        self._names.add(name)
        self._group.create_task(loop(), name=name)

    async def stop(self) -> None:
        """Cancel every loop and wait until each ended (the group's exit)."""
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is None:
            return
        supervisor.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await supervisor
        self._names.clear()
