"""The histograms and counters of ``/metrics`` (``bot.metrics`` adds the gauges and serves them all).

* ``dmu_hop_duration_seconds``: finished hops' steps, from the step times in ``plan_hop`` (the database is
  the record, so every replica reports the same and the figures survive restarts);
* ``dmu_dms_call_duration_seconds``: every request to a DMS by target name, method and outcome
  (``dms.call_stats``, this process's requests);
* ``dmu_slack_calls_total`` and ``dmu_slack_retries_total``: Web API calls by method and outcome, and the
  retries done by reason (``handlers.delivery.slack_web``, this process's calls).

prometheus_client's metric families, filled at scrape time from the counts kept where the calls happen.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from dms.call_stats import CallStats
from handlers.delivery.slack_web import SlackCallStats

# Steps of a hop take minutes on a real DMS (an upload with its checks 5-30, agents starting 10-60),
# seconds against the simulator: the buckets cover both.
HOP_BUCKETS_S: tuple[float, ...] = (1, 10, 60, 300, 600, 1200, 1800, 3600, 7200, 14400)
STEPS = ("upload", "upgrade", "wait")


def buckets(cumulative: Iterable[tuple[float, int]]) -> list[tuple[str, float]]:
    """(le, count) pairs of cumulative (bound, count) ending with infinity. The bounds are written as
    they always were (``le="10"``, not the client's ``le="10.0"``): dashboards select on them."""
    return [("+Inf" if bound == float("inf") else f"{bound:g}", hits) for bound, hits in cumulative]


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


def hop_family(durations: Mapping[str, Sequence[float]]) -> HistogramMetricFamily:
    family = HistogramMetricFamily(
        "dmu_hop_duration_seconds", "Finished hops and their steps (upload, upgrade, wait; hop: all of it).",
        labels=["step"])
    for step, values in durations.items():
        cumulative = [(bound, sum(1 for value in values if value <= bound)) for bound in HOP_BUCKETS_S]
        family.add_metric([step], buckets([*cumulative, (float("inf"), len(values))]), sum(values))
    return family


# ------------------------------------------------------------------------------------------- calls


def dms_call_family(stats: CallStats) -> HistogramMetricFamily:
    family = HistogramMetricFamily(
        "dmu_dms_call_duration_seconds", "Requests to each DMS (every attempt) by method and outcome (ok, "
        "fault, http_error, timeout, connection_error, protocol_error).", labels=["dms", "method", "outcome"])
    for key, data in stats.snapshot().items():
        family.add_metric(list(key), buckets(data.cumulative()), data.total_s)
    return family


def slack_families(stats: SlackCallStats) -> list[CounterMetricFamily]:
    calls = CounterMetricFamily(
        "dmu_slack_calls_total", "Slack Web API calls by method and outcome (ok, error), however many "
        "attempts each took.", labels=["method", "outcome"])
    for key, count in stats.calls().items():
        calls.add_metric(list(key), count)
    retries = CounterMetricFamily(
        "dmu_slack_retries_total", "Slack Web API attempts retried, by reason (rate_limited, server_error, "
        "connection_error).", labels=["reason"])
    for reason, count in stats.retries().items():
        retries.add_metric([reason], count)
    return [calls, retries]


class CallCollector(Collector):
    """This process's DMS requests and Slack Web API calls, read from their counts at scrape time."""

    def __init__(self, dms: CallStats, slack: SlackCallStats) -> None:
        self._dms = dms
        self._slack = slack

    def collect(self) -> Iterator[Metric]:
        yield dms_call_family(self._dms)
        yield from slack_families(self._slack)
