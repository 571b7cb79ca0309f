"""``GET /metrics``: Prometheus text exposition of what an operator of several replicas needs to see.

Plans by state, each DMS's reachability, who holds which lease (plan executions and the scheduler),
whether this process leads the scheduler, how often executions waited for the database, and Slack calls
that failed for good; then the histograms and counters of ``bot.metrics_calls`` (hop durations, DMS
call latency and errors, Slack calls and retries).

prometheus_client writes the text; every value is read at scrape time by the collectors here. The
registries belong to the runtime scraped, never the client's process-wide default, so runtimes in one
process (tests, replicas) never share a metric. The database is read in a worker thread, never on the
event loop; this process's state on the loop, where it changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Protocol

from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from bot.health import DmsProbe
from bot.metrics_calls import CallCollector, hop_family, step_durations
from dms.call_stats import CALL_STATS
from handlers.delivery.notifier import SlackNotifier
from handlers.delivery.slack_web import SLACK_STATS
from handlers.listeners.middleware import ListenerWork
from workflow import operations
from workflow.engine import UpgradeEngine
from workflow.model.outbox import PENDING, REFUSED


class Source(Protocol):
    """What the metrics read (``bot.app.Runtime``)."""

    @property
    def db(self) -> Engine: ...
    @property
    def engine(self) -> UpgradeEngine: ...
    @property
    def notifier(self) -> SlackNotifier: ...

    dms_probe: DmsProbe | None
    listener_work: ListenerWork

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4


class StoredCollector(Collector):
    """What the database says, so every replica reports the same: plans by state, lease holders, the
    Slack outbox and the hop durations. Blocks on the database: collect in a worker thread."""

    def __init__(self, db: Engine) -> None:
        self._db = db

    def collect(self) -> Iterator[Metric]:
        counts = operations.read_counts(self._db)
        plans = GaugeMetricFamily("dmu_plans", "Upgrade plans by state.", labels=["state"])
        for state, count in counts.plans_by_state:
            plans.add_metric([state], count)
        leases = GaugeMetricFamily("dmu_lease_owner", "Who holds each lease (1 per lease; expired ones "
                                   "included).", labels=["name", "owner"])
        for name, owner in counts.leases:
            leases.add_metric([name, owner], 1)
        messages = GaugeMetricFamily("dmu_slack_outbox", "Slack messages in the outbox: still to send, or "
                                     "refused for good.", labels=["state"])
        for state, count in sorted(({PENDING: 0, REFUSED: 0} | counts.outbox_by_state).items()):
            messages.add_metric([state], count)
        hops = step_durations(counts.hop_step_times)
        yield from (plans, leases, messages, hop_family(hops))


class LiveCollector(Collector):
    """This process's own state: DMS reachability, scheduler leadership, database waits, Slack messages
    refused or waiting, listeners running. Reads objects the event loop changes: collect on the loop."""

    def __init__(self, runtime: Source) -> None:
        self._runtime = runtime

    def collect(self) -> Iterator[Metric]:
        runtime = self._runtime
        reachable = GaugeMetricFamily("dmu_dms_reachable", "Whether the DMS answered its last probe (1), "
                                      "did not (0), or was not asked yet (-1).", labels=["dms"])
        for name, status in (runtime.dms_probe.status() if runtime.dms_probe else {}).items():
            reachable.add_metric([name], -1 if status.reachable is None else int(status.reachable))
        engine, sender = runtime.engine, runtime.notifier.sender
        yield from (
            reachable,
            GaugeMetricFamily("dmu_scheduler_leader", "Whether this process runs the scheduled jobs.",
                              value=int(engine.replica.leading)),
            CounterMetricFamily("dmu_execution_database_waits_total", "Times an execution waited for the "
                                "database.", value=engine.executions.db_waits),
            CounterMetricFamily("dmu_slack_failures_total", "Slack messages refused for good by this "
                                "process (audited).", value=runtime.notifier.failures),
            CounterMetricFamily("dmu_slack_outbox_retries_total", "Outbox deliveries Slack did not take "
                                "(to be tried again).", value=sender.retries),
            GaugeMetricFamily("dmu_listeners_running", "Slack listeners still working after their ack.",
                              value=runtime.listener_work.running),
        )


def registries(runtime: Source) -> tuple[CollectorRegistry, CollectorRegistry]:
    """The runtime's metrics in two registries: (read in a worker thread, read on the event loop)."""
    stored, live = CollectorRegistry(), CollectorRegistry()
    stored.register(StoredCollector(runtime.db))
    live.register(LiveCollector(runtime))
    live.register(CallCollector(CALL_STATS, SLACK_STATS))
    return stored, live


async def render(runtime: Source) -> str:
    stored, live = registries(runtime)
    text = await asyncio.get_running_loop().run_in_executor(None, generate_latest, stored)
    return (text + generate_latest(live)).decode()
