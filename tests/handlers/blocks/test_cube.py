"""The watch driver's step messages: the Done in Cube button names plan, hop and step; text is escaped."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from handlers.blocks.cube import button_value, step_confirmed, step_request
from handlers.button_values import CubeStepButton
from tests.handlers.conftest import make_snapshot


def test_the_button_value_round_trips_and_anything_else_is_refused() -> None:
    assert CubeStepButton.parse(button_value(12, 1, "upgrade")) == CubeStepButton(plan_id=12, hop_index=1,
                                                                                   step="upgrade")
    for bad in ("12", "12:1", "12:x:upload", "12:1:reboot", "a:1:upload", "12:1:upload:9", "²:1:upload"):
        with pytest.raises(ValueError):
            CubeStepButton.parse(bad)


def test_a_step_request_has_one_button_and_escapes_the_instructions() -> None:
    snap = make_snapshot()
    message = step_request(snap, hop_index=0, step="upload", instructions=("Select <!channel> & go",),
                           deadline=datetime(2030, 1, 1, 10, 0, tzinfo=UTC))
    (section, actions) = message.blocks
    text = section["text"]["text"]
    assert "&lt;!channel&gt; &amp; go" in text and "<!channel>" not in text
    (button,) = actions["elements"]
    assert button["text"]["text"] == "Done in Cube" and button["value"] == f"{snap.id}:0:upload"
    done = step_confirmed(snap, hop_index=0, step="upload", actor="U1")
    assert len(done.blocks) == 1 and "confirmed by <@U1>" in done.blocks[0]["text"]["text"]
