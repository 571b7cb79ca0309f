"""The timeline picture (PNG) of one plan, drawn with matplotlib's Agg backend from ``workflow.timeline``.

Import this module only where a picture is drawn: matplotlib costs a few hundred milliseconds to import,
and ``dm-upgrade path`` and the other commands must not pay that (``tests/bot/test_cli_imports.py``).
The figure is a ``matplotlib.figure.Figure`` with its own Agg canvas, never pyplot (no global backend
or figure registry, nothing set on import), so pictures can be drawn in worker threads
(``render_png_async``) while the event loop goes on.

Layout: the MOP's phases over the plan's whole life on top; below, zoomed on the execution, every hop's
steps, the verification and one lane per agent showing when it was down. Estimates (low-high) are grey
bands behind what happened; approval, failure, cancel, done and "now" are vertical lines. Colours are the
Okabe-Ito palette (readable with every common colour-vision deficiency); times are UTC.
"""

from __future__ import annotations

import asyncio
import io
import textwrap
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from workflow.timeline import Lane, Marker, SpanKind, Timeline

# Okabe & Ito (2008), "Color Universal Design".
OKABE_ITO = {
    "orange": "#E69F00", "sky_blue": "#56B4E9", "bluish_green": "#009E73", "yellow": "#F0E442",
    "blue": "#0072B2", "vermillion": "#D55E00", "reddish_purple": "#CC79A7", "black": "#000000",
}
SPAN_COLOURS: dict[SpanKind, str] = {
    "phase": OKABE_ITO["blue"], "upload": OKABE_ITO["sky_blue"], "upgrade": OKABE_ITO["orange"],
    "restart": OKABE_ITO["reddish_purple"], "verify": OKABE_ITO["bluish_green"],
    "starting": OKABE_ITO["yellow"], "disconnected": OKABE_ITO["vermillion"],
    "unreachable": OKABE_ITO["vermillion"], "down": OKABE_ITO["vermillion"],
}
SPAN_NAMES: dict[SpanKind, str] = {
    "phase": "MOP phase", "upload": "upload only + prerequisite checks", "upgrade": "upgrade started",
    "restart": "agents restarting", "verify": "verification", "starting": "agent starting",
    "disconnected": "agent disconnected", "unreachable": "agent unreachable", "down": "agent down",
}
LineStyle = Literal["-", "--", ":"]
MARKER_STYLES: dict[str, tuple[str, LineStyle]] = {  # kind -> (colour, line style)
    "approval": (OKABE_ITO["bluish_green"], "--"), "failure": (OKABE_ITO["vermillion"], "-"),
    "cancel": (OKABE_ITO["black"], "--"), "done": (OKABE_ITO["bluish_green"], "-"),
    "now": (OKABE_ITO["black"], ":"),
}
ESTIMATE_COLOUR = "#D9D9D9"
ESTIMATE_RANGE_COLOUR = "#A6A6A6"
SHORT_PHASES = {
    "Determine the upgrade version and time slot": "Determine version and slot",
    "Establish the details for the upgrade": "Establish the details",
    "Perform a pre-upgrade check on the day before the upgrade": "Pre-upgrade check",
    "Execute the DataMiner upgrade": "Execute the upgrade",
}
WIDTH_IN = 12.0  # 1200 px at 100 dpi: a laptop screen, and Slack's preview scales it down legibly
DPI = 100
LANE_IN = 0.26
LEFT_IN, TOP_IN, BOTTOM_IN, GAP_IN = 2.6, 0.95, 1.25, 0.85  # room for lane labels, title, axis + legend
MAX_LABEL = 34
MARKER_LABEL_WIDTH = 44  # characters per line of a marker's label: wrapped, never shortened
SHORT_AXIS = timedelta(hours=3)  # up to this span the axis reads 13:31:20, not bare seconds ("22 23 24")


def render_png(timeline: Timeline) -> bytes:
    """The picture as PNG bytes (CPU-bound: call ``render_png_async`` from the event loop)."""
    figure = draw(timeline)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


async def render_png_async(timeline: Timeline) -> bytes:
    """``render_png`` in a worker thread, so drawing never blocks the event loop."""
    return await asyncio.to_thread(render_png, timeline)


def draw(timeline: Timeline) -> Figure:
    """The figure; every bar, band and line carries a ``gid`` (``lane-key:kind``) that tests can read."""
    execution = [*timeline.execution, *timeline.agents] if timeline.executed else []
    rows = [len(timeline.phases) or 1, *([len(execution)] if execution else [])]
    height = TOP_IN + BOTTOM_IN + LANE_IN * sum(rows) + GAP_IN * (len(rows) - 1)
    # Fixed margins in inches rather than matplotlib's layout engines: those measure every label by
    # drawing the figure once more, which doubles the time of a 60-lane picture.
    figure = Figure(figsize=(WIDTH_IN, height), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(rows), 1, squeeze=False, height_ratios=rows,
                           gridspec_kw={"left": LEFT_IN / WIDTH_IN, "right": 1 - 0.25 / WIDTH_IN,
                                        "top": 1 - TOP_IN / height, "bottom": BOTTOM_IN / height,
                                        "hspace": GAP_IN / (LANE_IN * sum(rows) / len(rows))})[:, 0]
    scaled = f"  (simulated DMS at {timeline.time_scale:g}x)" if timeline.time_scale != 1 else ""
    figure.suptitle(f"{plain(timeline.title)}: {timeline.state.label}{scaled}", fontsize=12,
                    fontweight="bold")
    _lanes(axes[0], timeline.phases, markers=timeline.markers, title="MOP phases (whole plan)",
           ongoing_until=timeline.now, label_markers=not execution)
    if execution:
        _lanes(axes[1], execution, markers=timeline.markers, title="Execution: hops, verification, agents",
               ongoing_until=timeline.now, label_markers=True)
    _legend(figure, timeline, lanes=[*timeline.phases, *execution])
    return figure


def date_num(at: datetime) -> float:
    return float(mdates.date2num(at))


def _lane_times(lanes: Sequence[Lane]) -> list[datetime]:
    times: list[datetime] = []
    for lane in lanes:
        if lane.estimate is not None:
            times += [lane.estimate.start, lane.estimate.high_end]
        times += [t for span in lane.spans for t in (span.start, span.end)]
    return times


def draw_bars(ax: Axes, bars: list[tuple[float, float]], y: float, half: float,
              **style: Any) -> PolyCollection:
    """Rectangles (x, width) at height ``y``: one collection, added without autoscaling (the limits are
    set once per axis), which is what keeps a 60-lane picture fast (``broken_barh`` costs ~8 ms each)."""
    boxes = [[(x, y - half), (x, y + half), (x + w, y + half), (x + w, y - half)] for x, w in bars]
    collection = PolyCollection(boxes, **style)
    ax.add_collection(collection, autolim=False)
    return collection


def _lanes(ax: Axes, lanes: Sequence[Lane], *, markers: Sequence[Marker], title: str,
           ongoing_until: datetime, label_markers: bool) -> None:
    count = len(lanes)
    times = _lane_times(lanes) or [ongoing_until]
    span_of_axis = date_num(max(times)) - date_num(min(times))

    def _width(start: datetime, end: datetime) -> float:
        # At least a sliver of the axis, so a step of seconds in a day-long panel is still seen.
        return max(date_num(end) - date_num(start), span_of_axis * 0.004, 1e-7)

    for row, lane in enumerate(lanes):
        y = count - 1 - row  # the first lane on top
        if lane.estimate is not None:
            band = lane.estimate
            draw_bars(ax, [(date_num(band.start), _width(band.start, band.high_end))], y, 0.42,
                  facecolors=ESTIMATE_COLOUR, gid=f"{lane.key}:estimate", zorder=1)
            draw_bars(ax, [(date_num(band.low_end), _width(band.low_end, band.high_end))], y, 0.42,
                  facecolors=ESTIMATE_RANGE_COLOUR, linewidth=0, gid=f"{lane.key}:estimate-range", zorder=1)
        by_kind: dict[SpanKind, list[tuple[float, float]]] = {}
        ongoing: list[tuple[float, float]] = []
        for span in lane.spans:
            bar = (date_num(span.start), _width(span.start, span.end))
            by_kind.setdefault(span.kind, []).append(bar)
            if span.ongoing:
                ongoing.append(bar)
        for kind, bars in by_kind.items():
            draw_bars(ax, bars, y, 0.27, facecolors=SPAN_COLOURS[kind], edgecolors="#333333", linewidths=0.4,
                  gid=f"{lane.key}:{kind}", zorder=2)
        if ongoing:
            draw_bars(ax, ongoing, y, 0.27, facecolors="none", hatch="..", edgecolors="white", linewidths=0,
                  gid=f"{lane.key}:ongoing", zorder=3)
    _axis(ax, lanes, title=title, markers=markers, times=times, label_markers=label_markers)


def _axis(ax: Axes, lanes: Sequence[Lane], *, title: str, markers: Sequence[Marker],
          times: list[datetime], label_markers: bool) -> None:
    count = len(lanes)
    start, end = min(times), max(times)
    shown = [m for m in markers if start - (end - start) * 0.5 <= m.at <= end + (end - start) * 0.5]
    times += [m.at for m in shown]
    start, end = min(times), max(times)
    margin = max((end - start) * 0.03, timedelta(seconds=1))
    ax.set_xlim(date_num(start - margin), date_num(end + margin))
    ax.set_ylim(-0.7, count - 0.3)
    ax.set_yticks(range(count), [_label(lane) for lane in reversed(lanes)], fontsize=8)
    for tick, lane in zip(ax.get_yticklabels(), reversed(lanes), strict=True):
        tick.set_fontweight("bold" if lane.group in ("hop", "verify") else "normal")
    for y, lane in enumerate(reversed(lanes)):
        if lane.group == "agent" and (count - 1 - y) % 2 == 0:
            ax.axhspan(y - 0.5, y + 0.5, color="#F4F4F4", zorder=0, linewidth=0)
    for marker in shown:
        colour, style = MARKER_STYLES[marker.kind]
        ax.axvline(date_num(marker.at), color=colour, linestyle=style, linewidth=1.6,
                   gid=f"marker:{marker.kind}", zorder=4)
        if label_markers:
            _marker_label(ax, marker, colour=colour, top=count - 0.3, start=start - margin, end=end + margin)
    time_axis(ax, span=end - start)
    ax.set_xlabel("time (UTC)", fontsize=8)
    ax.set_title(title, fontsize=10, loc="left")
    ax.grid(axis="x", color="#CCCCCC", linewidth=0.5)
    ax.tick_params(axis="x", labelsize=8)
    ax.set_axisbelow(True)


def _marker_label(ax: Axes, marker: Marker, *, colour: str, top: float, start: datetime,
                  end: datetime) -> None:
    """The marker's whole label beside its line, wrapped; on the line's left in the right half of the
    panel, so that a late cancel's reason stays inside the picture."""
    left_side = marker.at - start > (end - start) / 2
    text = "\n".join(textwrap.wrap(plain(marker.label), MARKER_LABEL_WIDTH)) or plain(marker.label)
    ax.annotate(text, (date_num(marker.at), top), xytext=(-3 if left_side else 3, -2),
                textcoords="offset points", fontsize=7, color=colour, va="top",
                ha="right" if left_side else "left", zorder=5, annotation_clip=False,
                backgroundcolor=(1, 1, 1, 0.7))


def time_axis(ax: Axes, *, span: timedelta) -> None:
    """Date ticks; a short span as hours:minutes:seconds (the concise form shows bare seconds there)."""
    locator = mdates.AutoDateLocator(tz=UTC, minticks=4, maxticks=10)
    ax.xaxis.set_major_locator(locator)
    formatter: mdates.DateFormatter | mdates.ConciseDateFormatter = (
        mdates.DateFormatter("%H:%M:%S", tz=UTC) if span <= SHORT_AXIS
        else mdates.ConciseDateFormatter(locator, tz=UTC))
    ax.xaxis.set_major_formatter(formatter)


def _label(lane: Lane) -> str:
    text = lane.label
    if lane.group == "phase":
        number, _, name = text.partition(". ")
        text = f"{number}. {SHORT_PHASES.get(name, name)}"
    text = text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"
    return plain(text)


def _legend(figure: Figure, timeline: Timeline, *, lanes: Sequence[Lane]) -> None:
    kinds = [kind for kind in SPAN_NAMES if any(s.kind == kind for lane in lanes for s in lane.spans)]
    handles: list[Patch | Line2D] = [
        Patch(facecolor=SPAN_COLOURS[k], edgecolor="#333333", label=SPAN_NAMES[k])
        for k in kinds if k not in ("unreachable", "down") or "disconnected" not in kinds
    ]
    if any(lane.estimate for lane in lanes):
        handles.append(Patch(facecolor=ESTIMATE_COLOUR, label="estimate: until the low figure"))
        handles.append(Patch(facecolor=ESTIMATE_RANGE_COLOUR, label="estimate: low to high"))
    if any(s.ongoing for lane in lanes for s in lane.spans):
        handles.append(Patch(facecolor="#888888", hatch="..", edgecolor="white", label="still going"))
    for kind in dict.fromkeys(m.kind for m in timeline.markers):
        colour, style = MARKER_STYLES[kind]
        handles.append(Line2D([], [], color=colour, linestyle=style, linewidth=1.6, label=kind))
    figure.legend(handles=handles, loc="lower center", ncols=min(5, len(handles)), fontsize=8,
                  frameon=False, bbox_to_anchor=(0.5, 0.0))


def plain(text: str) -> str:
    """Text as written: matplotlib reads ``$...$`` as mathematics."""
    return text.replace("$", r"\$")
