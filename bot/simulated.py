"""The embedded simulated DMS, as the composition roots start it (the bot, the console, ``dm-upgrade check``).

Production floors never import the simulator (``simulator/`` sits beside them); only ``bot/`` starts one,
from the SIM_* settings, and tells the workflow the two things it needs: the simulator's URL, and, with
SIM_PLAY_CUBE, how to have it play the person in Cube for the watch driver.

A fleet is several simulated DMSs at once, each a cluster of its own on a port of its own, each on its own
version (``serve_targets``): what ``dm-upgrade campaign`` plans when no DMS is configured (``DEMO_FLEET``),
and every ``simulated`` entry of a targets file.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

from workflow.dms_access import PersonFor
from workflow.settings import SIMULATED, WorkflowSettings
from workflow.targets import TargetConfig

if TYPE_CHECKING:  # imported where a simulator is started: a bot serving a real DMS never loads it
    from simulator import SimulatorConfig

# Three DMSs on three versions, so a campaign planned on them shows three different paths to one target.
DEMO_FLEET: dict[str, str] = {"staging": "10.4.0 CU3", "prod-eu": "10.3.0 CU5", "prod-us": "10.2.0 CU5"}


def simulator_config(settings: WorkflowSettings) -> SimulatorConfig:
    """The in-process simulated DMS described by the SIM_* settings, accepting the DMS_* credentials."""
    from simulator import SimulatorConfig

    return SimulatorConfig(
        agents=settings.sim_agents,
        failover_pairs=settings.sim_failover_pairs,
        version=settings.sim_version,
        speed=settings.sim_speed,
        user=settings.dms_user,
        password=settings.dms_password,
        faults=tuple(settings.sim_faults),
        play_cube=settings.sim_play_cube,
    )


def person_for(settings: WorkflowSettings) -> PersonFor | None:
    """SIM_PLAY_CUBE: the target is a simulator (embedded, or started with ``--play-cube``) that plays the
    person in Cube; the watch driver tells it each step."""
    if not settings.sim_play_cube:
        return None
    from simulator.cube import person_in_cube

    return person_in_cube


async def start(stack: AsyncExitStack, settings: WorkflowSettings) -> str:
    """Start the simulator for ``settings`` inside ``stack`` (stopped when it closes); returns its URL."""
    from simulator import SimulatedDms

    simulator = SimulatedDms(simulator_config(settings))
    url = await simulator.start()
    stack.push_async_callback(simulator.stop)
    return str(url)


def demo_fleet(settings: WorkflowSettings) -> dict[str, TargetConfig]:
    """``DEMO_FLEET`` as simulated targets (``serve_targets`` gives each its simulator and version)."""
    return {name: TargetConfig(name=name, url=SIMULATED, user=settings.dms_user,
                               password=settings.dms_password) for name in DEMO_FLEET}


async def serve_targets(
    stack: AsyncExitStack, settings: WorkflowSettings, targets: Mapping[str, TargetConfig], *,
    versions: Mapping[str, str] | None = None, config: SimulatorConfig | None = None,
) -> dict[str, TargetConfig]:
    """Every simulated target served by a simulated DMS of its own, started inside ``stack``, and named by
    that simulator's URL; the others as they are. A target runs ``versions[name]``, else the base version
    (``config``, by default the SIM_* settings'). One simulator per DMS, so each has its own version,
    agents, upgrades and faults."""
    from simulator import SimulatedDms, SimulatorConfig

    base = config or simulator_config(settings)
    chosen = versions or {}
    served = dict(targets)
    for name, target in targets.items():
        if not target.simulated:
            continue
        own = SimulatorConfig.model_validate(
            {**base.model_dump(), "version": chosen.get(name, base.version), "cluster_name": name})
        simulator = SimulatedDms(own)
        url = await simulator.start()
        stack.push_async_callback(simulator.stop)
        served[name] = target.model_copy(update={"url": str(url)})
    return served
