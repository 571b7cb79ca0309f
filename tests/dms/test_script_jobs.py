"""Long-running orchestrator jobs and package files.

A helper package runs for 20 simulated minutes; ``upgrade`` answers once the job is recorded and the bot
follows it through the script's ``status`` outputs (WS_Methods_v1/ExecuteAutomationScriptWithOutput.md), so
no HTTP call lasts longer than a status read.
"""

from __future__ import annotations

import time

import pytest

from dms.drivers import ScriptDriver
from dms.exceptions import DmsScriptError
from dms.models import CheckStatus
from dms.packages import check_packages, needed_files, package_file
from dms.upgrade_path import Hop, PackageKind, UpgradePath
from dms.versions import Track, Version
from simulator import SimulatedDms
from tests.dms.dms_fakes import sim_client, sim_config

V_FROM = Version(10, 4, 0, 3)
CU_HOP = Hop(version=Version(10, 4, 0, 5), package=PackageKind.CU, name="DataMiner 10.4.0 CU5 CU package",
             rule="r", rule_url="u")
FULL_HOP = Hop(version=Version(10, 5, 0, 0), package=PackageKind.FULL,
               name="DataMiner 10.5.0 full upgrade package (.dmupgrade)", rule="r", rule_url="u")
HELPER = Hop(version=Version(10, 5, 0, 0), package=PackageKind.HELPER, name="VerifyClusterPorts.dmupgrade",
             rule="r", rule_url="u", restarts_agents=False)
BROKER = Hop(version=Version(10, 5, 0, 0), package=PackageKind.HELPER,
             name="BrokerGateway migration (NATSMigration tool)", rule="r", rule_url="u")
SPEED = 6000.0  # 20 simulated minutes take 0.2 s


def test_each_hop_names_its_exact_file() -> None:
    assert package_file(CU_HOP) == "DataMiner 10.4.0 CU5 CU Upgrade.dmupgrade"
    assert package_file(FULL_HOP) == "DataMiner 10.5.0 Full Upgrade.dmupgrade"
    assert package_file(HELPER) == "VerifyClusterPorts.dmupgrade"
    assert package_file(BROKER) == "NATSMigration.dmupgrade"
    path = UpgradePath(current=V_FROM, target=FULL_HOP.version, track=Track.MAIN,
                       hops=(CU_HOP, HELPER, FULL_HOP, HELPER))
    expected = [package_file(CU_HOP), "VerifyClusterPorts.dmupgrade", package_file(FULL_HOP)]
    assert needed_files(path) == expected


async def test_a_long_helper_completes_without_one_long_call() -> None:
    config = sim_config(version="10.4.0 CU3", helper_minutes=20.0, speed=SPEED)
    async with SimulatedDms(config) as sim, sim_client(sim.url, timeout_s=1.0) as client:
        driver = ScriptDriver(client)
        started = time.monotonic()
        await driver.start_upgrade(hop=HELPER, job="f1")
        answered = time.monotonic() - started
        await driver.wait_for_hop(hop=HELPER, job="f1", timeout_s=20, poll_s=0.02)
        took = time.monotonic() - started
        state = sim.state()
    assert answered < 20 * 60 / SPEED, "the start answered before the helper ended"
    assert took >= 20 * 60 / SPEED * 0.9  # it really waited for the simulated 20 minutes
    assert state["upgrades_triggered"] == {HELPER.name: 1} or sum(state["upgrades_triggered"].values()) == 1


async def test_package_check_names_the_missing_files() -> None:
    path = UpgradePath(current=V_FROM, target=FULL_HOP.version, track=Track.MAIN,
                       hops=(CU_HOP, HELPER, FULL_HOP))
    config = sim_config(packages=(package_file(CU_HOP), "VerifyClusterPorts.dmupgrade", "old.dmupgrade"))
    async with SimulatedDms(config) as sim, sim_client(sim.url) as client:
        (missing,) = await check_packages(client, path=path, folder=r"D:\dmupgrade")
        (all_there,) = await check_packages(client, path=path.model_copy(update={"hops": (CU_HOP,)}),
                                            folder=r"D:\dmupgrade")
        absent = await ScriptDriver(client).verify(hop=FULL_HOP)
        with pytest.raises(DmsScriptError):
            await ScriptDriver(client).start_upgrade(hop=FULL_HOP, job="f2")
        assert sim.state()["uploads"] == {}
    assert absent.status is CheckStatus.FAIL
    assert missing.status is CheckStatus.FAIL
    assert missing.detail == rf"missing in D:\dmupgrade: {package_file(FULL_HOP)}"
    assert all_there.status is CheckStatus.PASS


async def test_package_check_is_manual_when_the_script_cannot_answer() -> None:
    from tests.dms.dms_fakes import FakeDms, make_client

    path = UpgradePath(current=V_FROM, target=CU_HOP.version, track=Track.MAIN, hops=(CU_HOP,))
    client, _ = make_client(FakeDms())
    async with client:
        (result,) = await check_packages(client, path=path, folder="F")
    assert result.status is CheckStatus.MANUAL and package_file(CU_HOP) in result.detail
