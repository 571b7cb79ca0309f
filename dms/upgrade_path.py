"""What the path planner and the estimator produce: plain, frozen data that every layer can carry.

The planner (``dms.planner``) fills these; the bot stores them, the Slack surface renders them and
``dm-upgrade path --json`` prints them through ``to_json()``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from dms.versions import Track, Version


class PackageKind(StrEnum):
    FULL = "full"  # .dmupgrade: crosses a main release
    CU = "cu"  # cumulative update inside the same main release
    HELPER = "helper"  # VerifyClusterPorts, BrokerGateway migration, ...


class Hop(BaseModel):
    """One stop on the path: install ``name`` so that every agent lands on ``version``."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    version: Version  # the version the agents run after this hop (unchanged for helpers)
    package: PackageKind
    name: str  # package file name or helper name, e.g. "DataMiner 10.0.0 CU19.dmupgrade"
    rule: str  # why this hop is here, in one sentence
    rule_url: str  # the documentation page behind the rule
    checks: tuple[str, ...] = ()  # prerequisite checks the package runs on upload
    requirements: tuple[str, ...] = ()  # what agents must meet first (.NET, OS, ports, ...)
    restarts_agents: bool = True  # helpers such as VerifyClusterPorts do not restart DataMiner
    minutes: float | None = None  # documented duration where known (helpers)
    minutes_documented: bool = True  # false: ``minutes`` is a working assumption, no page states it
    # Checklist data of a helper (the BrokerGateway migration): what must hold before it, what to do after.
    prerequisites: tuple[str, ...] = ()
    post_steps: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "version": str(self.version),
            "package": self.package.value,
            "name": self.name,
            "rule": self.rule,
            "rule_url": self.rule_url,
            "checks": list(self.checks),
            "requirements": list(self.requirements),
            "restarts_agents": self.restarts_agents,
        }
        if self.prerequisites:
            data["prerequisites"] = list(self.prerequisites)
        if self.post_steps:
            data["post_steps"] = list(self.post_steps)
        return data


class WarningKind(StrEnum):
    PREVIEW = "preview"  # the target is a preview release (the requester opted in)
    KNOWN_ISSUE = "known_issue"  # a hop hits a documented known issue the path could not avoid
    SUPPORT = "support"  # the current or target version is out of support
    CATALOG = "catalog"  # the release catalog is stale (or does not say when it was checked)


class PathWarning(BaseModel):
    """Something the plan message, the checklist and ``dm-upgrade path`` must show next to the path."""

    model_config = ConfigDict(frozen=True)

    kind: WarningKind
    text: str
    url: str = ""
    hop: int | None = None  # index into ``UpgradePath.hops`` when the warning belongs to one hop

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "text": self.text, "url": self.url, "hop": self.hop}


class PhaseEstimate(BaseModel):
    """One row of the MOP's time-estimate table."""

    model_config = ConfigDict(frozen=True)

    phase: str  # "Determine the upgrade version and time slot", ...
    low_minutes: float
    high_minutes: float
    factors: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "low_minutes": round(self.low_minutes, 1),
            "high_minutes": round(self.high_minutes, 1),
            "factors": list(self.factors),
        }


class Estimate(BaseModel):
    model_config = ConfigDict(frozen=True)

    phases: tuple[PhaseEstimate, ...]

    @property
    def low_minutes(self) -> float:
        return sum(phase.low_minutes for phase in self.phases)

    @property
    def high_minutes(self) -> float:
        return sum(phase.high_minutes for phase in self.phases)

    @property
    def execution(self) -> PhaseEstimate:
        """The last phase, "Execute the DataMiner upgrade": what the window must hold."""
        return self.phases[-1]

    def to_json(self) -> dict[str, Any]:
        return {
            "phases": [phase.to_json() for phase in self.phases],
            "total_low_minutes": round(self.low_minutes, 1),
            "total_high_minutes": round(self.high_minutes, 1),
        }


class UpgradePath(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    current: Version
    target: Version
    track: Track
    hops: tuple[Hop, ...]
    warnings: tuple[PathWarning, ...] = ()

    def warnings_of(self, kind: WarningKind) -> tuple[PathWarning, ...]:
        return tuple(warning for warning in self.warnings if warning.kind is kind)

    def checklist_items(self) -> tuple[tuple[str, str], ...]:
        """(phase, text) items the checklist needs beyond the MOP's: helper prerequisites (before the
        window, phase "details") and post-migration steps (after the upgrade, phase "verify")."""
        items: list[tuple[str, str]] = []
        for hop in self.hops:
            items += [("details", f"{hop.name}: {text}") for text in hop.prerequisites]
            items += [("verify", f"After {hop.name}: {text}") for text in hop.post_steps]
        return tuple(items)

    @property
    def upgrade_hops(self) -> tuple[Hop, ...]:
        """Hops that install DataMiner itself (not helpers)."""
        return tuple(hop for hop in self.hops if hop.package is not PackageKind.HELPER)

    def to_json(self, *, estimate: Estimate | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "from": str(self.current),
            "to": str(self.target),
            "track": self.track.value,
            "hops": [hop.to_json() for hop in self.hops],
            "warnings": [warning.to_json() for warning in self.warnings],
        }
        if estimate is not None:
            data["estimate"] = estimate.to_json()
        return data
