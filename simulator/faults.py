"""Faults the simulated DMS can be told to show, at start (``--fault``) or at run time (``POST /_sim/fault``).

=======================  =============================================================  ==================
fault                    effect                                                         options (default)
=======================  =============================================================  ==================
agent_unreachable        the agent's own address answers 503; elsewhere it shows         agent (last)
                         Disconnected ("Unreachable")
agent_stuck_starting     the agent's current or next startup hangs at "Starting up       agent (last),
                         (40%)"; ``restart`` restarts it now so a check can see it       restart (false)
agent_fails_to_start     the agent's current or next startup ends Disconnected           agent (last),
                         ("Failed to start"); ``restart`` restarts it now                restart (false)
prerequisite_check_fails its prerequisite check fails: Upload only in Cube fails, and    check ("Verify
                         an upgrade's start is canceled (the utility exits 1, no         Cluster Ports"),
                         agent touched; Cube's Upgrade refuses); with ``package``,       package (any)
                         only packages whose file name contains it
critical_alarms          ``count`` unmasked Critical alarms appear on the agent          agent (1), count (2)
latency_spike            every request to the agent (or all) waits ``ms`` longer         agent (all),
                                                                                        ms (3000)
session_expiry           every open session is dropped now, and while active a           -
                         connection id serves one call only
html_answers             every API call to the agent (or all) answers 200 with an        agent (all)
                         HTML error page, as a misconfigured IIS or proxy does
=======================  =============================================================  ==================

The prerequisite checks run on Upload only and again when the upgrade starts ("if the prerequisite checks
detect that this is not the case, the upgrade will be canceled", Upgrading_a_DMA/
Preparing_to_upgrade_a_DataMiner_Agent.md); the command-line utility has no Upload only, so for the script
the start is the only place they run.

Agent faults default to the last agent so that ``DMS_URL`` (agent 1) keeps answering. Clearing a fault undoes
its effect: a stuck agent resumes its startup, a failed one starts again, spiked latency and alarms go away.
A flag reads ``NAME`` or ``NAME:key=value,key=value`` (e.g. ``agent_unreachable:agent=3``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Fault(StrEnum):
    AGENT_UNREACHABLE = "agent_unreachable"
    AGENT_STUCK_STARTING = "agent_stuck_starting"
    AGENT_FAILS_TO_START = "agent_fails_to_start"
    PREREQUISITE_CHECK_FAILS = "prerequisite_check_fails"
    CRITICAL_ALARMS = "critical_alarms"
    LATENCY_SPIKE = "latency_spike"
    SESSION_EXPIRY = "session_expiry"
    HTML_ANSWERS = "html_answers"


AGENT_FAULTS = frozenset({Fault.AGENT_UNREACHABLE, Fault.AGENT_STUCK_STARTING, Fault.AGENT_FAILS_TO_START})
_OPTIONS: dict[Fault, frozenset[str]] = {
    Fault.AGENT_UNREACHABLE: frozenset({"agent"}),
    Fault.AGENT_STUCK_STARTING: frozenset({"agent", "restart"}),
    Fault.AGENT_FAILS_TO_START: frozenset({"agent", "restart"}),
    Fault.PREREQUISITE_CHECK_FAILS: frozenset({"check", "package"}),
    Fault.CRITICAL_ALARMS: frozenset({"agent", "count"}),
    Fault.LATENCY_SPIKE: frozenset({"agent", "ms"}),
    Fault.SESSION_EXPIRY: frozenset(),
    Fault.HTML_ANSWERS: frozenset({"agent"}),
}
DEFAULT_CHECK = "Verify Cluster Ports"


class FaultError(ValueError):
    """A fault request that names no known fault or carries a bad option; nothing was changed."""


@dataclass(frozen=True)
class ActiveFault:
    fault: Fault
    agent: int | None = None  # None: every agent (latency) or not agent-bound
    count: int = 0
    ms: float = 0.0
    check: str = ""
    restart: bool = False
    package: str = ""  # prerequisite_check_fails: only packages whose file name contains this ("": all)

    def fails_check_of(self, package: str) -> bool:
        """Whether this fault fails the prerequisite checks of ``package`` (Upload only, upgrade start)."""
        return self.fault is Fault.PREREQUISITE_CHECK_FAILS and self.package.lower() in package.lower()

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["fault"] = self.fault.value
        shown = {key: value for key, value in data.items() if key == "fault" or key in _OPTIONS[self.fault]}
        if not self.package:
            shown.pop("package", None)  # "every package": the default says nothing
        return shown


_EFFECTS: dict[Fault, str] = {
    Fault.AGENT_UNREACHABLE: "the agent answers 503 / shows Disconnected",
    Fault.AGENT_STUCK_STARTING: 'the agent\'s startup hangs at "Starting up (40%)"',
    Fault.AGENT_FAILS_TO_START: "the agent's startup ends Disconnected",
    Fault.PREREQUISITE_CHECK_FAILS: "the check fails: Upload only, and the upgrade's start",
    Fault.CRITICAL_ALARMS: "unmasked Critical alarms appear on the agent",
    Fault.LATENCY_SPIKE: "every request waits ms longer",
    Fault.SESSION_EXPIRY: "sessions drop; a connection id serves one call",
    Fault.HTML_ANSWERS: "API calls answer 200 with an HTML error page",
}


def fault_names() -> list[str]:
    return [fault.value for fault in Fault]


def fault_help() -> str:
    """Every fault with what it does and the options it takes: the epilog of ``--help``."""
    lines = ["faults for --fault NAME[:key=value,...] (repeatable):"]
    for fault in Fault:
        options = ", ".join(sorted(_OPTIONS[fault])) or "-"
        lines.append(f"  {fault.value:<25} options: {options:<14} {_EFFECTS[fault]}")
    return "\n".join(lines)


def make_fault(name: object, options: Mapping[str, object], *, agents: int) -> ActiveFault:
    """Validate a fault request against a cluster of ``agents`` agents."""
    try:
        fault = Fault(str(name))
    except ValueError:
        raise FaultError(f"unknown fault {name!r}; known faults: {', '.join(fault_names())}") from None
    unknown = set(options) - _OPTIONS[fault]
    if unknown:
        allowed = ", ".join(sorted(_OPTIONS[fault])) or "none"
        extra = ", ".join(sorted(unknown))
        raise FaultError(f"fault {fault.value} takes no option {extra}; options: {allowed}")
    default_agent: int | None = agents if fault in AGENT_FAULTS else None
    if fault is Fault.CRITICAL_ALARMS:
        default_agent = 1
    agent = _int(options.get("agent"), "agent", default_agent)
    if agent is not None and not 1 <= agent <= agents:
        raise FaultError(f"agent must be between 1 and {agents}, got {agent}")
    count = _int(options.get("count"), "count", 2 if fault is Fault.CRITICAL_ALARMS else 0) or 0
    ms = _float(options.get("ms"), "ms", 3000.0 if fault is Fault.LATENCY_SPIKE else 0.0)
    if count < 0 or count > 1000 or ms < 0 or ms > 600_000:
        raise FaultError("count must be 0-1000 and ms 0-600000")
    check = str(options.get("check") or (DEFAULT_CHECK if fault is Fault.PREREQUISITE_CHECK_FAILS else ""))
    restart = _bool(options.get("restart"), "restart")
    package = str(options.get("package") or "")[:200]
    return ActiveFault(fault, agent=agent, count=count, ms=ms, check=check[:200], restart=restart,
                       package=package)


def parse_fault_flag(text: str) -> tuple[str, dict[str, str]]:
    """``NAME`` or ``NAME:key=value,key=value`` -> (name, options)."""
    name, _, rest = text.strip().partition(":")
    options: dict[str, str] = {}
    for part in filter(None, (piece.strip() for piece in rest.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise FaultError(f"fault option {part!r} is not key=value (in {text!r})")
        options[key.strip()] = value.strip()
    return name.strip(), options


def _int(value: object, name: str, default: int | None) -> int | None:
    if value is None:
        return default
    if isinstance(value, bool):
        raise FaultError(f"{name} must be a whole number, got {value!r}")
    try:
        return int(str(value))
    except ValueError:
        raise FaultError(f"{name} must be a whole number, got {value!r}") from None


def _float(value: object, name: str, default: float) -> float:
    if value is None:
        return default
    try:
        return float(str(value))
    except ValueError:
        raise FaultError(f"{name} must be a number, got {value!r}") from None


def _bool(value: object, name: str) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no", ""):
        return False
    raise FaultError(f"{name} must be true or false, got {value!r}")
