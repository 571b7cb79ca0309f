"""The timeline model of real plans: lanes, spans, estimates and markers from what the database holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.timeline_plans import real_timeline
from workflow.timeline import Timeline


def _kinds(timeline: Timeline, key: str) -> list[str]:
    lane = next(lane for lane in timeline.lanes() if lane.key == key)
    return [span.kind for span in lane.spans]


async def test_a_finished_two_hop_upgrade(tmp_path: Path) -> None:
    timeline = await real_timeline(tmp_path, "finished")
    assert timeline.title.endswith("(track: main)"), timeline.title  # the picture's header names it
    assert [lane.key for lane in timeline.execution] == ["hop-1", "hop-2", "verify"]
    for key in ("hop-1", "hop-2"):
        assert _kinds(timeline, key) == ["upload", "upgrade", "restart"]
        lane = next(lane for lane in timeline.execution if lane.key == key)
        assert lane.estimate is not None and lane.estimate.low_end <= lane.estimate.high_end
        assert all(not span.ongoing and span.end >= span.start for span in lane.spans)
    assert _kinds(timeline, "verify") == ["verify"]
    # Every agent restarted (once per hop) and its lane shows it.
    assert [lane.label for lane in timeline.agents] == sorted(lane.label for lane in timeline.agents)
    assert len(timeline.agents) == 4 and all(lane.spans for lane in timeline.agents)
    assert sum(len(lane.spans) for lane in timeline.agents) >= 6
    assert {m.kind for m in timeline.markers} == {"approval", "done"}
    execute = timeline.phases[-1]
    assert execute.label.endswith("Execute the DataMiner upgrade") and execute.spans and execute.estimate
    hop_1 = timeline.execution[0].spans[0]
    approval = next(m for m in timeline.markers if m.kind == "approval")
    assert approval.at <= hop_1.start
    assert timeline.executed


async def test_a_failed_upgrade_marks_the_failure_and_the_agent_that_stayed_down(tmp_path: Path) -> None:
    timeline = await real_timeline(tmp_path, "failed")
    failure = next(m for m in timeline.markers if m.kind == "failure")
    assert "hop 1" in failure.label
    assert _kinds(timeline, "hop-2") == [] and _kinds(timeline, "verify") == []
    restart = timeline.execution[0].spans[-1]
    assert restart.kind == "restart" and not restart.ongoing and restart.end == failure.at
    down = [lane for lane in timeline.agents if lane.spans and lane.spans[-1].end == failure.at]
    assert down, "the agent that failed to start is down until the failure"


async def test_an_executing_upgrade_runs_to_now(tmp_path: Path) -> None:
    timeline = await real_timeline(tmp_path, "executing")
    now = next(m for m in timeline.markers if m.kind == "now")
    assert now.at == timeline.now
    restart = timeline.execution[0].spans[-1]
    assert restart.kind == "restart" and restart.ongoing and restart.end == timeline.now
    assert any(span.ongoing for lane in timeline.agents for span in lane.spans)


@pytest.mark.parametrize("scale", [0, -1])
def test_the_time_scale_must_be_positive(scale: float) -> None:
    from tests.handlers.conftest import make_snapshot
    from workflow.model.clock import utc_now
    from workflow.timeline import build_timeline

    with pytest.raises(ValueError):
        build_timeline(make_snapshot(), events=[], changes=[], now=utc_now(), time_scale=scale)
