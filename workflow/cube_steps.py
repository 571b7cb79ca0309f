"""The watch driver's steps in DataMiner Cube: asked one at a time, each confirmed by a person's click.

With ``DMS_DRIVER=watch`` the bot triggers nothing. For each hop it asks for *Upload only*, then for
*Upgrade*, each with its Cube instructions and a "Done in Cube" button (``CubeStepRequested``); the click
(``confirm``) records the step as done, and the execution loop, polling the database, goes on. Nothing else
blocks a step: no checklist item, optional or not.

The hop's step rows are the record (``workflow.store.plans.mark_step``): "started" when the bot asked,
"done" when someone confirmed. The question itself is asked once (``workflow.store.step_attempts``: the
attempt and the message are written together): a loop resumed after a restart or a database failure waits
for the confirmation of a step already asked, and never asks the person (or a simulator playing Cube, which
would upload the package again) a second time.
A person works in real time, whatever the DMS's time scale: the deadline of each step is the hop's deadline
from the estimate in real minutes; when it passes, the plan fails with what was not confirmed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Literal

from sqlmodel import Session

from dms.upgrade_path import Hop
from workflow.context import WorkflowContext
from workflow.events import CubeStepConfirmed, CubeStepRequested
from workflow.model.clock import utc_now
from workflow.model.errors import NotFound, RuleViolation
from workflow.roles import Action, Permissions
from workflow.store import audit, plans, step_attempts
from workflow.store.states import PlanState, get_plan
from workflow.store.tables import PlanHop

CubeStep = Literal["upload", "upgrade"]
STEPS: tuple[CubeStep, ...] = ("upload", "upgrade")
STEP_NAMES = {"upload": "Upload only", "upgrade": "Upgrade"}


class CubeStepOverdue(Exception):
    """Nobody confirmed the step by its deadline."""


async def _done(context: WorkflowContext, row_id: int, step: CubeStep) -> bool:
    def unit(session: Session) -> bool:
        row = session.get(PlanHop, row_id)
        return row is not None and getattr(row, f"{step}_done_at") is not None

    return await context.unit(unit)


async def ask_and_wait(
    context: WorkflowContext,
    *,
    plan_id: int,
    row_id: int,
    index: int,
    hop: Hop,
    step: CubeStep,
    instructions: Sequence[str],
    heard: Callable[[], Awaitable[None]],
    deadline_s: float,
    poll_s: float,
    ensure_executing: Callable[[], Awaitable[None]],
) -> None:
    """Ask for ``step`` with the driver's ``instructions`` (message with the button; ``heard``: whoever plays
    the person in Cube hears it too), once, then wait for the confirmation. ``ensure_executing`` raises when
    the plan left EXECUTING (a cancel stops the wait)."""
    deadline: datetime = utc_now() + timedelta(seconds=deadline_s)
    question = {"hop_index": index, "step": step, "deadline": deadline,
                "instructions": tuple(instructions)}

    def intent(session: Session) -> bool:
        row = session.get(PlanHop, row_id)
        if row is not None and getattr(row, f"{step}_done_at") is not None:
            return False  # confirmed meanwhile: nothing to ask
        _, fresh = step_attempts.begin(session, plan_id=plan_id, hop_id=row_id, hop_index=index, step=step,
                                       key=f"cube:{plan_id}:{index}:{step}", now=context.now())
        return fresh

    # The question is recorded with the attempt: both or neither.
    fresh, _ = await context.change(plan_id, intent, lambda made: [(CubeStepRequested, question)] if made
                                    else [])
    if await _done(context, row_id, step):
        return
    if fresh:
        await heard()
        await context.unit(lambda session: step_attempts.finish(
            session, plan_id=plan_id, hop_id=row_id, hop_index=index, step=step, outcome={"asked": True},
            step_done=False, now=context.now()))
    give_up = time.monotonic() + deadline_s
    context.waiting_for_person.add(plan_id)
    try:
        while not await _done(context, row_id, step):
            await ensure_executing()
            if time.monotonic() >= give_up:
                raise CubeStepOverdue(
                    f"hop {index + 1} ({hop.version}): nobody confirmed {STEP_NAMES[step]} in Cube (Done in "
                    f"Cube) by {deadline:%Y-%m-%d %H:%M} UTC, the deadline from the estimate")
            await asyncio.sleep(poll_s)
    finally:
        context.waiting_for_person.discard(plan_id)


async def confirm(
    context: WorkflowContext, permissions: Permissions, *, plan_id: int, hop_index: int, step: str,
    actor: str,
) -> None:
    """A person clicked Done in Cube: who may confirm is the roles table's (``workflow.roles``)."""
    if step not in STEPS:
        raise NotFound(f"There is no Cube step {step!r}")
    cube_step: CubeStep = step
    await permissions.require(plan_id=plan_id, action=Action.CUBE_STEP, actor=actor)
    await context.unit(lambda session: _confirm(session, context, plan_id=plan_id, hop_index=hop_index,
                                                step=cube_step, actor=actor))
    context.waiting_for_person.discard(plan_id)  # busy again: settling waits for what the click set off
    await context.emit(CubeStepConfirmed, plan_id, hop_index=hop_index, step=step, actor=actor)


def _confirm(session: Session, context: WorkflowContext, *, plan_id: int, hop_index: int,
             step: CubeStep, actor: str) -> None:
    """Record the confirmation, in one unit of work with the checks that the plan and the step wait."""
    plan = get_plan(session, plan_id=plan_id)
    if PlanState(plan.state) is not PlanState.EXECUTING:
        label = PlanState(plan.state).label
        raise RuleViolation(f"Plan #{plan_id} is {label}: there is no step to confirm")
    rows = plans.hops(session, plan_id=plan_id)
    if not 0 <= hop_index < len(rows) or rows[hop_index].id is None:
        raise NotFound(f"Plan #{plan_id} has no hop {hop_index + 1}")
    row = rows[hop_index]
    if getattr(row, f"{step}_done_at") is not None:
        raise RuleViolation(f"{STEP_NAMES[step]} of hop {hop_index + 1} was already confirmed")
    if getattr(row, f"{step}_started_at") is None:
        raise RuleViolation(f"The bot has not asked for {STEP_NAMES[step]} of hop {hop_index + 1} yet")
    assert row.id is not None
    plans.mark_step(session, hop_id=row.id, step=step, event="done", now=context.now())
    audit.record(session, actor=actor, action="cube.confirmed", plan_id=plan_id, now=context.now(),
                 detail={"hop": hop_index, "step": step})
