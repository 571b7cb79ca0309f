"""The Web Services API v1 answers we use, as pydantic models (field aliases are the API's names),
plus the results of checks and observations that the rest of the program consumes."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from dms.versions import Version


class _ApiModel(BaseModel):
    # The API adds fields over the years; ignore what we do not use rather than break.
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)


class AgentStatus(StrEnum):
    RUNNING = "Running"
    STARTING = "Starting"
    DISCONNECTED = "Disconnected"
    SWITCHING = "Switching"
    UNKNOWN = "Unknown"


class AgentInfo(_ApiModel):
    """One entry of ``GetDataMinerAgentsInfo``."""

    id: int = Field(alias="ID")
    name: str = Field(alias="Name")
    primary_ip: str = Field(alias="PrimaryIP")
    cluster: str = Field(default="", alias="Cluster")
    is_failover: bool = Field(default=False, alias="IsFailOver")
    # Not every DMS reports the partner; when absent the failover check becomes a manual confirmation.
    failover_partner_id: int | None = Field(default=None, alias="FailoverPartnerID")
    status: str = Field(alias="Status")  # an AgentStatus value; kept as text so new states don't break us
    # Only the simulator and newer agents report startup progress ("Starting up (xx%)").
    status_detail: str = Field(default="", alias="StatusDetail")
    last_change_utc: datetime | None = Field(default=None, alias="LastChangeUTC")


class AgentStatistics(_ApiModel):
    """One entry of ``GetDataMinerAgentsStatistics``."""

    id: int = Field(alias="ID")
    amount_elements: int = Field(default=0, alias="AmountElements")
    amount_elements_active: int = Field(default=0, alias="AmountElementsActive")
    amount_services: int = Field(default=0, alias="AmountServices")


class Alarm(_ApiModel):
    """One entry of ``GetActiveAlarms``."""

    dataminer_id: int = Field(alias="DataMinerID")
    id: int = Field(alias="ID")
    element_id: int = Field(default=0, alias="ElementID")
    element_name: str = Field(default="", alias="ElementName")
    parameter_name: str = Field(default="", alias="ParameterName")
    severity: str = Field(alias="Severity")
    is_masked: bool = Field(default=False, alias="IsMasked")
    time_of_arrival_utc: datetime | None = Field(default=None, alias="TimeOfArrivalUTC")

    @property
    def key(self) -> str:
        """``DataMinerID/ID``: DataMiner numbers alarms per agent, so the ID alone is not unique in a DMS."""
        return f"{self.dataminer_id}/{self.id}"


class ConnectInfo(_ApiModel):
    """The part of ``ConnectAppAndInfo`` we read."""

    connection: str = Field(alias="Connection")
    dma_version: str = Field(alias="DMAVersion")


class ElementInfo(_ApiModel):
    """The part of ``GetElementByName`` we read: is a key element active?"""

    id: int | str = Field(alias="ID")
    name: str = Field(alias="Name")
    state: str = Field(default="", alias="State")  # "Active", "Stopped", "Paused", "Error", ...


class AgentState(BaseModel):
    """What one agent looks like right now: its status and (when reachable) its version."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    id: int
    name: str
    status: str
    detail: str = ""  # e.g. "Starting up (40%)", or why the version could not be read
    version: Version | None = None
    reachable: bool = True


class CheckStatus(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    MANUAL = "manual"


class CheckResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str  # stable identifier, e.g. "agents_running"
    title: str  # what a person reads, e.g. "Every agent is Running"
    status: CheckStatus
    detail: str  # one line
    agent: str | None = None  # the agent it concerns, if one


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
