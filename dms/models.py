"""The Web Services API v1 answers we use, as pydantic models (field aliases are the API's names),
plus the results of checks and observations that the rest of the program consumes.

Each API model lists exactly the fields DataMiner documents for its type (repository
SkylineCommunications/dataminer-docs, folder ``develop/webservices/WS_v1/WS_CustomDataTypes_v1/``; the page is
named on each class). The docs list fields but promise none of them, so every field is optional unless the bot
cannot work without it; fields the docs do not list are ignored. ``tests/dms/fixtures/ws_v1_types.json`` holds
the same lists and the contract test keeps the two in step.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dms.versions import Version


class _ApiModel(BaseModel):
    # The API adds fields over the years; ignore what is not documented rather than break.
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)


def from_epoch_ms(value: int | None) -> datetime | None:
    """The API's "Long integer" times are milliseconds since 1970-01-01 UTC."""
    return None if value is None else datetime.fromtimestamp(value / 1000, tz=UTC)


class AgentStatus(StrEnum):
    RUNNING = "Running"
    STARTING = "Starting"
    DISCONNECTED = "Disconnected"
    SWITCHING = "Switching"
    UNKNOWN = "Unknown"


class AgentInfo(_ApiModel):
    """``DMAInfo``, one entry of ``GetDataMinerAgentsInfo``.

    Page: develop/webservices/WS_v1/WS_CustomDataTypes_v1/DMAInfo.md. There is no partner id and no status
    detail: a failover pair may even be one entry (``IsFailOver`` true), see ``dms.prechecks.check_failover``.
    """

    id: int = Field(alias="ID")
    name: str = Field(default="", alias="Name")
    primary_ip: str = Field(default="", alias="PrimaryIP")
    cluster: str = Field(default="", alias="Cluster")
    status: str = Field(default=AgentStatus.UNKNOWN.value, alias="Status")  # text: new states don't break us
    is_failover: bool = Field(default=False, alias="IsFailOver")
    last_change_utc: int | None = Field(default=None, alias="LastChangeUTC")  # ms since 1970

    @property
    def label(self) -> str:
        return self.name or f"DMA {self.id}"


class AgentStatistics(_ApiModel):
    """``DMAStatistics``, one entry of ``GetDataMinerAgentsStatistics``.

    Page: develop/webservices/WS_v1/WS_CustomDataTypes_v1/DMAStatistics.md.
    """

    id: int = Field(alias="ID")
    amount_elements: int = Field(default=0, alias="AmountElements")
    amount_elements_active: int = Field(default=0, alias="AmountElementsActive")
    amount_services: int = Field(default=0, alias="AmountServices")


class Alarm(_ApiModel):
    """``DMAAlarm``, one entry of ``GetActiveAlarms``.

    Page: develop/webservices/WS_v1/WS_CustomDataTypes_v1/DMAAlarm.md. The severity is ``AlarmState``
    (Critical, Major, ...); there is no ``Severity`` field.
    """

    dataminer_id: int = Field(alias="DataMinerID")
    hosting_agent_id: int | None = Field(default=None, alias="HostingAgentID")
    id: int = Field(alias="ID")
    root_alarm_id: int | None = Field(default=None, alias="RootAlarmID")
    element_id: int = Field(default=0, alias="ElementID")
    element_name: str = Field(default="", alias="ElementName")
    is_element_masked: bool = Field(default=False, alias="IsElementMasked")
    parameter_id: int | None = Field(default=None, alias="ParameterID")
    parameter_name: str = Field(default="", alias="ParameterName")
    table_index: str | None = Field(default=None, alias="TableIndex")
    display_value: str | None = Field(default=None, alias="DisplayValue")
    alarm_state: str = Field(default="", alias="AlarmState")
    type: str = Field(default="", alias="Type")
    is_aggregation: bool = Field(default=False, alias="IsAggregation")
    is_masked: bool = Field(default=False, alias="IsMasked")
    services: list[str] | None = Field(default=None, alias="Services")
    time_of_arrival: str | None = Field(default=None, alias="TimeOfArrival")
    time_of_arrival_utc: int | None = Field(default=None, alias="TimeOfArrivalUTC")  # ms since 1970
    root_time: str | None = Field(default=None, alias="RootTime")
    root_time_utc: int | None = Field(default=None, alias="RootTimeUTC")
    is_trending: bool = Field(default=False, alias="IsTrending")
    is_owner: bool = Field(default=False, alias="IsOwner")
    owner_name: str | None = Field(default=None, alias="OwnerName")
    last_change_utc: int | None = Field(default=None, alias="LastChangeUTC")
    is_cleared: bool = Field(default=False, alias="IsCleared")

    @property
    def severity(self) -> str:
        return self.alarm_state

    @property
    def counts(self) -> bool:
        """Whether it can block or be compared: masked (itself or its element) and cleared alarms cannot."""
        return not (self.is_masked or self.is_element_masked or self.is_cleared)

    @property
    def key(self) -> str:
        """``DataMinerID/ID``: DataMiner numbers alarms per agent, so the ID alone is not unique in a DMS."""
        return f"{self.dataminer_id}/{self.id}"


class ConnectInfo(_ApiModel):
    """``DMAConnectAndInfo``, the answer of ``ConnectAppAndInfo``.

    Page: develop/webservices/WS_v1/WS_CustomDataTypes_v1/DMAConnectAndInfo.md (and WS_Methods_v1/
    ConnectAppAndInfo.md: ``MessageType`` "Challenge" means two-step authentication). Nested types are kept
    as raw JSON: the bot reads none of them.
    """

    connection: str = Field(default="", alias="Connection")
    message: str | None = Field(default=None, alias="Message")
    message_type: str | None = Field(default=None, alias="MessageType")
    dma_version: str = Field(default="", alias="DMAVersion")
    alarm_colors: Any = Field(default=None, alias="AlarmColors")
    time: str | None = Field(default=None, alias="Time")
    time_utc: int | None = Field(default=None, alias="TimeUTC")
    last_change_utc: int | None = Field(default=None, alias="LastChangeUTC")
    security: Any = Field(default=None, alias="Security")
    licenses: Any = Field(default=None, alias="Licenses")
    user: Any = Field(default=None, alias="User")
    user_groups: Any = Field(default=None, alias="UserGroups")
    slnet_connection_id: str | None = Field(default=None, alias="SLNetConnectionID")
    cookie: str | None = Field(default=None, alias="Cookie")
    cluster_info: dict[str, Any] | None = Field(default=None, alias="ClusterInfo")  # IsCassandraActive, ...
    has_delegated_authentication: bool | None = Field(default=None, alias="HasDelegatedAuthentication")


class ElementInfo(_ApiModel):
    """``DMAElement``, the answer of ``GetElementByName``; the bot reads whether a key element is active.

    Page: develop/webservices/WS_v1/WS_CustomDataTypes_v1/DMAElement.md.
    """

    dataminer_id: int | None = Field(default=None, alias="DataMinerID")
    id: int = Field(alias="ID")
    name: str = Field(default="", alias="Name")
    description: str | None = Field(default=None, alias="Description")
    alarm_state: str | None = Field(default=None, alias="AlarmState")
    alarm_state_capped_included: str | None = Field(default=None, alias="AlarmStateCappedIncluded")
    alarm_state_capped_not_used: str | None = Field(default=None, alias="AlarmStateCappedNotUsed")
    is_timeout: bool | None = Field(default=None, alias="IsTimeout")
    views: list[Any] | None = Field(default=None, alias="Views")
    services: list[Any] | None = Field(default=None, alias="Services")
    protocol_name: str | None = Field(default=None, alias="ProtocolName")
    protocol_version: str | None = Field(default=None, alias="ProtocolVersion")
    state: str = Field(default="", alias="State")  # "Active", "Stopped", "Paused", "Error", ...
    is_cpe: bool | None = Field(default=None, alias="IsCPE")
    is_sla: bool | None = Field(default=None, alias="IsSLA")
    is_spectrum: bool | None = Field(default=None, alias="IsSpectrum")
    is_dve: bool | None = Field(default=None, alias="IsDVE")
    is_derived: bool | None = Field(default=None, alias="IsDerived")
    is_monitored: bool | None = Field(default=None, alias="IsMonitored")
    has_trend_template: bool | None = Field(default=None, alias="HasTrendTemplate")
    has_visio: bool | None = Field(default=None, alias="HasVisio")
    hide_parameters: bool | None = Field(default=None, alias="HideParameters")
    type: str | None = Field(default=None, alias="Type")
    polling_ip: str | None = Field(default=None, alias="PollingIP")
    protocol_type: str | None = Field(default=None, alias="ProtocolType")
    last_change_utc: int | None = Field(default=None, alias="LastChangeUTC")
    is_enhanced_service: bool | None = Field(default=None, alias="IsEnhancedService")
    is_service_template: bool | None = Field(default=None, alias="IsServiceTemplate")


class AgentState(BaseModel):
    """What one agent looks like right now: its status and (when readable) its version."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    id: int
    name: str
    status: str
    detail: str = ""  # why the version could not be read, or why the agent was not contacted
    version: Version | None = None
    version_text: str = ""  # DMAVersion as the agent reported it, also when it maps to no release
    reachable: bool = True
    contacted: bool = True  # False: its address is outside the allow-list, so no password went there
    address: str = ""  # PrimaryIP from GetDataMinerAgentsInfo: where to ask when DMS_URL does not answer


class CheckStatus(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    MANUAL = "manual"


class Source(StrEnum):
    """How a result was established: every line the bot shows names one of these."""

    BOT = "checked by the bot"  # through the Web Services API, or the orchestrator script's own checks
    PERSON = "confirmed by a person"  # a click in Slack after doing it in Cube; who is in the detail
    DATAMINER = "reported by DataMiner"  # e.g. SLTaskbarUtility's exit code
    NOT_CHECKED = "not checked"  # nobody has established it yet


class CheckResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str  # stable identifier, e.g. "agents_running"
    title: str  # what a person reads, e.g. "Every agent is Running"
    status: CheckStatus
    detail: str  # one line
    agent: str | None = None  # the agent it concerns, if one
    # None: the usual source for the status (a manual result is not checked yet, the rest the bot checked);
    # results stored before sources existed read the same way.
    source: Source | None = None

    @model_validator(mode="after")
    def _usual_source(self) -> CheckResult:
        if self.source is None:
            usual = Source.NOT_CHECKED if self.status is CheckStatus.MANUAL else Source.BOT
            object.__setattr__(self, "source", usual)
        return self

    @property
    def established(self) -> Source:
        return self.source or Source.BOT


class Baseline(BaseModel):
    """What the DMS looked like at the pre-upgrade check; the verification compares against it."""

    model_config = ConfigDict(frozen=True)

    taken_at: datetime
    elements: dict[int, int] = {}  # agent id -> elements
    elements_active: dict[int, int] = {}  # agent id -> active elements
    alarms_by_severity: dict[str, int] = {}  # unmasked active alarms
    critical_alarm_ids: list[str] = []  # ``Alarm.key`` of each unmasked Critical alarm before the upgrade
    versions: dict[int, str] = {}  # agent id -> version read from the agent itself

    @field_validator("critical_alarm_ids", mode="before")
    @classmethod
    def _bare_ids(cls, value: object) -> object:
        # Baselines stored before the agent was recorded hold bare alarm IDs; keep reading them.
        return [str(item) for item in value] if isinstance(value, list) else value

    def had_critical(self, alarm: Alarm) -> bool:
        """Was ``alarm`` already Critical at the baseline? A bare stored ID matches it on any agent."""
        known = set(self.critical_alarm_ids)
        return alarm.key in known or str(alarm.id) in known

    @property
    def total_active(self) -> int:
        return sum(self.elements_active.values())
