"""Long-running orchestrator jobs and package files (issue 10).

An upload with its prerequisite checks takes 20 simulated minutes; the bot starts it with
``WaitForScript`` false (develop/webservices/WS_v1/WS_Methods_v1/ExecuteAutomationScript.md) and follows it
through the script's ``status`` outputs (WS_Methods_v1/ExecuteAutomationScriptWithOutput.md), so no HTTP
call lasts longer than a status read. Before, the upload was one call with WaitForScript true, which a real
DMS answers only when the script ends: minutes past DMS_TIMEOUT_SECONDS.
"""

from __future__ import annotations

import time

import pytest

from dms import script_contract as contract
from dms.drivers import ScriptDriver
from dms.exceptions import DmsScriptError
from dms.models import CheckStatus
from dms.packages import check_packages, needed_files, package_file
from dms.simulator import SimulatedDms
from dms.upgrade_path import Hop, PackageKind, UpgradePath
from dms.versions import Track, Version
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


async def test_a_twenty_minute_upload_completes_without_one_long_call() -> None:
    config = sim_config(version="10.4.0 CU3", upload_minutes=20.0, speed=SPEED)
    async with SimulatedDms(config) as sim, sim_client(sim.url, timeout_s=1.0) as client:
        started = time.monotonic()
        await ScriptDriver(client, poll_s=0.02).upload(hop=CU_HOP)
        took = time.monotonic() - started
        state = sim.state()
    assert took >= 20 * 60 / SPEED * 0.9  # it really waited for the simulated 20 minutes
    assert state["uploaded"] == [package_file(CU_HOP)]


async def test_a_failing_prerequisite_check_fails_the_hop_with_the_scripts_message() -> None:
    config = sim_config(upload_minutes=20.0, speed=SPEED)
    async with SimulatedDms(config) as sim, sim_client(sim.url) as client:
        sim.inject("prerequisite_check_fails", check="Verify NATS Cluster")
        with pytest.raises(DmsScriptError) as caught:
            await ScriptDriver(client, poll_s=0.02).upload(hop=CU_HOP)
    assert str(caught.value).startswith(contract.PREREQUISITE_FAILED_PREFIX)
    assert "Verify NATS Cluster" in str(caught.value)


async def test_upgrade_job_is_started_and_then_watched() -> None:
    config = sim_config(upload_minutes=1.0, speed=SPEED)
    async with SimulatedDms(config) as sim, sim_client(sim.url) as client:
        driver = ScriptDriver(client, poll_s=0.02)
        await driver.upload(hop=CU_HOP)
        await driver.start_upgrade(hop=CU_HOP)
        states = await driver.wait_for_version(version=CU_HOP.version, timeout_s=20, poll_s=0.02)
        assert sim.state()["upgrades_triggered"] == {"10.4.0 CU5": 1}
    assert all(s.version == CU_HOP.version for s in states)


async def test_package_check_names_the_missing_files() -> None:
    path = UpgradePath(current=V_FROM, target=FULL_HOP.version, track=Track.MAIN,
                       hops=(CU_HOP, HELPER, FULL_HOP))
    config = sim_config(packages=(package_file(CU_HOP), "VerifyClusterPorts.dmupgrade", "old.dmupgrade"))
    async with SimulatedDms(config) as sim, sim_client(sim.url) as client:
        (missing,) = await check_packages(client, path=path, folder=r"D:\dmupgrade")
        (all_there,) = await check_packages(client, path=path.model_copy(update={"hops": (CU_HOP,)}),
                                            folder=r"D:\dmupgrade")
        with pytest.raises(DmsScriptError, match="is not in"):
            await ScriptDriver(client, poll_s=0.02).upload(hop=FULL_HOP)
        assert sim.state()["uploads"] == {}
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
