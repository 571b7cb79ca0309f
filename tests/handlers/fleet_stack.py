"""The end-to-end stack on a fleet: the real Runtime over HTTP with the fake Slack, its DMSs read from a
targets file of simulated DMSs, each of which the Runtime starts itself on its own version (``sim_version``),
as the bot does in production for every ``url = "simulated"`` entry. The campaign poll runs every few
milliseconds, so the test only moves the engine's clock and waits for what follows."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from bot.app import Runtime, start_http
from handlers.delivery.slack_web import make_web_client
from tests.handlers.conftest import SPEED, TOKEN, Stack, app_settings
from tests.support.clock import FakeClock
from tests.support.fake_slack_faults import FaultySlack

# Three DMSs on two versions: the production ones take a longer path than staging to the same target.
FLEET = {"staging": "10.4.0 CU3", "prod-eu": "10.3.0 CU5", "prod-us": "10.3.0 CU5"}


def targets_file(folder: Path, versions: Mapping[str, str]) -> Path:
    path = folder / "targets.toml"
    path.write_text("".join(f'[[targets]]\nname = "{name}"\nurl = "simulated"\nsim_version = "{version}"\n\n'
                            for name, version in versions.items()), encoding="utf-8")
    return path


@asynccontextmanager
async def fleet_stack(tmp_path: Path, *, versions: Mapping[str, str] = FLEET,
                      **overrides: Any) -> AsyncIterator[Stack]:
    slack = FaultySlack()
    base_url = await slack.start()
    clock = FakeClock()
    values: dict[str, Any] = {
        "dms_targets_file": targets_file(tmp_path, versions), "sim_speed": SPEED, "sim_agents": 2,
        "sim_failover_pairs": 0, "campaign_poll_seconds": 0.05, **overrides}
    settings = app_settings(dms_url="simulated", database_url=f"sqlite:///{tmp_path / 'app.db'}",
                            slack_api_url=base_url, **values)
    client = make_web_client(token=TOKEN, base_url=base_url, jitter=0.0, backoff_factor=0.01)
    runtime = Runtime(settings, clock=clock, web_client=client, pacer_interval_s=0.01)
    await runtime.start()
    server = await start_http(runtime, host="127.0.0.1", port=0)
    http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=10)
    try:
        yield Stack(runtime=runtime, server=server, slack=slack, sim=runtime.simulators["staging"],
                    clock=clock, http=http)
    finally:
        await http.aclose()
        await server.stop()
        await runtime.stop()
        await slack.stop()
