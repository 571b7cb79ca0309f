"""Which event loop runs the bot: uvloop where it is installed, asyncio's own otherwise.

The bot is one process on one event loop, and a fleet's pre-checks falling due together make it CPU-bound:
each opens a TCP connection per agent and sends about thirty requests, and the loop's own work (selecting,
scheduling callbacks, the transports' reads and writes) is a good share of that. uvloop does the same work
in C (libuv): ``benchmarks/bench_fleet.py`` measured the bot's CPU per pre-check at about 10-15% less. It
changes nothing the code can see (same asyncio API, same aiohttp, same thread pool for the database).

``EVENT_LOOP`` chooses: ``auto`` (the default) takes uvloop when it imports (the project installs it
wherever it builds: not on Windows), ``asyncio`` always takes the standard loop (a way back, should uvloop
ever misbehave somewhere), ``uvloop`` requires it and says so when it is missing.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar

from workflow.model.errors import ConfigError

T = TypeVar("T")
LoopChoice = Literal["auto", "uvloop", "asyncio"]


def loop_factory(choice: LoopChoice = "auto") -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The factory of the chosen loop, or None for asyncio's own (``asyncio.Runner``'s default)."""
    if choice == "asyncio":
        return None
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        if choice == "uvloop":
            raise ConfigError("EVENT_LOOP=uvloop, but uvloop is not installed (pip install uvloop)") from None
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """``uvloop`` or ``asyncio``: for the start-up log line and the benchmarks' headers."""
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"


def run(main: Coroutine[Any, Any, T], *, choice: LoopChoice = "auto") -> T:
    """``asyncio.run(main)`` on the chosen loop."""
    try:
        factory = loop_factory(choice)
    except ConfigError:
        main.close()  # never awaited: no "coroutine was never awaited" warning on top of the error
        raise
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)
