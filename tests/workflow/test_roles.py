"""Who may do what (``workflow.roles``): each action for each role, through the engine, so the console and
Slack get the same answers. Every refusal is audited and changes nothing."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from tests.support.polling import wait_until
from tests.workflow.conftest import APPROVER, REQUESTER, Harness, tick_manual
from workflow.model.errors import NotAuthorized, RuleViolation
from workflow.roles import WHO_MAY, Action, Role, may, tick_action
from workflow.store import database
from workflow.store.states import PlanState
from workflow.store.tables import AuditEvent

OPERATOR = "UOPS"
BYSTANDER = "UBYSTANDER"
PEOPLE = {Role.REQUESTER: REQUESTER, Role.APPROVER: APPROVER, Role.OPERATOR: OPERATOR}
README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture
async def h(make_harness: Callable[..., Harness]) -> AsyncIterator[Harness]:
    built = make_harness(upgrade_operators=[OPERATOR])
    yield built
    await built.engine.stop()


async def _plan(h: Harness) -> int:
    start = h.clock.now + timedelta(hours=30)
    snap = await h.engine.create_plan(target="10.4", track=None, window_start=start, window_minutes=240,
                                      requester=REQUESTER, channel="C1")
    return snap.id


def refusals(h: Harness, actor: str) -> list[AuditEvent]:
    with database.session(h.engine.db) as session:
        rows = session.exec(select(AuditEvent).where(AuditEvent.actor == actor))
        return [row for row in rows if row.action.endswith(".refused")]


def test_the_table() -> None:
    everyone_who_runs_it = {Action.SET_WINDOW, Action.RUN_CHECK, Action.TICK_PREPARATION, Action.CUBE_STEP,
                            Action.TICK_AFTER, Action.CANCEL}
    for action in Action:
        for role in Role:
            expected = action in everyone_who_runs_it or role is Role.APPROVER
            assert may(action, frozenset({role})) is expected, (action, role)
        assert not may(action, frozenset()), action  # a bystander may do nothing to a plan
    assert tick_action(key="details.backup", phase="details") is Action.TICK_PREPARATION
    assert tick_action(key="verify.key_functionalities", phase="verify") is Action.TICK_AFTER


def test_the_readme_shows_the_same_table() -> None:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Who may do what", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    seen: dict[str, list[bool]] = {}
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        action = re.sub(r"`", "", cells[0]).split()[0].rstrip(":")
        seen[action] = [cell.startswith("yes") for cell in cells[1:4]]
    assert set(seen) == {action.value for action in Action}
    for action in Action:
        assert seen[action.value] == [role in WHO_MAY[action] for role in Role], action


async def test_set_window_for_each_role(h: Harness) -> None:
    plan_id = await _plan(h)
    for hours, role in enumerate(Role, start=40):
        snap = await h.engine.set_window(plan_id=plan_id, start=h.clock.now + timedelta(hours=hours),
                                         minutes=120, actor=PEOPLE[role])
        assert snap.window_start == h.clock.now + timedelta(hours=hours)
    with pytest.raises(NotAuthorized, match="set the window"):
        await h.engine.set_window(plan_id=plan_id, start=h.clock.now + timedelta(days=400), minutes=120,
                                  actor=BYSTANDER)
    with pytest.raises(NotAuthorized):  # the "Set window" button asks before it opens the form
        await h.engine.authorize(plan_id=plan_id, action=Action.SET_WINDOW, actor=BYSTANDER)
    assert h.engine.status(plan_id=plan_id).window_start == h.clock.now + timedelta(hours=42)
    assert [row.action for row in refusals(h, BYSTANDER)] == ["window.refused", "window.refused"]


async def test_run_check_for_each_role(h: Harness) -> None:
    plan_id = await _plan(h)
    with pytest.raises(NotAuthorized, match="pre-upgrade check"):
        await h.engine.run_check(plan_id=plan_id, actor=BYSTANDER)
    assert not h.engine.context.tasks  # nothing started
    for role in Role:
        await h.engine.run_check(plan_id=plan_id, actor=PEOPLE[role])
        await h.engine.settle()
    assert [row.action for row in refusals(h, BYSTANDER)] == ["check.refused"]


@pytest.mark.parametrize("key", ["details.backup", "verify.key_functionalities"])
async def test_ticking_each_kind_for_each_role(h: Harness, key: str) -> None:
    plan_id = await _plan(h)
    with pytest.raises(NotAuthorized, match="tick the"):
        await h.engine.tick(plan_id=plan_id, key=key, actor=BYSTANDER, checked=True)
    assert not next(i for i in h.engine.status(plan_id=plan_id).checklist if i.key == key).checked
    for role in Role:
        item = next(i for i in (await h.engine.tick(plan_id=plan_id, key=key, actor=PEOPLE[role],
                                                    checked=True)).checklist if i.key == key)
        assert item.checked_by == PEOPLE[role]
        await h.engine.tick(plan_id=plan_id, key=key, actor=PEOPLE[role], checked=False)
    assert len(refusals(h, BYSTANDER)) == 1
    with pytest.raises(RuleViolation):  # automatic items stay the bot's, whoever asks
        await h.engine.tick(plan_id=plan_id, key="details.connect", actor=APPROVER, checked=False)


async def test_done_in_cube_for_each_role(make_harness: Callable[..., Harness]) -> None:
    """The watch driver's "Done in Cube" goes through the same table: a bystander is refused and audited;
    the others pass the role check (and then hear that the plan has no step waiting yet)."""
    h = make_harness(upgrade_operators=[OPERATOR], dms_driver="watch")
    plan_id = await _plan(h)
    with pytest.raises(NotAuthorized, match="confirm a step in Cube"):
        await h.engine.confirm_cube_step(plan_id=plan_id, hop_index=0, step="upload", actor=BYSTANDER)
    for role in Role:
        with pytest.raises(RuleViolation, match="there is no step to confirm"):
            await h.engine.confirm_cube_step(plan_id=plan_id, hop_index=0, step="upload", actor=PEOPLE[role])
    assert [row.action for row in refusals(h, BYSTANDER)] == ["cube.refused"]
    await h.engine.stop()


async def test_cancel_for_each_role(h: Harness) -> None:
    for role in Role:
        plan_id = await _plan(h)
        with pytest.raises(NotAuthorized, match="Only the requester or an upgrade approver"):
            await h.engine.cancel(plan_id=plan_id, actor=BYSTANDER, reason="mine now")
        assert h.engine.status(plan_id=plan_id).state is PlanState.SCHEDULED
        snap = await h.engine.cancel(plan_id=plan_id, actor=PEOPLE[role], reason="")
        assert snap.state is PlanState.CANCELLED
    assert [row.action for row in refusals(h, BYSTANDER)] == ["cancel.refused"] * 3


async def test_approve_and_reject_for_each_role(h: Harness) -> None:
    snap = await h.ready_plan()
    for actor in (REQUESTER, OPERATOR, BYSTANDER):
        with pytest.raises(NotAuthorized):
            await h.engine.approve(plan_id=snap.id, actor=actor)
        with pytest.raises(NotAuthorized):
            await h.engine.reject(plan_id=snap.id, actor=actor, reason="no")
        assert {row.action for row in refusals(h, actor)} == {"approval.refused", "rejection.refused"}
    assert h.engine.status(plan_id=snap.id).state is PlanState.AWAITING_APPROVAL
    rejected = await h.engine.reject(plan_id=snap.id, actor=APPROVER, reason="not tonight")
    assert rejected.state is PlanState.CANCELLED


async def test_an_approver_approves(h: Harness) -> None:
    snap = await h.ready_plan()
    approved = await h.engine.approve(plan_id=snap.id, actor=APPROVER)
    assert approved.state is PlanState.EXECUTING
    await wait_until(lambda: h.engine.status(plan_id=snap.id).state is PlanState.DONE, timeout_s=30,
                     what="the upgrade")
    # After the upgrade a bystander still cannot tick the after-upgrade checks.
    with pytest.raises(NotAuthorized):
        await h.engine.tick(plan_id=snap.id, key="verify.key_functionalities", actor=BYSTANDER, checked=True)
    await h.engine.tick(plan_id=snap.id, key="verify.key_functionalities", actor=OPERATOR, checked=True)


async def test_without_operators_configured_an_operator_is_a_bystander(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness()  # no operators configured: the operator is a bystander
    plan_id = await _plan(h)
    with pytest.raises(NotAuthorized):
        await h.engine.tick(plan_id=plan_id, key="details.backup", actor=OPERATOR, checked=True)
    await tick_manual(h.engine, plan_id)
    await h.engine.stop()
