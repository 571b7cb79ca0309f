"""How a simulated DMS is built: one validated model, shared by the CLI, the console and tests."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from dms.versions import Version, parse_version
from simulator.faults import FaultError, make_fault, parse_fault_flag

DEFAULT_USER = "admin"
DEFAULT_PASSWORD = "admin"
DEFAULT_PORT = 8731
MAX_AGENTS = 250


class SimulatorConfig(BaseModel):
    """A cluster of ``agents`` agents; the first ``2 x failover_pairs`` form failover pairs (1+2, 3+4, ...).

    Durations are simulated minutes; ``speed`` simulated seconds pass per real second. ``latency_ms`` is real.
    ``port`` 0 picks a free port (the same one on every agent address).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    agents: int = Field(default=4, ge=1, le=MAX_AGENTS)
    failover_pairs: int = Field(default=0, ge=0)
    version: str = "10.4.0 CU3"
    elements_per_agent: int = Field(default=20, ge=0, le=10_000)
    alarms: int = Field(default=6, ge=0, le=10_000)
    latency_ms: float = Field(default=0.0, ge=0, le=60_000)
    startup_minutes: float = Field(default=10.0, gt=0)
    stop_minutes: float = Field(default=1.0, ge=0)
    install_minutes: float = Field(default=5.0, ge=0)
    # An upload with its prerequisite checks (VerifyClusterPorts alone is about 5 minutes).
    upload_minutes: float = Field(default=20.0, ge=0)
    helper_minutes: float = Field(default=5.0, ge=0)
    session_idle_minutes: float = Field(default=5.0, gt=0)
    speed: float = Field(default=60.0, gt=0, le=1_000_000)
    user: str = Field(default=DEFAULT_USER, min_length=1)
    password: SecretStr = SecretStr(DEFAULT_PASSWORD)
    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)
    cluster_name: str = "DMS"
    faults: tuple[str, ...] = ()  # fault flags: "NAME" or "NAME:key=value,..."
    # Package files in the DMA's package folder (the script's inventory); None: every file asked about.
    packages: tuple[str, ...] | None = None
    # GetDataMinerAgentsInfo lists each failover pair as one entry (the main's), as a DMS may do.
    pair_as_one_entry: bool = False
    # DMAVersion while the agents run ``version``, in a form the bot may not know (its format is not
    # documented, e.g. "10.6.2617.1490"); None: the usual build string.
    reported_version: str | None = Field(default=None, max_length=100)
    # Play the person in Cube for the watch driver: POST /_sim/cube performs a step (simulator.cube).
    play_cube: bool = False

    @field_validator("version")
    @classmethod
    def _known_version(cls, value: str) -> str:
        parse_version(value)  # VersionError is a ValueError: pydantic reports it with the accepted forms
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SimulatorConfig:
        if 2 * self.failover_pairs > self.agents:
            raise ValueError(f"{self.failover_pairs} failover pairs need {2 * self.failover_pairs} agents, "
                             f"the cluster has {self.agents}")
        for flag in self.faults:
            try:
                name, options = parse_fault_flag(flag)
                make_fault(name, options, agents=self.agents)
            except FaultError as exc:
                raise ValueError(str(exc)) from None
        return self

    @property
    def start_version(self) -> Version:
        return parse_version(self.version)
