"""The answer to ``/dm-upgrade status``: short (state, next step and when, progress and ETA, what waits on
whom), with the whole plan one word away (``status <id> full``)."""

from __future__ import annotations

import pytest

from handlers.blocks import progress
from handlers.blocks.render import render_message
from tests.handlers.conftest import make_snapshot
from workflow.store.states import PlanState

LEAD = "*Next:* <@U0ALICE> checks the key functionalities and ticks “Key functionalities checked”."


@pytest.mark.parametrize("state", ["planned", "awaiting_approval", "executing", "done"])
def test_the_status_answer_is_a_dozen_lines_at_most(state: str) -> None:
    snap = make_snapshot(state=state, hops=3, agents=40, extra_items=6)
    text = render_message(progress.status_short(snap, lead=LEAD).blocks).text
    lines = [line for line in text.splitlines() if line.strip()]
    assert 4 <= len(lines) <= 12, text
    assert lines[0].startswith("Plan #1") and PlanState(state).label in lines[0]
    assert lines[1].startswith("Next:")
    assert "[ ]" not in text and "☐" not in text  # no checklist in the short answer
    assert "the whole plan: the button below, or `/dm-upgrade status 1 full`" in text
    assert lines[-1].endswith("Show the whole plan")  # the full card one click away


def test_it_says_what_waits_on_whom_and_the_progress() -> None:
    snap = make_snapshot(state="executing", hops=2, agents=4)
    text = render_message(progress.status_short(snap, lead=LEAD).blocks).text
    assert "Progress: " in text and "hop 1/2" in text and "ETA" in text
    assert "Waiting on the bot" in text
    assert "Agents: 4 (Running 4)" in text


def test_the_full_answer_is_still_the_whole_card() -> None:
    snap = make_snapshot(state="done")
    full = render_message(progress.status_summary(snap, lead=LEAD).blocks).text
    assert "Key functionalities checked after the upgrade" in full and len(full.splitlines()) > 30
