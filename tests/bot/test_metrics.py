"""``GET /metrics``: Prometheus text with plans by state, DMS reachability, leases and the leader, hop
durations, DMS call latency and errors, Slack calls and retries; every line parses."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.core import Metric

from bot.metrics_calls import CallCollector, hop_family, step_durations
from dms.call_stats import CallStats
from handlers.delivery.slack_web import SlackCallStats
from tests.handlers.conftest import Stack, plan_message
from tests.handlers.stacks import custom_stack
from tests.support.polling import wait_until

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_PAIR = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
_VALUE = r"-?[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?"
SAMPLE = re.compile(rf"^({_NAME})(\{{(?:{_PAIR}(?:,{_PAIR})*)?\}})? ({_VALUE})$")
COMMENT = re.compile(rf"^# (HELP {_NAME} .+|TYPE {_NAME} (counter|gauge|histogram))$")


def parse(body: str) -> dict[str, float]:
    """Every line is a comment or ``name{labels} value``; the samples by ``name{labels}``."""
    assert body.endswith("\n")
    samples: dict[str, float] = {}
    for line in body.splitlines():
        if line.startswith("#"):
            assert COMMENT.match(line), line
            continue
        match = SAMPLE.match(line)
        assert match, line
        key = match.group(1) + (match.group(2) or "")
        assert key not in samples, f"duplicate sample {key}"
        samples[key] = float(match.group(3))
    return samples


OPS_TOKEN = "metrics-test-token-0123456789"


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    """The app with OPS_TOKEN: on the app's port /metrics answers only with it."""
    async with custom_stack(tmp_path, ops_token=OPS_TOKEN) as built:
        yield built


async def test_metrics_show_plans_reachability_leases_and_calls(stack: Stack) -> None:
    assert (await stack.slash("plan 10.4")).status_code == 200
    await plan_message(stack)
    await stack.settle()

    async def text() -> str:
        response = await stack.http.get("/metrics", headers={"Authorization": f"Bearer {OPS_TOKEN}"})
        assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/plain")
        return response.text

    await wait_until(lambda: _has(text, 'dmu_dms_reachable{dms="default"} 1'), timeout_s=10,
                     what="the DMS probe")
    body = await text()
    samples = parse(body)
    assert samples['dmu_plans{state="planned"}'] == 1
    assert samples["dmu_scheduler_leader"] == 1
    assert 'dmu_lease_owner{name="scheduler",owner="' in body
    assert samples["dmu_execution_database_waits_total"] == 0
    # Everything said so far went out: the outbox is empty.
    assert samples['dmu_slack_outbox{state="pending"}'] == 0 == samples['dmu_slack_outbox{state="refused"}']
    assert samples["dmu_slack_outbox_retries_total"] == 0
    # No hop has run: the histogram is there, empty.
    assert samples['dmu_hop_duration_seconds_count{step="hop"}'] == 0
    # Planning read the DMS's agents: those requests are counted under the target's name.
    info = 'dmu_dms_call_duration_seconds_count{dms="default",method="GetDataMinerAgentsInfo",outcome="ok"}'
    assert samples[info] >= 1
    posted = samples['dmu_slack_calls_total{method="chat.postMessage",outcome="ok"}']
    assert posted >= 1

    # Values move when calls happen: the pre-check reads the agents again.
    assert (await stack.slash("check")).status_code == 200
    await stack.settle()
    await wait_until(lambda: _moved(text, info, samples[info]), timeout_s=10, what="the pre-check's calls")
    assert parse(await text())['dmu_slack_calls_total{method="chat.postMessage",outcome="ok"}'] > posted


class _Families:
    """A collector of fixed families, so a test renders them as ``/metrics`` would."""

    def __init__(self, *families: Metric) -> None:
        self.families = families

    def collect(self) -> tuple[Metric, ...]:
        return self.families


def _text(*families: Metric) -> str:
    return generate_latest(_Families(*families)).decode()


def _calls(dms: CallStats, slack: SlackCallStats) -> str:
    return generate_latest(CallCollector(dms, slack)).decode()


async def _has(text: object, line: str) -> bool:
    return line in await text()  # type: ignore[operator]


async def _moved(text: object, key: str, before: float) -> bool:
    return parse(await text()).get(key, 0) > before  # type: ignore[operator]


def test_dms_calls_render_as_histograms_with_escaped_labels() -> None:
    stats = CallStats()
    name = 'lab "A"\\b\nc'
    stats.record(dms=name, method="GetActiveAlarms", outcome="timeout", seconds=12.0)
    stats.record(dms=name, method="GetActiveAlarms", outcome="timeout", seconds=0.02)
    samples = parse(_calls(stats, SlackCallStats()))
    dms, rest = 'dms="lab \\"A\\"\\\\b\\nc"', 'method="GetActiveAlarms",outcome="timeout"'
    assert samples[f"dmu_dms_call_duration_seconds_count{{{dms},{rest}}}"] == 2
    assert samples[f"dmu_dms_call_duration_seconds_sum{{{dms},{rest}}}"] == 12.02
    # Labels come in name order, so ``le`` sits between ``dms`` and ``method``.
    assert samples[f'dmu_dms_call_duration_seconds_bucket{{{dms},le="0.025",{rest}}}'] == 1
    assert samples[f'dmu_dms_call_duration_seconds_bucket{{{dms},le="10",{rest}}}'] == 1
    assert samples[f'dmu_dms_call_duration_seconds_bucket{{{dms},le="+Inf",{rest}}}'] == 2


def test_slack_calls_and_retries_render_as_counters() -> None:
    stats = SlackCallStats()
    assert parse(_calls(CallStats(), stats)) == {}
    stats.call("chat.update", outcome="error")
    stats.retry("rate_limited")
    stats.retry("rate_limited")
    samples = parse(_calls(CallStats(), stats))
    assert samples == {'dmu_slack_calls_total{method="chat.update",outcome="error"}': 1,
                       'dmu_slack_retries_total{reason="rate_limited"}': 2}


def test_hop_durations_count_finished_steps_and_hops() -> None:
    start = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)

    def at(minutes: float) -> datetime:
        return start + timedelta(minutes=minutes)

    finished = {"upload_started_at": at(0), "upload_done_at": at(5), "upgrade_started_at": at(5),
                "upgrade_done_at": at(6), "wait_started_at": at(6), "wait_done_at": at(40)}
    running = {"upload_started_at": at(0), "upload_done_at": at(0.5), "upgrade_started_at": at(0.5),
               "upgrade_done_at": None, "wait_started_at": None, "wait_done_at": None}
    durations = step_durations([finished, running])
    assert durations == {"upload": [300.0, 30.0], "upgrade": [60.0], "wait": [2040.0], "hop": [2400.0]}
    samples = parse(_text(hop_family(durations)))
    assert samples['dmu_hop_duration_seconds_count{step="upload"}'] == 2
    assert samples['dmu_hop_duration_seconds_bucket{le="60",step="upload"}'] == 1
    assert samples['dmu_hop_duration_seconds_bucket{le="1800",step="hop"}'] == 0
    assert samples['dmu_hop_duration_seconds_bucket{le="3600",step="hop"}'] == 1
    assert samples['dmu_hop_duration_seconds_sum{step="hop"}'] == 2400
