"""The timeline PNG of real plans: a valid picture of sensible size, with the lanes and marks expected
(read from the drawing's artists, not from pixels)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from handlers.blocks import timeline_chart
from tests.support.timeline_plans import real_timeline
from workflow.timeline import Timeline

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def gids(timeline: Timeline) -> set[str]:
    figure = timeline_chart.draw(timeline)
    return {artist.get_gid() for ax in figure.axes for artist in ax.get_children() if artist.get_gid()}


def lane_labels(timeline: Timeline) -> list[list[str]]:
    figure = timeline_chart.draw(timeline)
    return [[t.get_text() for t in ax.get_yticklabels()][::-1] for ax in figure.axes]


@pytest.mark.parametrize("kind", ["finished", "failed", "executing"])
async def test_real_plans_draw_as_readable_pngs(tmp_path: Path, kind: str) -> None:
    timeline = await real_timeline(tmp_path, kind)
    data = await timeline_chart.render_png_async(timeline)
    width, height = png_size(data)
    assert width == 1200 and 400 <= height <= 2000, (width, height)
    assert 20_000 <= len(data) <= 1_000_000
    (tmp_path / f"{kind}.png").write_bytes(data)
    phases, execution = lane_labels(timeline)
    assert phases[-1] == "4. Execute the upgrade" and len(phases) == len(timeline.phases)
    assert execution[:3] == ["Hop 1: 10.3.0 CU22 (full)", "Hop 2: 10.4.0 CU21 (cu)", "Verification"] or \
        execution[2] == "Verification"
    assert execution[3:] == [lane.label for lane in timeline.agents] and len(execution) == 3 + 4
    drawn = gids(timeline)
    assert {"hop-1:upload", "hop-1:upgrade", "hop-1:restart", "hop-1:estimate", "marker:approval"} <= drawn
    agent_bars = {gid for gid in drawn if gid.startswith("agent-") and not gid.endswith("estimate")}
    assert agent_bars, "the agents' down-time is drawn"
    if kind == "finished":
        assert {"hop-2:restart", "verify:verify", "marker:done"} <= drawn
    elif kind == "failed":
        assert "marker:failure" in drawn and not any(g.startswith("hop-2:") and "estimate" not in g
                                                     for g in drawn)
    else:
        assert {"marker:now", "hop-1:ongoing"} <= drawn


def test_the_palette_is_okabe_ito_and_math_is_not_parsed() -> None:
    assert set(timeline_chart.SPAN_COLOURS.values()) <= set(timeline_chart.OKABE_ITO.values())
    assert timeline_chart.plain("costs $5 or $6") == r"costs \$5 or \$6"
