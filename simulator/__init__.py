"""A simulated DataMiner System speaking the Web Services API v1 (JSON) over real HTTP.

``SimulatedDms(SimulatorConfig(...))`` serves a cluster whose agents each answer on an address of their own;
it runs the upgrade Automation script of ``dms.script_contract`` and can be told to misbehave
(``simulator.faults``). ``dm-upgrade simulator`` runs one from the command line.
"""

from __future__ import annotations

from simulator.agents import agent_ip, build_string
from simulator.clock import ManualClock, ScaledClock, SimClock
from simulator.config import DEFAULT_PASSWORD, DEFAULT_PORT, DEFAULT_USER, SimulatorConfig
from simulator.faults import ActiveFault, Fault, FaultError
from simulator.scripts import package_version
from simulator.server import SimulatedDms, SimulatorError

__all__ = [
    "DEFAULT_PASSWORD",
    "DEFAULT_PORT",
    "DEFAULT_USER",
    "ActiveFault",
    "Fault",
    "FaultError",
    "ManualClock",
    "ScaledClock",
    "SimClock",
    "SimulatedDms",
    "SimulatorConfig",
    "SimulatorError",
    "agent_ip",
    "build_string",
    "package_version",
]
