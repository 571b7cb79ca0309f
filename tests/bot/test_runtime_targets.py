"""Which DMSs the running bot serves, from DMS_URL or DMS_TARGETS_FILE: every ``simulated`` target gets a
simulated DMS of its own on its own version (``sim_version``), a fleet of real DMSs gets no simulator and
real time, and a file mixing both is refused at start (a simulator runs SIM_SPEED times faster than a real
DMS, and a bot has one clock for its plans)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.app import Runtime
from bot.console.fake_slack import FakeSlack
from tests.handlers.conftest import app_settings
from workflow.model.errors import ConfigError


def targets_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "targets.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def runtime_for(tmp_path: Path, slack: FakeSlack, **overrides: Any) -> Runtime:
    assert slack.base_url is not None
    settings = app_settings(dms_url="simulated", database_url=f"sqlite:///{tmp_path / 'bot.db'}",
                            slack_api_url=slack.base_url, dms_time_scale=1.0, sim_speed=900.0,
                            **overrides)
    return Runtime(settings)


async def test_every_simulated_target_is_a_dms_of_its_own_on_its_own_version(tmp_path: Path) -> None:
    path = targets_file(tmp_path, """
[[targets]]
name = "staging"
url = "simulated"
sim_version = "10.4.0 CU3"

[[targets]]
name = "prod-eu"
url = "simulated"
sim_version = "10.3.0 CU5"

[[targets]]
name = "prod-us"
url = "simulated"
""")
    async with FakeSlack() as slack, await runtime_for(tmp_path, slack, dms_targets_file=path,
                                                       sim_version="10.2.0 CU5") as runtime:
        assert sorted(runtime.simulators) == ["prod-eu", "prod-us", "staging"]
        access = runtime.dms_access
        urls = {name: access.url_of(access.target(name)) for name in runtime.simulators}
        assert len(set(urls.values())) == 3  # three clusters, not one shared
        versions = {}
        for name in runtime.simulators:
            async with runtime.dms_access.open(name) as connection:
                agents = await connection.client.agents_info()
                versions[name] = {str(await connection.client.agent_version(agent)) for agent in agents}
        assert versions == {"staging": {"10.4.0 CU3"}, "prod-eu": {"10.3.0 CU5"}, "prod-us": {"10.2.0 CU5"}}
        assert runtime.settings.dms_time_scale == 900.0  # every target simulated: the simulators' clock


async def test_a_fleet_of_real_dmss_gets_no_simulator_and_real_time(tmp_path: Path) -> None:
    """DMS_URL left at its default ("simulated") beside a file of real DMSs used to start a simulator and
    run every real plan 900 times too fast: each hop's deadline a few seconds long."""
    path = targets_file(tmp_path, """
[[targets]]
name = "production"
url = "https://dma01.invalid"
""")
    async with FakeSlack() as slack, await runtime_for(tmp_path, slack, dms_targets_file=path) as runtime:
        assert runtime.simulators == {} and runtime.simulator is None
        assert runtime.settings.dms_time_scale == 1.0


async def test_a_file_mixing_simulated_and_real_dmss_is_refused_at_start(tmp_path: Path) -> None:
    path = targets_file(tmp_path, """
[[targets]]
name = "lab"
url = "simulated"

[[targets]]
name = "production"
url = "https://dma01.invalid"
""")
    async with FakeSlack() as slack:
        runtime = await runtime_for(tmp_path, slack, dms_targets_file=path)
        with pytest.raises(ConfigError, match="mix simulated and real DMSs"):
            await runtime.start()


async def test_sim_version_is_refused_on_a_real_dms(tmp_path: Path) -> None:
    path = targets_file(tmp_path, """
[[targets]]
name = "production"
url = "https://dma01.invalid"
sim_version = "10.4.0 CU3"
""")
    async with FakeSlack() as slack:
        runtime = await runtime_for(tmp_path, slack, dms_targets_file=path)
        with pytest.raises(ConfigError, match="sim_version"):
            await runtime.start()
