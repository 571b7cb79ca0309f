"""``GET /metrics``: Prometheus text exposition of what an operator of several replicas needs to see.

Plans by state, each DMS's reachability, who holds which lease (plan executions and the scheduler),
whether this process leads the scheduler, how often executions waited for the database, and Slack calls
that failed for good; then the histograms and counters of ``bot.metrics_calls`` (hop durations, DMS
call latency and errors, Slack calls and retries). Read from the database in a worker thread, never on
the event loop.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from sqlalchemy import Engine, func
from sqlmodel import Session, select

from bot.health import DmsProbe
from bot.metrics_calls import dms_call_lines, hop_lines, read_hop_durations, slack_lines
from bot.metrics_calls import label as _label
from dms.call_stats import CALL_STATS
from handlers.middleware import ListenerWork
from handlers.notifier import SlackNotifier
from handlers.slack_web import SLACK_STATS
from workflow.engine import UpgradeEngine
from workflow.store.outbox import PENDING, REFUSED
from workflow.store.tables import Lease, SlackOutboxMessage, UpgradePlan


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

CONTENT_TYPE = "text/plain; version=0.0.4"


def _database_lines(db: Engine) -> list[str]:
    with Session(db) as session:
        by_state = session.exec(select(UpgradePlan.state, func.count()).group_by(UpgradePlan.state)).all()
        held = session.exec(select(Lease)).all()
        hops = read_hop_durations(session)
        outbox = session.exec(select(SlackOutboxMessage.state, func.count())
                              .group_by(SlackOutboxMessage.state)).all()
    lines = ["# HELP dmu_plans Upgrade plans by state.", "# TYPE dmu_plans gauge"]
    lines += [f'dmu_plans{{state="{_label(state)}"}} {count}' for state, count in sorted(by_state)]
    lines += ["# HELP dmu_lease_owner Who holds each lease (1 per lease; expired ones included).",
              "# TYPE dmu_lease_owner gauge"]
    lines += [f'dmu_lease_owner{{name="{_label(row.name)}",owner="{_label(row.owner)}"}} 1' for row in held
              if not row.name.startswith("healthz:")]
    lines += ["# HELP dmu_slack_outbox Slack messages in the outbox: still to send, or refused for good.",
              "# TYPE dmu_slack_outbox gauge"]
    counts = {PENDING: 0, REFUSED: 0} | dict(outbox)
    lines += [f'dmu_slack_outbox{{state="{_label(state)}"}} {n}' for state, n in sorted(counts.items())]
    return lines + hop_lines(hops)


async def render(runtime: Source) -> str:
    loop = asyncio.get_running_loop()
    lines = await loop.run_in_executor(None, _database_lines, runtime.db)
    probe = runtime.dms_probe
    lines += ["# HELP dmu_dms_reachable Whether the DMS answered its last probe (1), did not (0), or "
              "was not asked yet (-1).", "# TYPE dmu_dms_reachable gauge"]
    for name, status in (probe.status() if probe else {}).items():
        value = -1 if status.reachable is None else int(status.reachable)
        lines.append(f'dmu_dms_reachable{{dms="{_label(name)}"}} {value}')
    engine, sender = runtime.engine, runtime.notifier.sender
    lines += [
        "# HELP dmu_scheduler_leader Whether this process runs the scheduled jobs.",
        "# TYPE dmu_scheduler_leader gauge", f"dmu_scheduler_leader {int(engine.replica.leading)}",
        "# HELP dmu_execution_database_waits_total Times an execution waited for the database.",
        "# TYPE dmu_execution_database_waits_total counter",
        f"dmu_execution_database_waits_total {engine.executions.db_waits}",
        "# HELP dmu_slack_failures_total Slack messages refused for good by this process (audited).",
        "# TYPE dmu_slack_failures_total counter", f"dmu_slack_failures_total {runtime.notifier.failures}",
        "# HELP dmu_slack_outbox_retries_total Outbox deliveries Slack did not take (to be tried again).",
        "# TYPE dmu_slack_outbox_retries_total counter", f"dmu_slack_outbox_retries_total {sender.retries}",
        "# HELP dmu_slack_outbox_unwritten Messages waiting in memory for the database to take them.",
        "# TYPE dmu_slack_outbox_unwritten gauge", f"dmu_slack_outbox_unwritten {sender.unwritten}",
        "# HELP dmu_listeners_running Slack listeners still working after their ack.",
        "# TYPE dmu_listeners_running gauge", f"dmu_listeners_running {runtime.listener_work.running}",
    ]
    lines += dms_call_lines(CALL_STATS) + slack_lines(SLACK_STATS)
    return "\n".join(lines) + "\n"
