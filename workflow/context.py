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
from workflow.events import Event, Notifier, StateChanged, staged_messages
from workflow.model.clock import Clock
from workflow.model.errors import DatabaseBusy, UserError
from workflow.scheduler import PlanScheduler
from workflow.settings import WorkflowSettings
from workflow.store import database, outbox
from workflow.store.snapshot import PlanSnapshot, load_snapshot
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

    def snapshot(self, plan_id: int) -> PlanSnapshot:
        with self.session() as session:
            return load_snapshot(session, plan_id=plan_id)

    def plan_state(self, plan_id: int) -> PlanState:
        with self.session() as session:
            return PlanState(get_plan(session, plan_id=plan_id).state)

    async def read_snapshot(self, plan_id: int) -> PlanSnapshot:
        return await database.off_loop(self.snapshot, plan_id)

    async def read_state(self, plan_id: int) -> PlanState:
        return await database.off_loop(self.plan_state, plan_id)

    async def emit(self, event_type: type[Event], plan_id: int, /, **fields: Any) -> None:
        try:
            event = event_type(plan_id=plan_id, snapshot=await self.read_snapshot(plan_id), **fields)
        except Exception:
            log.exception("reading plan #%s for %s failed", plan_id, event_type.__name__)
            return
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
            snap = load_snapshot(session, plan_id=plan_id)
            events: list[Event] = [StateChanged(plan_id=plan_id, snapshot=snap, from_state=before.value,
                                                to_state=to.value, actor=actor, reason=reason)]
            events += [kind(plan_id=plan_id, snapshot=snap, **fields) for kind, fields in then]
            # What the chat says of this move is written with the move (the outbox): both or neither.
            for event in events:
                for message in staged_messages(self.notifier, event):
                    outbox.enqueue(session, message)
            return events

        try:
            events = await self.unit(unit)
        except DatabaseBusy:
            raise  # not a refusal: nothing is known about the plan's state
        except UserError as exc:
            log.info("plan #%s: not moved to %s: %s", plan_id, to.value, exc)
            return False
        for event in events:
            await self._notify(event)
        if to.terminal:
            self.scheduler.cancel(plan_id=plan_id)
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
