"""The outbox as the sender in ``handlers`` sees it: draw the domain events into Slack calls, claim what is
due, record what Slack did with it, and find where a plan's messages live. Every call runs off the event
loop with a background task's patience for a locked database; the rows are ``workflow.store.outbox``'s and
``workflow.store.event_outbox``'s.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Engine
from sqlmodel import Session

from workflow.model.clock import utc_now
from workflow.model.outbox import CLAIM_TTL_S, Claimed, Draw, Outgoing
from workflow.store import database
from workflow.store import outbox as store
from workflow.store.event_outbox import TAKE_LIMIT
from workflow.store.message_refs import get_message_ref

T = TypeVar("T")

__all__ = ["TAKE_LIMIT", "Outbox"]


class Outbox:
    """The outbox as an object, for the sender in ``handlers``: it opens no database sessions itself, and
    every call here runs off the event loop with a background task's patience for a locked database."""

    def __init__(self, db: Engine) -> None:
        self._db = db

    async def _unit(self, work: Callable[[Session], T]) -> T:
        with database.patience():
            return await database.run_unit(self._db, work)

    async def draw_events(self, draw: Draw) -> int:
        """Draw the oldest domain events into Slack calls, in order, and drop them: one unit of work, so
        an event is either still waiting or its messages are in the outbox. How many were drawn."""
        return await self._unit(lambda session: store.draw_events(session, draw=draw, now=utc_now()))

    async def enqueue(self, message: Outgoing) -> int:
        """Keep one call to make that was not drawn from an event (an ephemeral answer Slack did not
        take at once); its row id."""
        return await self._unit(lambda session: store.enqueue(session, message, now=utc_now()))

    async def claim_due(
        self, *, owner: str, skip_channels: frozenset[str] = frozenset(), ttl_s: float = CLAIM_TTL_S
    ) -> list[Claimed]:
        return await self._unit(lambda session: store.claim_due(session, owner=owner, now=utc_now(),
                                                          skip_channels=skip_channels, ttl_s=ttl_s))

    async def delivered(self, *, row_id: int, posted: tuple[str, str, str | None] | None = None) -> None:
        await self._unit(lambda session: store.delivered(session, row_id=row_id, posted=posted))

    async def retry(self, *, row_id: int, error: str, base_s: float) -> datetime:
        return await self._unit(lambda session: store.retry(session, row_id=row_id, error=error,
                                                            now=utc_now(), base_s=base_s))

    async def hand_back(self, *, row_id: int) -> None:
        """Give a claimed row back at once (a clean stop cut its call short), so any sender may take it now
        rather than when the claim expires; it counts as an attempt (the call may have reached Slack)."""
        await self._unit(lambda session: store.retry(session, row_id=row_id, error="handed back at shutdown",
                                                     now=utc_now(), base_s=0.0))

    async def refused(self, *, row_id: int, error: str) -> None:
        await self._unit(lambda session: store.refused(session, row_id=row_id, error=error, now=utc_now()))

    async def message_ref(self, *, plan_id: int, role: str) -> tuple[str, str] | None:
        """(channel, ts) of the plan's message in ``role``, or None."""
        def read(session: Session) -> tuple[str, str] | None:
            row = get_message_ref(session, plan_id=plan_id, role=role)
            return None if row is None else (row.channel, row.ts)

        return await self._unit(read)

    def depth(self) -> int:
        """Messages still to send, and events not drawn yet. Blocking: for callers already off the loop
        (the metrics' worker thread)."""
        with database.session(self._db) as session:
            return store.depth(session)
