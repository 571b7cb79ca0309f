"""Execution steps whose DMS call (or question to a person) must happen at most once: one row per plan,
hop and step, written as ``intent`` before the call and ``done`` with the outcome after it.

A loop resumed after a database failure or a restart reads the row: ``done`` means the call happened and
what it answered (nothing to do again); ``intent`` means it may have happened (the process stopped, or the
database failed, between the call and the record), so the caller asks the DMS, by the row's idempotency
``key``, instead of calling again; no row means it never started.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from workflow.store import plans
from workflow.store.plans import HopStep
from workflow.store.tables import StepAttempt

INTENT = "intent"
DONE = "done"


def find(session: Session, *, plan_id: int, hop_index: int, step: str) -> StepAttempt | None:
    return session.exec(select(StepAttempt).where(
        col(StepAttempt.plan_id) == plan_id, col(StepAttempt.hop_index) == hop_index,
        col(StepAttempt.step) == step)).first()


def begin(session: Session, *, plan_id: int, hop_id: int, hop_index: int, step: HopStep, key: str,
          now: datetime) -> tuple[StepAttempt, bool]:
    """The hop's step marked started and its attempt; True when this call created the attempt (False: an
    earlier one exists, whatever its state, and its ``key`` is the one to ask the DMS about)."""
    plans.mark_step(session, hop_id=hop_id, step=step, event="started", now=now)
    found = find(session, plan_id=plan_id, hop_index=hop_index, step=step)
    if found is not None:
        return found, False
    row = StepAttempt(plan_id=plan_id, hop_index=hop_index, step=step, key=key, state=INTENT,
                      started_at=now)
    try:
        with session.begin_nested():  # two processes racing (a lease takeover): one row, one winner
            session.add(row)
    except IntegrityError:
        raced = find(session, plan_id=plan_id, hop_index=hop_index, step=step)
        if raced is None:
            raise
        return raced, False
    return row, True


def finish(session: Session, *, plan_id: int, hop_id: int, hop_index: int, step: HopStep,
           outcome: dict[str, Any], step_done: bool, now: datetime) -> StepAttempt:
    """Record what the call answered (the first outcome stays) and, with ``step_done``, the hop's step
    done in the same transaction, so the two never disagree."""
    row = find(session, plan_id=plan_id, hop_index=hop_index, step=step)
    if row is None:
        raise LookupError(f"no attempt of {step} for hop {hop_index} of plan #{plan_id}")
    if row.state != DONE:
        row.state, row.outcome, row.finished_at = DONE, dict(outcome), now
        session.add(row)
        session.flush()
    if step_done:
        plans.mark_step(session, hop_id=hop_id, step=step, event="done", now=now)
    return row
