"""The timeline picture's execution panel: a short execution reads in hours:minutes:seconds, every marker's
label is drawn whole inside the picture."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from handlers.blocks import timeline_chart
from workflow.model.states import PlanState
from workflow.timeline import EstimateBand, Lane, Marker, Span, Timeline

T0 = datetime(2026, 12, 7, 13, 31, 20, tzinfo=UTC)
REASON = "cancelled: the customer asked us to stop before the second hop because of a broadcast"


def cancelled_in_a_minute() -> Timeline:
    def at(seconds: float) -> datetime:
        return T0 + timedelta(seconds=seconds)

    phases = tuple(Lane(key=f"phase-{i}", label=f"{i}. Phase {i}", group="phase",
                        spans=(Span(at(-3600 + 900 * i), at(-2700 + 900 * i), "phase"),))
                   for i in range(1, 5))
    hop = Lane(key="hop-1", label="Hop 1: 10.5.0 CU18 (full)", group="hop",
               spans=(Span(at(2), at(5), "upgrade"), Span(at(5), at(40), "restart")),
               estimate=EstimateBand(at(2), at(30), at(50)))
    agents = tuple(Lane(key=f"agent-{i}", label=f"DMA0{i}", group="agent",
                        spans=(Span(at(6), at(30 + i), "starting"),)) for i in range(1, 5))
    markers = (Marker(at(1), "approval", "approved"), Marker(at(41), "cancel", REASON))
    return Timeline(plan_id=1, title="Plan #1 on default: 10.4.0 CU3 -> 10.5.0 CU18 (track: main)",
                    state=PlanState.CANCELLED, now=at(60), time_scale=600,
                    phases=phases, execution=(hop,), agents=agents, markers=markers)


def test_a_short_execution_axis_reads_hours_minutes_seconds() -> None:
    figure = timeline_chart.draw(cancelled_in_a_minute())
    figure.canvas.draw()
    labels = [t.get_text() for t in figure.axes[1].get_xticklabels() if t.get_text()]
    assert len(labels) >= 3 and all(re.fullmatch(r"\d{2}:\d{2}:\d{2}", label) for label in labels), labels


def test_marker_labels_are_whole_and_inside_the_picture() -> None:
    figure = timeline_chart.draw(cancelled_in_a_minute())
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    picture = figure.bbox
    texts = [t for ax in figure.axes for t in ax.texts]
    cancel = [t for t in texts if "customer" in t.get_text()]
    assert cancel, [t.get_text() for t in texts]
    for text in cancel:
        assert " ".join(text.get_text().split()) == REASON  # wrapped maybe, never shortened
        box = text.get_window_extent(renderer)
        assert picture.x0 <= box.x0 and box.x1 <= picture.x1, (box, picture)

