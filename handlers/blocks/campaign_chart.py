"""The campaign's timeline picture (PNG), drawn with matplotlib's Agg backend from
``workflow.campaign_timeline``: what the campaign thread gets at the end and on request.

Like ``handlers.blocks.timeline_chart`` (whose palette and conventions it shares): imported only where a
picture is drawn, a ``Figure`` with its own canvas and never pyplot, so it can be drawn in a worker thread.

Layout: one lane per DMS, top to bottom in wave order ("W1 staging"); behind each, its window as proposed
(grey); on it, its upgrade as it ran, coloured by how its plan ended (hatched while it runs). Each wave's
soak is a band across that wave's lanes; approval, halts, resumes, the end and "now" are vertical lines
labelled with who and what. Times are UTC.
"""

from __future__ import annotations

import asyncio
import io
from datetime import datetime, timedelta

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from handlers.blocks.timeline_chart import (
    DPI,
    ESTIMATE_COLOUR,
    OKABE_ITO,
    WIDTH_IN,
    LineStyle,
    date_num,
    draw_bars,
    plain,
    time_axis,
)
from workflow.campaign_timeline import CampaignMarker, CampaignTimeline

OUTCOME_COLOURS = {
    "done": OKABE_ITO["bluish_green"], "running": OKABE_ITO["orange"], "failed": OKABE_ITO["vermillion"],
    "cancelled": OKABE_ITO["black"], "expired": OKABE_ITO["reddish_purple"],
}
OUTCOME_NAMES = {"done": "upgraded", "running": "upgrading", "failed": "plan failed",
                 "cancelled": "plan cancelled", "expired": "plan expired"}
SOAK_COLOUR = OKABE_ITO["sky_blue"]
MARKER_STYLES: dict[str, tuple[str, LineStyle]] = {  # kind -> (colour, line style)
    "approval": (OKABE_ITO["bluish_green"], "--"), "halt": (OKABE_ITO["vermillion"], "-"),
    "resume": (OKABE_ITO["blue"], "--"), "done": (OKABE_ITO["bluish_green"], "-"),
    "aborted": (OKABE_ITO["black"], "-"), "now": (OKABE_ITO["black"], ":"),
}
LANE_IN, LEFT_IN, TOP_IN, BOTTOM_IN = 0.34, 1.9, 0.8, 1.2


def render_campaign_png(timeline: CampaignTimeline) -> bytes:
    """The picture as PNG bytes (CPU-bound: call ``render_campaign_png_async`` from the event loop)."""
    buffer = io.BytesIO()
    draw_campaign(timeline).savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


async def render_campaign_png_async(timeline: CampaignTimeline) -> bytes:
    return await asyncio.to_thread(render_campaign_png, timeline)


def draw_campaign(timeline: CampaignTimeline) -> Figure:
    """The figure; bars, bands and lines carry a ``gid`` (``dms:kind``, ``soak:wave``, ``marker:kind``)."""
    lanes = sorted(timeline.lanes, key=lambda lane: lane.wave)
    count = max(len(lanes), 1)
    height = TOP_IN + BOTTOM_IN + LANE_IN * count
    figure = Figure(figsize=(WIDTH_IN, height), dpi=DPI)
    FigureCanvasAgg(figure)
    ax = figure.add_axes((LEFT_IN / WIDTH_IN, BOTTOM_IN / height, 1 - (LEFT_IN + 0.25) / WIDTH_IN,
                          LANE_IN * count / height))
    figure.suptitle(f"{plain(timeline.title)}: {plain(timeline.state)}", fontsize=12, fontweight="bold")
    times = [t for lane in lanes for pair in (lane.window, lane.upgrade) if pair for t in pair]
    times += [t for soak in timeline.soaks for t in (soak.start, soak.end)]
    times += [marker.at for marker in timeline.markers] or [timeline.now]
    start, end = min(times), max(times)
    margin = max((end - start) * 0.03, timedelta(seconds=1))
    minimum = (end - start) * 0.004 or timedelta(seconds=1)
    for row, lane in enumerate(lanes):
        y = count - 1 - row
        if lane.window is not None:
            _bar(ax, lane.window, y, 0.42, minimum, facecolors=ESTIMATE_COLOUR, gid=f"{lane.name}:window",
                 zorder=1)
        if lane.upgrade is not None:
            colour = OUTCOME_COLOURS.get(lane.outcome, OKABE_ITO["orange"])
            _bar(ax, lane.upgrade, y, 0.27, minimum, facecolors=colour, edgecolors="#333333",
                 linewidths=0.4, hatch=".." if lane.outcome == "running" else None,
                 gid=f"{lane.name}:{lane.outcome}", zorder=2)
    for soak in timeline.soaks:
        rows = [count - 1 - row for row, lane in enumerate(lanes) if lane.wave == soak.wave] or [0]
        ax.fill_betweenx([min(rows) - 0.45, max(rows) + 0.45], date_num(soak.start), date_num(soak.end),
                         color=SOAK_COLOUR, alpha=0.35, linewidth=0, gid=f"soak:{soak.wave}", zorder=0)
    for marker in timeline.markers:
        _marker(ax, marker, top=count - 0.3, middle=start + (end - start) / 2)
    ax.set_xlim(date_num(start - margin), date_num(end + margin))
    ax.set_ylim(-0.7, count - 0.3)
    ax.set_yticks(range(count), [plain(f"W{lane.wave} {lane.name}"[:30]) for lane in reversed(lanes)]
                  or [""], fontsize=8)
    time_axis(ax, span=end - start)
    ax.set_xlabel("time (UTC)", fontsize=8)
    ax.grid(axis="x", color="#CCCCCC", linewidth=0.5)
    ax.tick_params(axis="x", labelsize=8)
    _legend(figure, timeline)
    return figure


def _bar(ax: Axes, pair: tuple[datetime, datetime], y: float, half: float, minimum: timedelta,
         **style: object) -> None:
    start, end = pair
    width = date_num(max(end, start + minimum)) - date_num(start)
    draw_bars(ax, [(date_num(start), width)], y, half, **style)


def _marker(ax: Axes, marker: CampaignMarker, *, top: float, middle: datetime) -> None:
    colour, style = MARKER_STYLES[marker.kind]
    ax.axvline(date_num(marker.at), color=colour, linestyle=style, linewidth=1.6, gid=f"marker:{marker.kind}",
               zorder=4)
    left_side = marker.at > middle
    ax.annotate(plain(marker.label), (date_num(marker.at), top), xytext=(-3 if left_side else 3, -2),
                textcoords="offset points", fontsize=7, color=colour, va="top",
                ha="right" if left_side else "left", zorder=5, annotation_clip=False,
                backgroundcolor=(1, 1, 1, 0.7))


def _legend(figure: Figure, timeline: CampaignTimeline) -> None:
    outcomes = dict.fromkeys(lane.outcome for lane in timeline.lanes if lane.upgrade is not None)
    handles: list[Patch | Line2D] = [Patch(facecolor=ESTIMATE_COLOUR, label="window as proposed")]
    handles += [Patch(facecolor=OUTCOME_COLOURS.get(kind, OKABE_ITO["orange"]), edgecolor="#333333",
                      label=OUTCOME_NAMES.get(kind, kind)) for kind in outcomes]
    if timeline.soaks:
        handles.append(Patch(facecolor=SOAK_COLOUR, alpha=0.35, label="soak (the bot re-checks)"))
    for kind in dict.fromkeys(marker.kind for marker in timeline.markers):
        colour, style = MARKER_STYLES[kind]
        handles.append(Line2D([], [], color=colour, linestyle=style, linewidth=1.6, label=kind))
    figure.legend(handles=handles, loc="lower center", ncols=min(5, len(handles)), fontsize=8, frameon=False,
                  bbox_to_anchor=(0.5, 0.0))
