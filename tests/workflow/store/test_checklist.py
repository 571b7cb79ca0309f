from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import event

from bot.settings import Settings
from tests.support.store_helpers import force_state, fresh_engine, new_plan, sample_estimate, sample_path
from workflow.model.checklist import MOP_STEPS, Kind, Phase, Step, build_steps
from workflow.model.errors import NotFound, RuleViolation
from workflow.store import checklist
from workflow.store.database import session
from workflow.store.plans import create_plan
from workflow.store.states import PlanState
from workflow.targets import parse_targets, sync_targets

MOP = Path(__file__).resolve().parents[3] / "shared" / "seed" / "MOP_Upgrading_a_DMA_DMS.md"


def _normalize(text: str) -> str:
    return re.sub(r"[^a-z0-9 ]+", "", re.sub(r"\*|\[|\]\([^)]*\)", "", text).lower()).strip()


def _mop_steps() -> list[str]:
    """Every numbered step under a "#### Steps" heading, plus the execute step's bullet points."""
    steps: list[str] = []
    in_steps = False
    section = ""
    for line in MOP.read_text(encoding="utf-8").splitlines():
        if line.startswith("### "):
            section = line[4:].strip()
        if line.startswith("#"):
            in_steps = line.strip() == "#### Steps"
            continue
        if in_steps and line.startswith("1. "):
            steps.append(line[3:])
        elif in_steps and section.startswith("Execute") and line.startswith("   - "):
            steps.append(line[5:])
    return steps


@pytest.mark.skipif(not MOP.exists(), reason="the MOP seed is not beside the repository")
def test_every_mop_step_is_an_item() -> None:
    sources = [_normalize(step.mop) for step in MOP_STEPS]
    steps = _mop_steps()
    assert len(steps) >= 17
    for text in steps:
        normalized = _normalize(text)
        assert any(normalized.startswith(source) or source in normalized for source in sources), text


def test_steps_are_ordered_and_keys_unique() -> None:
    steps = build_steps(requirements=[".NET 4.8", ".NET 4.8", "Port 5100 open"],
                        key_elements=["Encoder 1"], key_checks=["Playout A", "playout a"])
    keys = [step.key for step in steps]
    assert len(keys) == len(set(keys))
    assert [step.phase.order for step in steps] == sorted(step.phase.order for step in steps)
    assert sum(1 for k in keys if k.startswith("details.requirement.")) == 2
    assert {"details.key.playout-a", "details.key.playout-a-2", "verify.key.playout-a"} <= set(keys)
    assert {"precheck.key_elements", "verify.key_elements"} <= set(keys)
    assert {step.phase for step in steps} == set(Phase)


def _engine_with_target(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = fresh_engine(tmp_path)
    text = '[[targets]]\nname = "default"\nurl = "simulated"\nkey_elements = ["Encoder 1"]\n' \
           'key_checks = ["Playout of channel 1"]\n'
    with session(engine) as s:
        sync_targets(s, targets=parse_targets(text, settings=Settings(_env_file=None), environ={}))
    return engine


def test_plan_checklist_includes_target_items(tmp_path: Path) -> None:
    engine = _engine_with_target(tmp_path)
    plan_id = new_plan(engine)
    with session(engine) as s:
        items = {item.key: item for item in checklist.items(s, plan_id=plan_id)}
    assert items["details.key.playout-of-channel-1"].kind == Kind.MANUAL
    assert items["verify.key.playout-of-channel-1"].phase == Phase.VERIFY
    assert "Encoder 1" in items["precheck.key_elements"].title
    assert items["determine.track"].checked and items["determine.track"].checked_by == "bot"


def test_tick_rules(tmp_path: Path) -> None:
    engine = fresh_engine(tmp_path)
    plan_id = new_plan(engine)
    with session(engine) as s:
        item = checklist.tick(s, plan_id=plan_id, key="details.backup", actor="U7", checked=True)
        assert item.checked and item.checked_by == "U7" and item.checked_at is not None
    with pytest.raises(RuleViolation, match="by the bot"), session(engine) as s:
        checklist.tick(s, plan_id=plan_id, key="details.no_problems", actor="U7", checked=True)
    with pytest.raises(RuleViolation), session(engine) as s:
        checklist.tick(s, plan_id=plan_id, key="determine.track", actor="U7", checked=False)
    with pytest.raises(NotFound), session(engine) as s:
        checklist.tick(s, plan_id=plan_id, key="nope", actor="U7", checked=True)
    with session(engine) as s:
        item = checklist.tick(s, plan_id=plan_id, key="details.backup", actor="U8", checked=False)
        assert not item.checked and item.checked_by is None
        auto = checklist.auto_tick(s, plan_id=plan_id, key="details.no_problems", detail="0 critical alarms")
        assert auto.checked and auto.checked_by == "bot" and auto.detail == "0 critical alarms"
    force_state(engine, plan_id=plan_id, state=PlanState.DONE)
    with pytest.raises(RuleViolation, match="closed"), session(engine) as s:
        checklist.tick(s, plan_id=plan_id, key="details.backup", actor="U7", checked=True)


@pytest.mark.parametrize("state", [PlanState.DONE, PlanState.FAILED, PlanState.CANCELLED])
def test_after_the_upgrade_the_verify_items_can_still_be_ticked(tmp_path: Path, state: PlanState) -> None:
    # The MOP's last step (key functionalities checked) happens after the bot moved the plan to DONE;
    # it used to be refused there ("checklist is closed"), so it could never be recorded.
    engine = fresh_engine(tmp_path)
    plan_id = new_plan(engine)
    force_state(engine, plan_id=plan_id, state=state)
    if state is not PlanState.DONE:
        with pytest.raises(RuleViolation, match="closed"), session(engine) as s:
            checklist.tick(s, plan_id=plan_id, key="verify.key_functionalities", actor="U7", checked=True)
        return
    with session(engine) as s:
        item = checklist.tick(s, plan_id=plan_id, key="verify.key_functionalities", actor="U7", checked=True)
        assert item.checked and item.checked_by == "U7"
    with pytest.raises(RuleViolation, match="by the bot"), session(engine) as s:
        checklist.tick(s, plan_id=plan_id, key="verify.agents_running", actor="U7", checked=True)


def test_open_required_manual_by_phase(tmp_path: Path) -> None:
    engine = fresh_engine(tmp_path)
    plan_id = new_plan(engine)
    with session(engine) as s:
        before_precheck = checklist.open_required_manual(s, plan_id=plan_id, before_phase=Phase.PRECHECK)
        before_execute = checklist.open_required_manual(s, plan_id=plan_id, before_phase=Phase.EXECUTE)
        assert {i.phase for i in before_precheck} == {"details"}
        assert "details.backup" in {i.key for i in before_execute}
        assert all(i.kind == "manual" and i.required for i in before_execute)
        assert "details.hotfixes" not in {i.key for i in before_execute}  # optional
        for item in before_execute:
            checklist.tick(s, plan_id=plan_id, key=item.key, actor="U7", checked=True)
        assert checklist.open_required_manual(s, plan_id=plan_id, before_phase=Phase.EXECUTE) == []
        assert checklist.open_required_manual(s, plan_id=plan_id, before_phase=Phase.VERIFY)  # execute's own


def test_ensure_item_adds_a_step_once_at_the_end_of_its_phase(tmp_path: Path) -> None:
    engine = fresh_engine(tmp_path)
    plan_id = new_plan(engine)  # made without this item, like a plan from before the item existed
    late = Step("execute.upload_confirmed", Phase.EXECUTE, Kind.MANUAL, False, "A step added later",
                "When you have selected the upgrade packages, first click Upload only")
    with session(engine) as s:
        added = checklist.ensure_item(s, plan_id=plan_id, step=late)
        again = checklist.ensure_item(s, plan_id=plan_id, step=late)
        assert again.id == added.id and added.kind == Kind.MANUAL and not added.required
        rows = checklist.items(s, plan_id=plan_id)
    keys = [row.key for row in rows]
    assert keys.count("execute.upload_confirmed") == 1
    assert [row.position for row in rows] == list(range(len(rows)))
    assert keys[keys.index("execute.upload_confirmed") + 1].startswith("verify.")
    assert keys[keys.index("execute.upload_confirmed") - 1].startswith("execute.")
    with session(engine) as s:  # a person ticks it like any manual item
        item = checklist.tick(s, plan_id=plan_id, key="execute.upload_confirmed", actor="U7", checked=True)
        assert item.checked


def test_expected_hotfixes_add_an_upload_item_that_gates_execution_and_an_install_item_after() -> None:
    # The MOP's hotfixes were only "identified" (optional): nothing recorded their upload or installation.
    plain = {step.key for step in build_steps()}
    assert not {"precheck.hotfixes_uploaded", "verify.hotfixes_installed"} & plain
    steps = {step.key: step for step in build_steps(hotfixes=2)}
    uploaded, installed = steps["precheck.hotfixes_uploaded"], steps["verify.hotfixes_installed"]
    assert (uploaded.phase, uploaded.kind, uploaded.required) == (Phase.PRECHECK, Kind.MANUAL, True)
    assert (installed.phase, installed.kind, installed.required) == (Phase.VERIFY, Kind.MANUAL, True)
    assert "2 expected" in uploaded.title


def test_hotfix_items_reach_the_plan_and_the_approval_gate(tmp_path: Path) -> None:
    engine = fresh_engine(tmp_path)
    with session(engine) as s:
        plan = create_plan(s, dms_name="default", path=sample_path(), estimate=sample_estimate(),
                           requester="U1", channel="C1", hotfixes=1)
        assert plan.id is not None
        gate = checklist.open_required_manual(s, plan_id=plan.id, before_phase=Phase.EXECUTE)
        assert "precheck.hotfixes_uploaded" in {item.key for item in gate}
        assert "verify.hotfixes_installed" not in {item.key for item in gate}


def test_helper_steps_and_known_issues_become_manual_items_in_their_phases() -> None:
    """A helper's prerequisites are done before the window, its post-migration steps after the
    upgrade, and a known issue the path could not avoid is a person's decision."""
    steps = build_steps(
        path_items=[("details", "NATSMigration: ASP.NET Core 10 installed"),
                    ("verify", "After NATSMigration: reconfigure the DMZ")],
        known_issues=["Hop 1 (10.5.0 CU3): Known issue: prerequisite check fails"],
    )
    by_key = {step.key: step for step in steps}
    before = next(s for k, s in by_key.items() if k.startswith("details.helper."))
    after = next(s for k, s in by_key.items() if k.startswith("verify.helper."))
    issue = next(s for k, s in by_key.items() if k.startswith("details.known_issue."))
    assert (before.phase, before.kind, before.required) == (Phase.DETAILS, Kind.MANUAL, True)
    # The step is the title (a checkbox label holds 75 characters), the helper it belongs to the detail.
    assert (before.title, before.detail) == ("ASP.NET Core 10 installed", "NATSMigration")
    assert (after.phase, after.kind, after.title, after.detail) == (
        Phase.VERIFY, Kind.MANUAL, "reconfigure the DMZ", "After NATSMigration")
    assert issue.title == "Known issue handled: Hop 1 (10.5.0 CU3): prerequisite check fails"
    assert [s.phase.order for s in steps] == sorted(s.phase.order for s in steps)


def test_a_unit_reads_the_checklist_once_and_sees_its_own_ticks_and_additions(tmp_path: Path) -> None:
    engine = fresh_engine(tmp_path)
    plan_id = new_plan(engine)
    late = Step("execute.upload_confirmed", Phase.EXECUTE, Kind.MANUAL, False, "A step added later", "")
    selects: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "checklist_item" in statement:
            selects.append(statement)

    with session(engine) as s:
        first = checklist.items(s, plan_id=plan_id)
        event.listen(engine, "before_cursor_execute", seen)
        checklist.auto_tick(s, plan_id=plan_id, key="precheck.health", checked=True, detail="health ok")
        again = checklist.items(s, plan_id=plan_id)
        assert selects == [], "the unit's second read and the tick reuse its first read"
        assert next(row for row in again if row.key == "precheck.health").checked
        again.clear()  # a caller's list is its own: the unit's read is untouched
        checklist.ensure_item(s, plan_id=plan_id, step=late)
        grown = checklist.items(s, plan_id=plan_id)
        event.remove(engine, "before_cursor_execute", seen)
    assert len(grown) == len(first) + 1 and "execute.upload_confirmed" in {row.key for row in grown}
    assert [row.position for row in grown] == list(range(len(grown)))
    with session(engine) as s:  # a new unit reads afresh and finds what the last one committed
        rows = checklist.items(s, plan_id=plan_id)
        assert {row.key for row in rows} == {row.key for row in grown}
        assert next(row for row in rows if row.key == "precheck.health").detail == "health ok"
