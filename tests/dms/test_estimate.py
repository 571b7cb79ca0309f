"""The MOP's four-phase time estimate for a plan."""

from __future__ import annotations

from typing import Any

import pytest

from dms.catalog import load_catalog
from dms.estimate import MOP, PHASES, SOURCES, estimate, upload_minutes
from dms.planner import plan_path
from dms.upgrade_path import Estimate, UpgradePath
from dms.versions import parse_spec, parse_version

CATALOG = load_catalog()
INPUTS: dict[str, Any] = {
    "package_size_mb": 700.0,
    "upload_bandwidth_mbps": 50.0,
    "prerequisite_check_minutes": 5.0,
    "agent_startup_minutes": 15.0,
}


def path(current: str, target: str) -> UpgradePath:
    return plan_path(current=parse_version(current), target=parse_spec(target), catalog=CATALOG)


def run(current: str = "9.6.0", target: str = "10.3", **changes: Any) -> Estimate:
    return estimate(path=path(current, target), **(INPUTS | changes))


def test_four_phases_named_as_the_mop() -> None:
    result = run()
    assert tuple(phase.phase for phase in result.phases) == PHASES == (
        "Determine the upgrade version and time slot",
        "Establish the details for the upgrade",
        "Perform a pre-upgrade check on the day before the upgrade",
        "Execute the DataMiner upgrade",
    )
    assert all(0 <= phase.low_minutes <= phase.high_minutes for phase in result.phases)
    assert all(phase.factors for phase in result.phases)
    assert result.phases[0].low_minutes == 30
    assert result.execution is result.phases[-1]
    assert result.low_minutes == sum(phase.low_minutes for phase in result.phases)


def test_upload_minutes() -> None:
    assert upload_minutes(package_size_mb=750, upload_bandwidth_mbps=100) == pytest.approx(1.0)


def test_precheck_stays_within_mop_span_for_small_uploads() -> None:
    precheck = run("10.4.0 CU6", "10.4.0 CU8").phases[2]
    assert (precheck.low_minutes, precheck.high_minutes) == (30, 120)


def test_slow_upload_drives_precheck() -> None:
    fast = run(upload_bandwidth_mbps=100.0).phases[2]
    slow = run(upload_bandwidth_mbps=2.0).phases[2]  # 700 MB at 2 Mbit/s: about 47 min per package
    assert slow.low_minutes > fast.low_minutes
    assert slow.low_minutes == pytest.approx(15 + 3 * (700 * 8 / 2 / 60 + 5))
    assert any("2 Mbit/s" in factor for factor in slow.factors)


def test_more_hops_take_longer() -> None:
    short = run("10.4.0 CU6", "10.4.0 CU8")
    long = run("9.6.0", "10.6")
    for index in (1, 2, 3):
        assert long.phases[index].high_minutes > short.phases[index].high_minutes


def test_execution_counts_startup_helpers_and_hotfixes() -> None:
    base = run("10.4.0 CU6", "10.4.0 CU8").execution
    assert base.low_minutes == pytest.approx(5 + 15)
    learned = run("10.4.0 CU6", "10.4.0 CU8", learned_startup_minutes=40.0).execution
    assert learned.low_minutes == pytest.approx(5 + 40)
    assert any("learned" in factor for factor in learned.factors)
    hotfix = run("10.4.0 CU6", "10.4.0 CU8", hotfixes=2).execution
    assert hotfix.low_minutes == pytest.approx(base.low_minutes + 20)
    ports = run("10.0.0 CU20", "10.2").execution  # one hop plus VerifyClusterPorts (5 min, no restart)
    assert ports.low_minutes == pytest.approx(5 + 15 + 5)
    assert any("VerifyClusterPorts" in factor and "no restart" in factor for factor in ports.factors)


def test_more_agents_widen_execution() -> None:
    one = run(agents=1).execution
    many = run(agents=8).execution
    assert many.high_minutes > one.high_minutes


@pytest.mark.parametrize(
    "changes",
    [{"agents": 0}, {"package_size_mb": 0}, {"upload_bandwidth_mbps": -1}, {"hotfixes": -1},
     {"agent_startup_minutes": 0}, {"learned_startup_minutes": 0}],
)
def test_bad_inputs_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        run(**changes)


def test_json_rounds_and_totals() -> None:
    data = run().to_json()
    assert [phase["phase"] for phase in data["phases"]] == list(PHASES)
    assert data["total_low_minutes"] <= data["total_high_minutes"]



def test_every_factor_says_where_its_figure_comes_from() -> None:
    # The MOP's time-estimate table gives "approx. 30 min" (phase 1) and "30 min. to 2 hours" (phase 3);
    # everything else is ours, a documentation page's or an operator setting, and the factors say which.
    result = run("9.6.0", "10.3", hotfixes=1, agents=2)
    for phase in result.phases:
        for factor in phase.factors:
            assert factor.startswith(SOURCES), factor
    assert result.phases[0].factors == (f"{MOP} approx. 30 min",)
    assert any(factor.startswith(MOP) and "30 min to 2 h" in factor for factor in result.phases[2].factors)
    execution = result.execution.factors
    assert any(factor.startswith("[assumption]") for factor in execution)
    assert any(factor.startswith("[docs]") and "VerifyClusterPorts" in factor for factor in execution)
    learned = run("10.4.0 CU6", "10.4.0 CU8", learned_startup_minutes=40.0).execution.factors
    assert any(factor.startswith("[learned]") for factor in learned)
