"""``dms.call_stats``: each request a client sends is counted by DMS, method and outcome, with its latency."""

from __future__ import annotations

import httpx
import pytest

from dms.call_stats import BUCKETS_S, CallStats
from dms.exceptions import DmsApiError, DmsProtocolError, DmsUnreachable
from tests.dms.dms_fakes import FakeDms, fault, make_client


async def test_each_attempt_is_counted_by_dms_method_and_outcome() -> None:
    stats = CallStats()
    fake = FakeDms()
    fake.queue["GetDataMinerAgentsInfo"] = [httpx.Response(503), httpx.ReadTimeout("slow"),
                                            httpx.ConnectError("refused")]
    fake.queue["GetDataMinerAgentsStatistics"] = [httpx.Response(200, text="<html>maintenance</html>")]
    fake.queue["GetActiveAlarms"] = [fault("Object reference not set")]
    client, _ = make_client(fake, retries=3, name="production", call_stats=stats)
    async with client:
        assert len(await client.agents_info()) == 3
        with pytest.raises(DmsProtocolError):
            await client.agents_statistics()
        with pytest.raises(DmsApiError):
            await client.active_alarms()
    counts = {key: series.count for key, series in stats.snapshot().items()}
    assert counts == {
        ("production", "ConnectApp", "ok"): 1,
        ("production", "GetActiveAlarms", "fault"): 1,
        ("production", "GetDataMinerAgentsInfo", "connection_error"): 1,
        ("production", "GetDataMinerAgentsInfo", "http_error"): 1,
        ("production", "GetDataMinerAgentsInfo", "ok"): 1,
        ("production", "GetDataMinerAgentsInfo", "timeout"): 1,
        ("production", "GetDataMinerAgentsStatistics", "protocol_error"): 1,
        ("production", "LogOut", "ok"): 1,
    }
    assert stats.calls(dms="production") == 8 and stats.calls(outcome="ok") == 3


async def test_a_call_not_retried_is_counted_once_and_unnamed_clients_count_under_their_host() -> None:
    stats = CallStats()
    fake = FakeDms()
    fake.queue["GetDataMinerAgentsInfo"] = [httpx.ReadTimeout("slow")]
    client, _ = make_client(fake, retries=0, call_stats=stats)
    async with client:
        with pytest.raises(DmsUnreachable):
            await client.agents_info()
    assert stats.calls(dms="127.0.0.1", outcome="timeout") == 1


def test_latencies_fall_into_cumulative_buckets() -> None:
    stats = CallStats()
    for seconds in (0.001, 0.02, 0.02, 3.0, 99.0):
        stats.record(dms="d", method="m", outcome="ok", seconds=seconds)
    series = stats.snapshot()[("d", "m", "ok")]
    cumulative = dict(series.cumulative())
    assert cumulative[0.01] == 1 and cumulative[0.025] == 3 and cumulative[2.5] == 3
    assert cumulative[BUCKETS_S[-1]] == 4 and cumulative[float("inf")] == 5 == series.count
    assert series.total_s == pytest.approx(102.041)
    with pytest.raises(ValueError, match="outcome"):
        stats.record(dms="d", method="m", outcome="maybe", seconds=1.0)


def test_a_snapshot_does_not_move_with_later_calls() -> None:
    stats = CallStats()
    stats.record(dms="d", method="m", outcome="ok", seconds=0.1)
    before = stats.snapshot()
    stats.record(dms="d", method="m", outcome="ok", seconds=0.1)
    assert before[("d", "m", "ok")].count == 1 and stats.snapshot()[("d", "m", "ok")].count == 2
