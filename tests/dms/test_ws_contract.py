"""The Web Services API v1 types the bot uses, as DataMiner documents them, checked both ways.

tests/dms/fixtures/ws_v1_types.json transcribes each type's field table from the repository
SkylineCommunications/dataminer-docs, folder develop/webservices/WS_v1/WS_CustomDataTypes_v1/ (DMAInfo.md,
DMAStatistics.md, DMAAlarm.md, DMAConnectAndInfo.md, DMAElement.md). The simulator must emit exactly those
fields (nothing invented), and the client must read an answer that holds only those fields.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from dms.models import AgentInfo, AgentStatistics, Alarm, ConnectInfo, ElementInfo
from tests.dms.dms_fakes import FakeDms, make_client, sim_client, sim_config

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "ws_v1_types.json").read_text())
TYPES: dict[str, dict[str, Any]] = FIXTURE["types"]
MODELS: dict[str, type[BaseModel]] = {
    "DMAInfo": AgentInfo, "DMAStatistics": AgentStatistics, "DMAAlarm": Alarm,
    "DMAConnectAndInfo": ConnectInfo, "DMAElement": ElementInfo,
}
_SAMPLES = {"Integer": 7, "Long integer": 1400050577000, "String": "text", "Boolean": True,
            "Array of string": ["a"]}


def documented(type_name: str) -> dict[str, set[str]]:
    """Top-level names, and the nested names of dotted ones (``ClusterInfo.IsCassandraActive``)."""
    names: dict[str, set[str]] = {}
    for field in TYPES[type_name]["fields"]:
        top, _, nested = field["name"].partition(".")
        names.setdefault(top, set())
        if nested:
            names[top].add(nested)
    return names


def sample(type_name: str) -> dict[str, Any]:
    """A payload with every documented field and nothing else."""
    payload: dict[str, Any] = {}
    for field in TYPES[type_name]["fields"]:
        top, _, nested = field["name"].partition(".")
        value = _SAMPLES.get(field["format"], [] if field["format"].startswith("Array") else {})
        if nested:
            payload.setdefault(top, {})[nested] = value
        else:
            payload[top] = value
    return payload


def assert_exact(type_name: str, row: dict[str, Any]) -> None:
    names = documented(type_name)
    assert set(row) == set(names), f"{type_name} ({TYPES[type_name]['page']})"
    for top, nested in names.items():
        if nested:
            assert set(row[top]) == nested, f"{type_name}.{top}"


@pytest.mark.parametrize("type_name", sorted(MODELS))
def test_each_model_names_exactly_the_documented_fields(type_name: str) -> None:
    aliases = {field.alias for field in MODELS[type_name].model_fields.values()}
    assert aliases == set(documented(type_name)), TYPES[type_name]["page"]


@pytest.mark.parametrize("type_name", sorted(MODELS))
def test_the_client_reads_a_payload_with_only_documented_fields(type_name: str) -> None:
    payload = sample(type_name)
    if type_name == "DMAAlarm":
        payload["AlarmState"] = "Critical"
    model = MODELS[type_name].model_validate(payload)
    assert model is not None
    # Extra, undocumented fields are ignored, never an error.
    MODELS[type_name].model_validate({**payload, "NotDocumented": {"x": 1}})


async def test_the_client_reads_documented_answers_end_to_end() -> None:
    fake = FakeDms(agents=1)
    fake.agents = [{**sample("DMAInfo"), "ID": 101, "PrimaryIP": "127.0.1.1", "Status": "Running"}]
    fake.extra["GetActiveAlarms"] = [{**sample("DMAAlarm"), "AlarmState": "Major"}]
    fake.extra["GetDataMinerAgentsStatistics"] = [sample("DMAStatistics")]
    fake.extra["GetElementByName"] = sample("DMAElement")
    client, _ = make_client(fake)
    async with client:
        assert [a.id for a in await client.agents_info()] == [101]
        assert [a.severity for a in await client.active_alarms()] == ["Major"]
        assert (await client.agents_statistics())[0].amount_elements_active == 7
        assert (await client.element_by_name("x")).state == "text"


async def test_the_simulator_emits_exactly_the_documented_fields() -> None:
    from simulator import SimulatedDms

    config = sim_config(agents=2, failover_pairs=1, alarms=3)
    async with SimulatedDms(config) as sim, sim_client(sim.url) as client:
        rows = {
            "DMAInfo": await client.call("GetDataMinerAgentsInfo"),
            "DMAStatistics": await client.call("GetDataMinerAgentsStatistics"),
            "DMAAlarm": await client.call("GetActiveAlarms"),
            "DMAElement": [await client.call("GetElementByName", elementName="DMA01 Element 001")],
        }
        info = await client._caller.connect_raw(client._base, label="t", method="ConnectAppAndInfo")
    rows["DMAConnectAndInfo"] = [info]
    for type_name, answer in rows.items():
        assert answer, type_name
        for row in answer:
            assert_exact(type_name, row)
