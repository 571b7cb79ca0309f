"""The simulated DMS's answers in exactly the shapes DataMiner documents, field for field.

Pages (SkylineCommunications/dataminer-docs, develop/webservices/WS_v1/WS_CustomDataTypes_v1/): DMAInfo.md,
DMAStatistics.md, DMAAlarm.md, DMAConnectAndInfo.md, DMAElement.md. Nothing is added that the pages do not
list (the contract test, tests/dms/test_ws_contract.py, compares against tests/dms/fixtures/ws_v1_types.json).
Times the docs call "Long integer" are milliseconds since 1970 UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def local_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")  # the docs' example: "2014-05-14 08:56:17"


def dma_info(*, agent_id: int, name: str, ip: str, cluster: str, status: str, failover: bool,
             changed: datetime) -> dict[str, Any]:
    return {"ID": agent_id, "Name": name, "PrimaryIP": ip, "Cluster": cluster, "Status": status,
            "IsFailOver": failover, "LastChangeUTC": epoch_ms(changed)}


def dma_statistics(*, agent_id: int, elements: int, active: int, services: int) -> dict[str, Any]:
    return {"ID": agent_id, "AmountElements": elements, "AmountElementsActive": active,
            "AmountServices": services}


def dma_alarm(*, alarm_id: int, agent_id: int, element_id: int, element_name: str, parameter: str,
              severity: str, masked: bool, arrived: datetime) -> dict[str, Any]:
    return {
        "DataMinerID": agent_id, "HostingAgentID": agent_id, "ID": alarm_id, "RootAlarmID": alarm_id,
        "ElementID": element_id, "ElementName": element_name, "IsElementMasked": False,
        "ParameterID": 100 + element_id, "ParameterName": parameter, "TableIndex": "", "DisplayValue": "",
        "AlarmState": severity, "Type": "New Alarm", "IsAggregation": False, "IsMasked": masked,
        "Services": [], "TimeOfArrival": local_time(arrived), "TimeOfArrivalUTC": epoch_ms(arrived),
        "RootTime": local_time(arrived), "RootTimeUTC": epoch_ms(arrived), "IsTrending": False,
        "IsOwner": False, "OwnerName": "", "LastChangeUTC": epoch_ms(arrived), "IsCleared": False,
    }


def dma_connect_and_info(*, connection: str, version: str, login: str, now: datetime) -> dict[str, Any]:
    return {
        "Connection": connection, "Message": "", "MessageType": "", "DMAVersion": version,
        "AlarmColors": [], "Time": local_time(now), "TimeUTC": epoch_ms(now), "LastChangeUTC": epoch_ms(now),
        "Security": None, "Licenses": [], "User": {"Login": login}, "UserGroups": [],
        "SLNetConnectionID": connection, "Cookie": "",
        "ClusterInfo": {"IsCassandraActive": True, "IsSearchActive": False},
        "HasDelegatedAuthentication": False,
    }


def dma_element(
    *, agent_id: int, element_id: int, name: str, state: str, changed: datetime
) -> dict[str, Any]:
    return {
        "DataMinerID": agent_id, "ID": element_id, "Name": name, "Description": "", "AlarmState": "Normal",
        "AlarmStateCappedIncluded": "", "AlarmStateCappedNotUsed": "", "IsTimeout": state == "Timeout",
        "Views": [], "Services": [], "ProtocolName": "Generic Simulated Device", "ProtocolVersion": "1.0.0.1",
        "State": state, "IsCPE": False, "IsSLA": False, "IsSpectrum": False, "IsDVE": False,
        "IsDerived": False, "IsMonitored": True, "HasTrendTemplate": False, "HasVisio": False,
        "HideParameters": False, "Type": "Element", "PollingIP": "127.0.0.1", "ProtocolType": "",
        "LastChangeUTC": epoch_ms(changed), "IsEnhancedService": False, "IsServiceTemplate": False,
    }
