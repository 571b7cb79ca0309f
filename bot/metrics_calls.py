"""The histograms and counters of ``/metrics`` (``bot.metrics`` renders the gauges and calls these).

* ``dmu_hop_duration_seconds``: finished hops' steps, from the step times in ``plan_hop`` (the database is
  the record, so every replica reports the same and the figures survive restarts);
* ``dmu_dms_call_duration_seconds``: every request to a DMS by target name, method and outcome
  (``dms.call_stats``, this process's requests);
* ``dmu_slack_calls_total`` and ``dmu_slack_retries_total``: Web API calls by method and outcome, and the
  retries done by reason (``handlers.slack_web``, this process's calls).

Text exposition format 0.0.4, written by hand: label values escaped, bucket bounds cumulative, ``+Inf``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from dms.call_stats import CallStats
from handlers.slack_web import SlackCallStats
from workflow.store.tables import PlanHop

# Steps of a hop take minutes on a real DMS (an upload with its checks 5-30, agents starting 10-60),
# seconds against the simulator: the buckets cover both.
HOP_BUCKETS_S: tuple[float, ...] = (1, 10, 60, 300, 600, 1200, 1800, 3600, 7200, 14400)
STEPS = ("upload", "upgrade", "wait")


def label(value: str) -> str:
    """A label value as the exposition format wants it: backslash, double quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(pairs: Mapping[str, str]) -> str:
    return ",".join(f'{name}="{label(value)}"' for name, value in pairs.items())


def _bound(value: float) -> str:
    return "+Inf" if value == float("inf") else f"{value:g}"


def histogram(name: str, series: Iterable[tuple[Mapping[str, str], Sequence[tuple[float, int]], float, int]]
              ) -> list[str]:
    """Lines of one histogram: per label set its cumulative (bound, count) buckets ending with +Inf,
    the sum and the count."""
    lines: list[str] = []
    for labels, buckets, total, count in series:
        prefix = _labels(labels)
        sep = "," if prefix else ""
        lines += [f'{name}_bucket{{{prefix}{sep}le="{_bound(bound)}"}} {hits}' for bound, hits in buckets]
        lines += [f"{name}_sum{{{prefix}}} {total:.6f}", f"{name}_count{{{prefix}}} {count}"]
    return lines


# ------------------------------------------------------------------------------------------- hops


def step_durations(rows: Iterable[Mapping[str, datetime | None]]) -> dict[str, list[float]]:
    """Seconds of each finished step (``upload``, ``upgrade``, ``wait``) and of each finished hop
    (``hop``: from its first step's start to the end of its wait) from ``PlanHop.step_times()``."""
    durations: dict[str, list[float]] = {step: [] for step in (*STEPS, "hop")}
    for times in rows:
        for step in STEPS:
            start, end = times.get(f"{step}_started_at"), times.get(f"{step}_done_at")
            if start is not None and end is not None:
                durations[step].append(max(0.0, (end - start).total_seconds()))
        starts = [times.get(f"{step}_started_at") for step in STEPS]
        first = min((start for start in starts if start is not None), default=None)
        done = times.get("wait_done_at")
        if first is not None and done is not None:
            durations["hop"].append(max(0.0, (done - first).total_seconds()))
    return durations


def hop_lines(durations: Mapping[str, Sequence[float]]) -> list[str]:
    name = "dmu_hop_duration_seconds"
    series = []
    for step, values in durations.items():
        buckets = [(bound, sum(1 for value in values if value <= bound)) for bound in HOP_BUCKETS_S]
        buckets.append((float("inf"), len(values)))
        series.append(({"step": step}, buckets, sum(values), len(values)))
    return [f"# HELP {name} Finished hops and their steps (upload, upgrade, wait; hop: all of it).",
            f"# TYPE {name} histogram", *histogram(name, series)]


def read_hop_durations(session: Session) -> dict[str, list[float]]:
    """From the database: hops with at least one finished step (runs in a worker thread)."""
    rows = session.exec(select(PlanHop).where(
        col(PlanHop.upload_done_at).is_not(None) | col(PlanHop.upgrade_done_at).is_not(None)
        | col(PlanHop.wait_done_at).is_not(None))).all()
    return step_durations(row.step_times() for row in rows)


# ------------------------------------------------------------------------------------------- calls


def dms_call_lines(stats: CallStats) -> list[str]:
    name = "dmu_dms_call_duration_seconds"
    series = [({"dms": dms, "method": method, "outcome": outcome}, data.cumulative(), data.total_s,
               data.count) for (dms, method, outcome), data in stats.snapshot().items()]
    return [f"# HELP {name} Requests to each DMS (every attempt) by method and outcome (ok, fault, "
            "http_error, timeout, connection_error, protocol_error).", f"# TYPE {name} histogram",
            *histogram(name, series)]


def slack_lines(stats: SlackCallStats) -> list[str]:
    lines = ["# HELP dmu_slack_calls_total Slack Web API calls by method and outcome (ok, error), however "
             "many attempts each took.", "# TYPE dmu_slack_calls_total counter"]
    lines += [f"dmu_slack_calls_total{{{_labels({'method': method, 'outcome': outcome})}}} {count}"
              for (method, outcome), count in stats.calls().items()]
    lines += ["# HELP dmu_slack_retries_total Slack Web API attempts retried, by reason (rate_limited, "
              "server_error, connection_error).", "# TYPE dmu_slack_retries_total counter"]
    lines += [f'dmu_slack_retries_total{{reason="{label(reason)}"}} {count}'
              for reason, count in stats.retries().items()]
    return lines
