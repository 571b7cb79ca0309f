"""Block Kit builders: what they show, and that they stay inside Slack's limits even for a 20-hop path,
100 agents and long texts (slack_sdk validates while building; FakeSlack's checks run on the result)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.console.fake_slack_state import check_blocks
from handlers.blocks import plan as blocks
from handlers.blocks import progress as blocks_progress
from handlers.blocks.render import render_message
from handlers.ids import ActionId, checklist_phase
from tests.handlers.conftest import APPROVER, START, make_snapshot
from tests.support.slack_markup import INJECTION, problems
from workflow.store.snapshot import CheckRunView, DecisionView
from workflow.store.states import PlanState


def texts(message_blocks: list[dict[str, Any]]) -> list[str]:
    found = []
    for block in message_blocks:
        if isinstance(block.get("text"), dict):
            found.append(block["text"]["text"])
        for element in block.get("elements", []):
            if isinstance(element, dict) and element.get("type") == "mrkdwn":
                found.append(element["text"])
    return found


def assert_within_limits(message_blocks: list[dict[str, Any]]) -> None:
    check_blocks(message_blocks, limit=50)
    assert len(message_blocks) <= 50
    assert all(len(text) <= 3000 for text in texts(message_blocks))
    for block in message_blocks:
        accessory = block.get("accessory") or {}
        if accessory.get("type") == "checkboxes":
            assert 1 <= len(accessory["options"]) <= 10
            assert all(len(option["text"]["text"]) <= 75 for option in accessory["options"])
        assert len(block.get("block_id", "")) <= 255
    assert len(json.dumps(message_blocks)) < 100_000


def test_plan_message_shows_the_plan() -> None:
    snap = make_snapshot(hops=2)
    message = blocks.plan_message(snap)
    shown = render_message(message.blocks, message.text).text
    assert "Upgrade plan #1: DMS" in shown
    assert "9.6.0 CU13" in shown and "10.1.0 CU1" in shown and "track: main" in shown
    assert "Rule 0" in shown and "(full" in shown and "(cu" in shown
    assert ".NET 4.0" in shown and "check: Check 1" in shown
    assert "Total: 2h30m to 5h00m" in shown
    labels = [e.label for e in render_message(message.blocks).elements if e.kind == "button"]
    assert labels == ["Set window", "Run check now", "Cancel"]
    cancel = next(e for e in render_message(message.blocks).elements if e.label == "Cancel")
    assert cancel.confirm
    assert_within_limits(message.blocks)


def test_plan_message_with_a_20_hop_path_and_long_texts_stays_inside_the_limits() -> None:
    snap = make_snapshot(hops=20, agents=100, extra_items=60, long_text=True)
    message = blocks.plan_message(snap)
    assert_within_limits(message.blocks)
    joined = "\n".join(texts(message.blocks))
    assert "…and" in joined and "more" in joined  # folded, not cut off silently
    assert "20 hops" in joined


def test_checklist_groups_map_back_to_their_items() -> None:
    snap = make_snapshot(extra_items=15)
    groups = blocks.checklist_groups(snap)
    assert sum(len(items) for _, _, items in groups) == len(snap.checklist)
    for action_id, phase, items in groups:
        assert checklist_phase(action_id).split("-")[0] == phase.value
        assert blocks.checklist_items_for(snap, action_id) == items
        assert len(items) <= 10
    message = blocks.plan_message(snap)
    block_ids = [b["block_id"] for b in message.blocks
                 if (b.get("accessory") or {}).get("type") == "checkboxes"]
    assert all(blocks.plan_of_checklist_block(block_id) == snap.id for block_id in block_ids)
    with pytest.raises(ValueError):
        blocks.checklist_items_for(snap, "checklist.nothing")
    with pytest.raises(ValueError):
        blocks.plan_of_checklist_block("checklist.details")


def test_automatic_items_are_marked_and_ticked_items_preselected() -> None:
    message = blocks.plan_message(make_snapshot())
    rendered = render_message(message.blocks)
    boxes = [e for e in rendered.elements if e.kind == "checkbox"]
    window = next(e for e in boxes if e.value == "determine.window")
    assert window.checked and window.label.startswith("(auto)")
    backup = next(e for e in boxes if e.value == "details.backup")
    assert not backup.checked and not backup.label.startswith("(auto)")


@pytest.mark.parametrize("state", ["done", "cancelled", "failed", "expired"])
def test_finished_plans_have_no_buttons(state: str) -> None:
    message = blocks.plan_message(make_snapshot(state=state))
    assert not [b for b in message.blocks if b["type"] == "actions"]


def test_executing_plans_can_only_be_cancelled() -> None:
    message = blocks.plan_message(make_snapshot(state="executing"))
    labels = [e.label for e in render_message(message.blocks).elements if e.kind == "button"]
    assert labels == ["Cancel"]


def test_status_message_with_100_agents_and_20_hops() -> None:
    snap = make_snapshot(hops=20, agents=100, state="executing", long_text=True)
    message = blocks_progress.status_message(snap)
    assert_within_limits(message.blocks)
    joined = "\n".join(texts(message.blocks))
    assert "Agents* (100: Running 100)" in joined
    assert "…and" in joined and " 0%" in joined


def test_progress_bar_counts_done_hops_and_agents_on_the_current_hop() -> None:
    snap = make_snapshot(hops=2, agents=4, state="executing")
    agents = [dict(a) for a in snap.agents]
    for agent in agents[:2]:
        agent["version"] = str(snap.hops[0].version)
    assert blocks_progress.progress_fraction(snap, agents) == pytest.approx(0.25)
    assert blocks_progress.progress_bar(0.25, width=4) == "▓░░░ 25%"


def test_approval_request_has_confirmed_buttons_and_the_decision_replaces_them() -> None:
    snap = make_snapshot(state="awaiting_approval")
    # Nothing to override (a passing check, every item ticked): Approve is confirmed by a dialog; Reject
    # always asks for its reason in a form, which is its confirmation.
    clean = snap.model_copy(update={
        "precheck": CheckRunView(id=1, kind="precheck", passed=True, actor="bot", started_at=START,
                                 finished_at=START, results=()),
        "checklist": tuple(item.model_copy(update={"checked": True}) for item in snap.checklist),
    })
    request = blocks.approval_request(clean, approvers=("UAPP1", "UAPP2"))
    elements = render_message(request.blocks).elements
    assert [(e.label, e.action_id, e.value, e.confirm) for e in elements] == [
        ("Approve", ActionId.APPROVE.value, "1", True), ("Reject", ActionId.REJECT.value, "1", False)]
    # With something to override, the override form is the confirmation.
    overriding = blocks.approval_request(snap, approvers=("UAPP1",))
    assert [e.confirm for e in render_message(overriding.blocks).elements] == [False, False]
    assert "pre-upgrade check not run" in texts(overriding.blocks)[0]
    assert "<@UAPP1>, <@UAPP2>" in texts(request.blocks)[0]
    decided_snap = snap.model_copy(update={
        "state": PlanState.EXECUTING,
        "approval": DecisionView(decision="approved", actor=APPROVER, reason="", override=False,
                                 decided_at=START),
    })
    decided = blocks.approval_decided(decided_snap)
    assert not render_message(decided.blocks).elements
    assert f"*Approved* by <@{APPROVER}> at 2030-05-04 10:00 UTC" in texts(decided.blocks)[0]
    many = blocks.approval_request(snap, approvers=tuple(f"U{i:05d}" for i in range(500)))
    assert_within_limits(many.blocks)


def test_check_results_and_final_messages() -> None:
    from dms.models import CheckResult, CheckStatus

    snap = make_snapshot(state="blocked")
    results = [CheckResult(name=f"c{i}", title=f"Check {i}", status=CheckStatus.PASS, detail="ok")
               for i in range(200)]
    results.append(CheckResult(name="bad", title="Agents running", status=CheckStatus.FAIL,
                               detail="DMA-2 stopped"))
    results.append(CheckResult(name="man", title="Look at it", status=CheckStatus.MANUAL, detail=""))
    message = blocks_progress.check_result(snap, kind="pre", results=results, passed=False)
    assert_within_limits(message.blocks)
    assert texts(message.blocks)[1].startswith(":x: Agents running")  # the problem first
    failed = blocks_progress.failed(snap, reason="DMA-2 did not start", guidance="Restore the snapshot",
                                    agents=[])
    assert "Restore the snapshot" in "\n".join(texts(failed.blocks))
    summary = blocks_progress.status_summary(make_snapshot(extra_items=20))
    assert not render_message(summary.blocks).elements  # nothing interactive in an ephemeral copy
    assert "☐ backup: Backup taken" in "\n".join(texts(summary.blocks))
    history = blocks_progress.history([make_snapshot(plan_id=i, long_text=True) for i in range(1, 101)])
    assert_within_limits(history.blocks)


@pytest.mark.parametrize(
    ("low", "high", "text"),
    [(30, 30, "30m"), (30, 90, "30m to 1h30m"), (0.2, 0.2, "<1m"), (0.2, 45, "<1m to 45m"), (0, 0, "0m")],
)
def test_durations_read_naturally(low: float, high: float, text: str) -> None:
    # Not "30m to 30m" in the estimate table, nor "done in 0m" for a hop that took seconds.
    assert blocks.span(low, high) == text


def test_a_cancel_without_a_reason_does_not_repeat_who_cancelled() -> None:
    snap = make_snapshot(state="cancelled")
    plain = blocks_progress.cancelled(snap, actor="UBOB", reason="", agents=[])
    assert texts(plain.blocks)[0] == ":no_entry: *Plan #1 cancelled* by <@UBOB>"
    given = blocks_progress.cancelled(snap, actor="UBOB", reason="change freeze", agents=[])
    assert texts(given.blocks)[0] == ":no_entry: *Plan #1 cancelled* by <@UBOB>: change freeze"


def test_plan_message_names_the_exact_package_file_of_every_hop() -> None:
    """The operator must know which .dmupgrade file to put in DMS_PACKAGE_FOLDER for each hop."""
    from dms.packages import package_file

    snap = make_snapshot(hops=3)
    text = render_message(blocks.plan_message(snap).blocks, "").text
    for hop in snap.hops:
        assert f"file: `{package_file(hop)}`" in text or f"file: {package_file(hop)}" in text


@pytest.mark.parametrize("draw", ["rejected", "cancelling"])
def test_a_reason_or_a_dms_name_on_a_rejection_or_a_running_cancel_cannot_mention_link_or_format(
    draw: str
) -> None:
    """These two used the bare ``&<>`` escape, which left *bold*, `code` and controls through; and an actor
    that was not a user id became a mention."""
    snap = make_snapshot().model_copy(update={"dms_name": f"DMS {INJECTION}"})
    message = getattr(blocks_progress, draw)(snap, actor="<!channel>", reason=f"not now {INJECTION}")
    assert problems(message.kwargs(), users=[APPROVER]) == []
    assert "not now" in message.blocks[0]["text"]["text"]


def test_a_preview_plan_names_its_track_as_a_preview_release() -> None:
    from dms.upgrade_path import PathWarning, WarningKind

    main = make_snapshot()
    preview = main.model_copy(update={"warnings": (PathWarning(kind=WarningKind.PREVIEW, text="preview"),)})
    assert main.track_label == "main"
    assert preview.track_label == "main, preview release"
    assert "(track: main, preview release)" in render_message(blocks.plan_message(preview).blocks).text
    assert "(track: main)" in render_message(blocks.plan_message(main).blocks).text
