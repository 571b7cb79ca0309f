from __future__ import annotations

import pytest
from pydantic import ValidationError

from dms.versions import parse_version
from simulator import SimulatorConfig, agent_ip, build_string, package_version
from simulator.faults import FaultError, parse_fault_flag


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("DataMiner 10.0.0 CU19.dmupgrade", "10.0.0 CU19"),
        ("DataMiner 10.4.0 [CU8].dmupdate", "10.4.0 CU8"),
        ("DataMiner 10.5.12.dmupgrade", "10.5.12"),
        ("DataMiner_10.2.0-CU4 upgrade to 10.3.0 CU22.dmupgrade", "10.3.0 CU22"),
        ("VerifyClusterPorts.dmupgrade", None),
        ("BrokerGateway migration", None),
    ],
)
def test_package_version_is_the_last_version_in_the_name(name: str, expected: str | None) -> None:
    found = package_version(name)
    assert (str(found) if found else None) == expected


def test_build_string_reads_back_as_the_same_version() -> None:
    for text in ("10.4.0 CU3", "10.5.12", "9.6.0", "10.0.0 CU19"):
        version = parse_version(text)
        shown = build_string(version)
        assert parse_version(shown) == version and "-" in shown
    assert build_string(parse_version("10.4.0 CU3")).endswith("-CU3")


def test_agent_addresses() -> None:
    assert [agent_ip(i) for i in (1, 2, 254, 255)] == ["127.0.1.1", "127.0.1.2", "127.0.1.254", "127.0.2.1"]


def test_fault_flags() -> None:
    assert parse_fault_flag("agent_unreachable:agent=3") == ("agent_unreachable", {"agent": "3"})
    assert parse_fault_flag("session_expiry") == ("session_expiry", {})
    with pytest.raises(FaultError):
        parse_fault_flag("latency_spike:ms")


@pytest.mark.parametrize(
    "options",
    [
        {"agents": 0},
        {"agents": 3, "failover_pairs": 2},
        {"version": "ten"},
        {"speed": 0},
        {"faults": ("meteor_strike",)},
        {"faults": ("agent_unreachable:agent=9",)},
        {"colour": "red"},
    ],
)
def test_bad_configuration_is_refused(options: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        SimulatorConfig(**options)


def test_password_stays_hidden() -> None:
    config = SimulatorConfig(password="hunter22")
    assert "hunter22" not in repr(config) and "hunter22" not in str(config.model_dump())
