"""The embedded simulated DMS, as the composition roots start it (the bot, the console, ``dm-upgrade check``).

Production floors never import the simulator (``simulator/`` sits beside them); only ``bot/`` starts one,
from the SIM_* settings, and tells the workflow the two things it needs: the simulator's URL, and, with
SIM_PLAY_CUBE, how to have it play the person in Cube for the watch driver.
"""

from __future__ import annotations

from contextlib import AsyncExitStack

from simulator import SimulatedDms, SimulatorConfig
from simulator.cube import person_in_cube
from workflow.dms_access import PersonFor
from workflow.settings import WorkflowSettings


def simulator_config(settings: WorkflowSettings) -> SimulatorConfig:
    """The in-process simulated DMS described by the SIM_* settings, accepting the DMS_* credentials."""
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
    return person_in_cube if settings.sim_play_cube else None


async def start(stack: AsyncExitStack, settings: WorkflowSettings) -> str:
    """Start the simulator for ``settings`` inside ``stack`` (stopped when it closes); returns its URL."""
    simulator = SimulatedDms(simulator_config(settings))
    url = await simulator.start()
    stack.push_async_callback(simulator.stop)
    return str(url)
