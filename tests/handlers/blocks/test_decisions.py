"""The modals of decisions that need more than a click: the window (a plan's; the inputs a campaign's move
asks with), the override and reject reasons."""

from __future__ import annotations

import json
from datetime import timedelta

from handlers.blocks import decisions
from handlers.ids import BlockId, CallbackId
from tests.handlers.conftest import START, make_snapshot


def _inputs(blocks: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    return {str(b["block_id"]): b for b in blocks if b["type"] == "input"}


def test_a_plan_without_a_window_is_offered_tomorrow_at_this_hour_for_4h() -> None:
    view = decisions.window_modal(make_snapshot(), channel="C1", now=START)
    assert view["callback_id"] == CallbackId.WINDOW_MODAL.value
    assert json.loads(view["private_metadata"]) == {"plan_id": 1, "channel": "C1"}
    inputs = _inputs(view["blocks"])
    assert inputs[BlockId.WINDOW_DATE.value]["element"]["initial_date"] == "2030-05-05"
    assert inputs[BlockId.WINDOW_TIME.value]["element"]["initial_time"] == "10:00"
    assert inputs[BlockId.WINDOW_DURATION.value]["element"]["initial_value"] == "4h"
    assert not inputs[BlockId.WINDOW_DURATION.value].get("optional")
    assert "UTC" in json.dumps(view)


def test_a_plan_with_a_window_is_offered_its_own_written_as_typed() -> None:
    start = START + timedelta(days=3, hours=2)
    snap = make_snapshot().model_copy(update={"window_start": start,
                                               "window_end": start + timedelta(hours=1, minutes=30)})
    inputs = _inputs(decisions.window_modal(snap, channel="C1", now=START)["blocks"])
    assert inputs[BlockId.WINDOW_DATE.value]["element"]["initial_date"] == "2030-05-07"
    assert inputs[BlockId.WINDOW_TIME.value]["element"]["initial_time"] == "12:00"
    assert inputs[BlockId.WINDOW_DURATION.value]["element"]["initial_value"] == "1h30m"


def test_a_campaigns_moved_window_may_keep_its_length() -> None:
    blocks = [block.to_dict() for block in decisions.window_inputs(duration_hint="empty keeps it")]
    inputs = _inputs(blocks)
    duration = inputs[BlockId.WINDOW_DURATION.value]
    assert duration["optional"] is True and "initial_value" not in duration["element"]
    assert "initial_date" not in inputs[BlockId.WINDOW_DATE.value]["element"]


def test_the_override_modal_names_every_waived_rule() -> None:
    view = decisions.override_modal(make_snapshot(), needs=["the pre-check failed", "2 items open"],
                                    channel="C1")
    text = json.dumps(view)
    assert "the pre-check failed" in text and "2 items open" in text
    assert BlockId.DECISION_REASON.value in _inputs(view["blocks"])
