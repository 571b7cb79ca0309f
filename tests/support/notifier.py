"""A notifier that keeps every event, for the workflow tests (production posts to Slack instead)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TypeVar

from workflow.events import Event

E = TypeVar("E", bound=Event)


@dataclass
class RecordingNotifier:
    """Keeps every event in order; tests read ``events`` or wait for one with a deadline."""

    events: list[Event] = field(default_factory=list)
    _changed: asyncio.Event | None = field(default=None, repr=False)

    async def notify(self, event: Event) -> None:
        self.events.append(event)
        if self._changed is not None:
            self._changed.set()

    def of_type(self, kind: type[E], *, plan_id: int | None = None) -> list[E]:
        return [e for e in self.events if isinstance(e, kind) and (plan_id is None or e.plan_id == plan_id)]

    def types(self) -> list[str]:
        return [type(e).__name__ for e in self.events]

    async def wait_for(self, kind: type[E], *, plan_id: int | None = None, timeout_s: float = 10.0) -> E:
        """The first event of ``kind`` (for ``plan_id``), waiting for it up to ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while True:
            found = self.of_type(kind, plan_id=plan_id)
            if found:
                return found[0]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {kind.__name__} within {timeout_s}s; got {self.types()}")
            self._changed = asyncio.Event()
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=remaining)
            except TimeoutError:
                continue
