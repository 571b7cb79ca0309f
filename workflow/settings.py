"""The workflow's configuration: the DataMiner Systems, checks, approvals, scheduling and estimates.

``bot.settings.Settings`` extends it with what only the runnable bot needs (Slack, HTTP port, database,
logging), so the workflow is configured from the same environment without knowing of Slack. Nothing is
read at import time; secrets are ``SecretStr`` so they never reach a log line or a Slack message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SIMULATED = "simulated"


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class WorkflowSettings(BaseSettings):
    """What the engine, its runners and the DMS access read; built once in a composition root."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # The DataMiner System
    dms_url: str = SIMULATED
    dms_user: str = "admin"
    dms_password: SecretStr = SecretStr("admin")
    dms_targets_file: Path | None = None
    # Where each agent answers; {ip} is its PrimaryIP. Empty: DMS_URL with the host replaced by {ip}.
    dms_agent_url_template: str = ""
    dms_tls_verify: bool = True
    dms_ca_bundle: Path | None = None
    dms_timeout_seconds: float = Field(default=10.0, gt=0)
    dms_retries: int = Field(default=3, ge=0, le=10)
    dms_concurrency: int = Field(default=64, ge=1, le=256)
    dms_driver: Literal["script", "watch"] = "script"
    dms_package_folder: str = r"C:\Skyline DataMiner\Documents\DMUpgrade"  # .dmupgrade files on the DMA
    # Where the orchestrator script finds SLTaskbarUtility.exe; empty: the two documented install folders.
    dms_taskbar_utility_path: str = Field(default="", max_length=260)
    dms_max_agents: int = Field(default=500, ge=1)  # refuse a DMS listing more (each agent is one login)
    dms_agent_allow: Annotated[list[str], NoDecode] = []  # hosts/CIDRs for agent logins; [] = /24 of DMS_URL
    dms_allow_plain_http: bool = False  # http to a non-loopback DMS sends the password in clear text
    release_catalog: Path | None = None
    # How often the bot polls agents while they upgrade (real seconds, before dms_time_scale).
    dms_poll_seconds: float = Field(default=10.0, gt=0)
    # Divides every DMS-side duration (deadlines, polls). 1 for a real DMS; the simulator's speed otherwise.
    dms_time_scale: float = Field(default=1.0, gt=0)

    # Checks
    blocking_alarm_severities: Annotated[list[str], NoDecode] = ["Critical", "Major"]

    # Approvals
    upgrade_approvers: Annotated[list[str], NoDecode] = []
    upgrade_approver_group: str | None = None
    allow_self_approval: bool = False
    # Operators (``workflow.roles``): may set windows, run checks, tick items and cancel; not approve.
    upgrade_operators: Annotated[list[str], NoDecode] = []
    upgrade_operator_group: str | None = None

    # Scheduling and estimates
    precheck_lead_hours: float = Field(default=24.0, ge=0)
    reminder_lead_hours: float = Field(default=2.0, ge=0)
    default_window_minutes: int = Field(default=240, ge=15)
    package_size_mb: float = Field(default=700.0, gt=0)
    upload_bandwidth_mbps: float = Field(default=50.0, gt=0)
    prerequisite_check_minutes: float = Field(default=5.0, ge=0)
    agent_startup_minutes: float = Field(default=15.0, gt=0)
    hotfixes: int = Field(default=0, ge=0)

    # Replicas on one database: a plan's execution and the scheduler each run on the one process holding
    # their lease, renewed every third of this (real seconds); another takes over once it has expired.
    lease_seconds: float = Field(default=30.0, gt=0)

    # Campaigns (``workflow.campaign_engine``): how often the poll looks for due work (real seconds; a
    # person's approval or resume wakes it at once), and how often a soak checks the upgraded DMSs again
    # (the engine's clock, minutes).
    campaign_poll_seconds: float = Field(default=30.0, gt=0)
    campaign_soak_check_minutes: int = Field(default=60, ge=1)

    # Simulated DMS used when DMS_URL=simulated (console and the embedded default)
    sim_agents: int = Field(default=4, ge=1, le=250)
    sim_failover_pairs: int = Field(default=1, ge=0)
    sim_version: str = "10.4.0 CU3"
    sim_speed: float = Field(default=600.0, gt=0)
    # Faults the embedded simulator starts with (``dm-upgrade console --fault``); flags as in
    # ``simulator.faults``, separated by spaces or semicolons (a flag's own options use commas).
    sim_faults: Annotated[list[str], NoDecode] = []
    # Watch driver: the simulator plays the person in Cube (performs each step when the bot asks for it).
    sim_play_cube: bool = False

    @field_validator("upgrade_approvers", "upgrade_operators", "blocking_alarm_severities", "dms_agent_allow",
                     mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        return _split_commas(value)

    @field_validator("sim_faults", mode="before")
    @classmethod
    def _fault_flags(cls, value: object) -> object:
        if isinstance(value, str):
            return [part for part in value.replace(";", " ").split() if part]
        return value

    @property
    def dms_simulated(self) -> bool:
        return self.dms_url.strip().lower() == SIMULATED
