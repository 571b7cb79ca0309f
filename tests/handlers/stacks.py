"""The end-to-end stack (fake Slack, simulated DMS, the real app over HTTP): one builder for the conftest's
``stack`` fixture and for tests that need other settings or simulator options."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from bot.app import Runtime, start_http
from handlers.delivery.slack_web import make_web_client
from simulator import SimulatedDms
from tests.handlers.conftest import TOKEN, Stack, app_settings, sim_config
from tests.support.clock import FakeClock
from tests.support.fake_slack_faults import FaultySlack


@asynccontextmanager
async def custom_stack(
    tmp_path: Path, *, sim_options: dict[str, Any] | None = None, **overrides: Any
) -> AsyncIterator[Stack]:
    slack = FaultySlack()
    base_url = await slack.start()
    sim = SimulatedDms(sim_config(**(sim_options or {})))
    await sim.start()
    clock = FakeClock()
    settings = app_settings(dms_url=sim.url, database_url=f"sqlite:///{tmp_path / 'app.db'}",
                            slack_api_url=base_url, **overrides)
    # Fast retries (no jitter) and a short pacing interval keep the tests quick; the pacing itself is
    # measured at 1 s in benchmarks/bench_rate.py.
    client = make_web_client(token=TOKEN, base_url=base_url, jitter=0.0, backoff_factor=0.01)
    runtime = Runtime(settings, clock=clock, web_client=client, pacer_interval_s=0.01)
    await runtime.start()
    server = await start_http(runtime, host="127.0.0.1", port=0)
    http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=10)
    try:
        yield Stack(runtime=runtime, server=server, slack=slack, sim=sim, clock=clock, http=http)
    finally:
        await http.aclose()
        await server.stop()
        await runtime.stop()
        await sim.stop()
        await slack.stop()
