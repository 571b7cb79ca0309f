"""The per-plan checklist in the database: create, tick (a person), auto-tick (the bot), and the approval
gate's open items. The catalogue (phases, kinds, the MOP's steps and their ids) is
``workflow.model.checklist``. Execution is refused while required manual items of earlier phases are open
(unless overridden).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

# Re-exported for the store's own modules; the floors above import them from workflow.model.checklist.
from workflow.model.checklist import (  # noqa: F401
    APPROVAL_GATE,
    MOP_STEPS,
    PERSON_REPORTED,
    PHASE_TITLES,
    REQUIREMENT_PREFIX,
    STEPS_BY_KEY,
    Kind,
    Phase,
    Step,
    StepKey,
    build_steps,
)
from workflow.model.clock import utc_now
from workflow.model.errors import NotFound, RuleViolation
from workflow.store import audit
from workflow.store.states import PlanState, get_plan
from workflow.store.tables import ChecklistItem


def create_items(session: Session, *, plan_id: int, steps: Sequence[Step]) -> list[ChecklistItem]:
    rows = [
        ChecklistItem(
            plan_id=plan_id,
            key=step.key,
            position=position,
            phase=step.phase.value,
            kind=step.kind.value,
            required=step.required,
            title=step.title,
            detail=step.detail,
        )
        for position, step in enumerate(steps)
    ]
    session.add_all(rows)
    session.flush()
    _forget(session, plan_id)
    return rows


def ensure_item(session: Session, *, plan_id: int, step: Step) -> ChecklistItem:
    """The plan's item for ``step``, added after the last item of its phase when missing (a step that
    depends on the DMS's driver, or a plan created before the step existed)."""
    rows = items(session, plan_id=plan_id)
    existing = next((row for row in rows if row.key == step.key), None)
    if existing is not None:
        return existing
    _forget(session, plan_id)
    before = [row for row in rows if Phase(row.phase).order <= step.phase.order]
    position = max((row.position for row in before), default=-1) + 1
    for row in rows:
        if row.position >= position:
            row.position += 1
            session.add(row)
    item = ChecklistItem(plan_id=plan_id, key=step.key, position=position, phase=step.phase.value,
                         kind=step.kind.value, required=step.required, title=step.title, detail=step.detail)
    session.add(item)
    session.flush()
    return item


# ``Session.info`` key of the checklists read in this unit of work (plan id -> its rows, in order).
_READ = "dmu.checklist"


def items(session: Session, *, plan_id: int) -> list[ChecklistItem]:
    """The plan's items in order, read once per unit of work: a pre-check's unit asked for them five times
    (confirmations, upload only, ticks, snapshot). The rows are the session's own objects, so a tick made
    through them is what every later call sees; adding an item forgets the read (``_forget``)."""
    read: dict[int, list[ChecklistItem]] = session.info.setdefault(_READ, {})
    rows = read.get(plan_id)
    if rows is None:
        statement = select(ChecklistItem).where(ChecklistItem.plan_id == plan_id)
        rows = read[plan_id] = list(session.exec(statement.order_by(col(ChecklistItem.position))))
    return list(rows)


def _forget(session: Session, plan_id: int) -> None:
    session.info.get(_READ, {}).pop(plan_id, None)


def _item(session: Session, *, plan_id: int, key: str) -> ChecklistItem:
    item = next((row for row in items(session, plan_id=plan_id) if row.key == key), None)
    if item is None:
        raise NotFound(f"Plan #{plan_id} has no checklist item {key!r}")
    return item


def _set(
    session: Session,
    item: ChecklistItem,
    *,
    actor: str,
    checked: bool,
    detail: str,
    action: str,
    now: datetime | None,
) -> None:
    if item.checked == checked and (not detail or item.detail == detail):
        return  # idempotent: the engine may tick the same item after every check run
    item.checked = checked
    item.checked_by = actor if checked else None
    when = now or utc_now()
    item.checked_at = when if checked else None
    if detail:
        item.detail = detail
    session.add(item)
    audit.record(
        session,
        actor=actor,
        action=action,
        plan_id=item.plan_id,
        reason=detail,
        detail={"key": item.key, "checked": checked},
        now=when,
    )


def tick(
    session: Session, *, plan_id: int, key: str, actor: str, checked: bool, now: datetime | None = None
) -> ChecklistItem:
    """A person ticks (or unticks) a manual item; automatic items are the bot's alone."""
    state = PlanState(get_plan(session, plan_id=plan_id).state)
    item = _item(session, plan_id=plan_id, key=key)
    # The MOP's last step (key functionalities checked after the upgrade) is a person's, and it can only
    # happen once the bot's verification moved the plan to DONE: those items stay open to ticking then.
    after_upgrade = state is PlanState.DONE and item.phase == Phase.VERIFY
    if state.terminal and not after_upgrade:
        raise RuleViolation(f"Plan #{plan_id} is {state.label}; its checklist is closed")
    if item.kind == Kind.AUTO:
        raise RuleViolation(f"{item.title!r} is checked by the bot itself; it cannot be ticked by hand")
    detail = ""
    if item.key in PERSON_REPORTED:  # replace what an earlier report said (e.g. "checks failed")
        stamp = f"{(now or utc_now()):%Y-%m-%d %H:%M} UTC"
        detail = (f"ticked on the checklist ({stamp}), confirmed by <@{actor}>" if checked
                  else f"unticked ({stamp}) by <@{actor}>")
    _set(session, item, actor=actor, checked=checked, detail=detail, action="checklist.tick", now=now)
    return item


def record_person(
    session: Session, *, plan_id: int, step: Step, actor: str, checked: bool, detail: str,
    now: datetime | None = None,
) -> ChecklistItem:
    """A person's report through a button (e.g. Upload only in Cube): recorded with who, as they said it."""
    item = ensure_item(session, plan_id=plan_id, step=step)
    _set(session, item, actor=actor, checked=checked, detail=detail, action="checklist.person", now=now)
    return item


def auto_tick(
    session: Session,
    *,
    plan_id: int,
    key: str,
    checked: bool = True,
    detail: str = "",
    actor: str = "bot",
    now: datetime | None = None,
) -> ChecklistItem:
    """The engine records what it verified; unknown keys raise NotFound (a programming error)."""
    item = _item(session, plan_id=plan_id, key=key)
    _set(session, item, actor=actor, checked=checked, detail=detail, action="checklist.auto", now=now)
    return item


def open_required_manual(session: Session, *, plan_id: int, before_phase: Phase) -> list[ChecklistItem]:
    """Required manual items still open in phases strictly before ``before_phase``."""
    limit = Phase(before_phase).order
    return [
        item
        for item in items(session, plan_id=plan_id)
        if item.kind == Kind.MANUAL
        and item.required
        and not item.checked
        and Phase(item.phase).order < limit
    ]
