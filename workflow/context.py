"""What the engine shares with its runners (pre-check, execution, scheduled jobs): one small object.

The runners used to take the whole engine and reach its session, clock, events, moves, task set and even
sibling runners through it, so engine and runners imported each other. They now take this context and,
where one runner needs another, that runner explicitly; the engine builds all of them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlmodel import Session

from workflow.dms_access import DmsAccess
from workflow.event_codec import encode
from workflow.events import Event, Notifier, SnapshotEvent, StateChanged, reads_outbox
from workflow.model.clock import Clock
from workflow.model.errors import DatabaseBusy, UserError
from workflow.scheduler import PlanScheduler
from workflow.settings import WorkflowSettings
from workflow.store import database, event_outbox
from workflow.store.snapshot import PlanSnapshot, load_header, load_snapshot
from workflow.store.states import PlanState, get_plan, transition

log = logging.getLogger(__name__)

T = TypeVar("T")
FollowUp = tuple[type[Event], dict[str, Any]]  # an event type and its fields, besides plan and snapshot


class WorkflowContext:
    """Settings, database, clock, events, audited state moves and the background tasks of one engine."""

    def __init__(
        self,
        *,
        settings: WorkflowSettings,
        db: Engine,
        clock: Clock,
        notifier: Notifier,
        dms_access: DmsAccess,
        scheduler: PlanScheduler,
    ) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock
        self.notifier = notifier
        self.dms_access = dms_access
        self.scheduler = scheduler
        self.tasks: set[asyncio.Task[None]] = set()
        # Plans whose execution waits for a person (Done in Cube): idle work, which ``settle`` does not wait
        # for. A confirmation takes its plan out again, so settling then waits for what the click set off.
        self.waiting_for_person: set[int] = set()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work on the caller's thread: for the pool's threads and synchronous callers (tests,
        the console); async code uses ``unit`` so the loop never waits for the database."""
        with database.session(self.db) as session:
            yield session

    async def unit(self, work: Callable[[Session], T]) -> T:
        """``work(session)`` in one unit of work off the loop (``database.run_unit``), awaited."""
        return await database.run_unit(self.db, work)

    def now(self) -> datetime:
        return self.clock()

    async def read_state(self, plan_id: int) -> PlanState:
        return await self.unit(lambda session: PlanState(get_plan(session, plan_id=plan_id).state))

    async def emit(self, event_type: type[Event], plan_id: int, /, **fields: Any) -> None:
        """Tell of ``plan_id`` as it is now: the event, with a fresh snapshot (the plan's row for a note),
        written to the outbox of domain events in one unit of work, then heard by the notifier. Never
        raises: the chat must not break the workflow (the database is the record)."""
        def unit(session: Session) -> list[Event]:
            if issubclass(event_type, SnapshotEvent):
                return self.record(session, plan_id, [(event_type, fields)])[0]
            return self.note(session, plan_id, event_type, **fields)

        try:
            events = await self.unit(unit)
        except Exception:
            log.exception("recording %s for plan #%s failed", event_type.__name__, plan_id)
            return
        await self.tell(events)

    def record(
        self, session: Session, plan_id: int, tell: Sequence[FollowUp]
    ) -> tuple[list[Event], PlanSnapshot]:
        """In the caller's unit of work: the plan's snapshot, the events ``tell`` names drawn on it, and
        (when the notifier reads the outbox of domain events) each written there, so they commit or roll
        back with the change they tell of."""
        snap = load_snapshot(session, plan_id=plan_id)
        events = [kind(plan_id=plan_id, snapshot=snap, **fields) for kind, fields in tell]
        self._to_outbox(session, plan_id, events)
        return events, snap

    def note(self, session: Session, plan_id: int, event_type: type[Event], /, **fields: Any) -> list[Event]:
        """``record`` for a note of one line (an event that is no ``SnapshotEvent``): drawn on the plan's
        row only, without the hops, checklist, checks and approval a whole snapshot reads."""
        if issubclass(event_type, SnapshotEvent):
            raise TypeError(f"{event_type.__name__} shows the whole plan: record it with a snapshot")
        events = [event_type(plan_id=plan_id, snapshot=load_header(session, plan_id=plan_id), **fields)]
        self._to_outbox(session, plan_id, events)
        return events

    def _to_outbox(self, session: Session, plan_id: int, events: Sequence[Event]) -> None:
        """Each event into the outbox of domain events, when the notifier reads it."""
        if not reads_outbox(self.notifier):
            return
        for event in events:
            try:
                kind, body = encode(event)
            except Exception:  # a bug of ours: the change must not be lost to it
                log.exception("encoding %s for plan #%s failed", type(event).__name__, plan_id)
                continue
            event_outbox.append(session, plan_id=plan_id, kind=kind, body=body, now=self.now())

    async def change(self, plan_id: int, work: Callable[[Session], T],
                     tell: Callable[[T], Sequence[FollowUp]]) -> tuple[T, PlanSnapshot]:
        """``work`` and the events that tell of it (``tell(result)``) in one unit of work: both are
        committed or neither. The notifier then hears them. ``work``'s result and the snapshot after it."""
        def unit(session: Session) -> tuple[T, list[Event], PlanSnapshot]:
            result = work(session)
            events, snap = self.record(session, plan_id, tell(result))
            return result, events, snap

        result, events, snap = await self.unit(unit)
        await self.tell(events)
        return result, snap

    async def tell(self, events: Sequence[Event]) -> None:
        """The notifier hears ``events`` (already recorded with their change), in order."""
        for event in events:
            await self._notify(event)

    async def _notify(self, event: Event) -> None:
        try:
            await self.notifier.notify(event)
        except Exception:
            # A broken chat must never break the workflow: the database is the record.
            log.exception("notifying %s for plan #%s failed", type(event).__name__, event.plan_id)

    async def move(
        self,
        plan_id: int,
        *,
        to: PlanState,
        actor: str,
        reason: str,
        expected_from: Collection[PlanState] | None = None,
        then: Sequence[FollowUp] = (),
    ) -> bool:
        """Audited transition plus StateChanged; False (nothing changed) when the plan is elsewhere.

        ``then``: events that tell of this move (the outcome after DONE, the approval request after the
        window opened, ...), drawn with it, so a crash never leaves a done plan whose channel was not told."""
        def unit(session: Session) -> list[Event]:
            before = PlanState(get_plan(session, plan_id=plan_id).state)
            transition(session, plan_id=plan_id, to=to, actor=actor, reason=reason,
                       expected_from=expected_from, now=self.now())
            moved = [(StateChanged, {"from_state": before.value, "to_state": to.value, "actor": actor,
                                     "reason": reason})]
            # What the chat says of this move is written with the move (the outbox): both or neither.
            return self.record(session, plan_id, [*moved, *then])[0]

        try:
            events = await self.unit(unit)
        except DatabaseBusy:
            raise  # not a refusal: nothing is known about the plan's state
        except UserError as exc:
            log.info("plan #%s: not moved to %s: %s", plan_id, to.value, exc)
            return False
        await self.tell(events)
        if to.terminal:  # the job store is the database: off the loop like every unit
            await database.off_loop(lambda: self.scheduler.cancel(plan_id=plan_id))
        return True

    def spawn(self, coro: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        task.add_done_callback(_log_crash)
        return task


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background task %s crashed", task.get_name(), exc_info=task.exception())
