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
from typing import TYPE_CHECKING, TypeVar

from workflow.dms_access import PersonFor
from workflow.model.errors import ConfigError
from workflow.settings import SIMULATED, WorkflowSettings
from workflow.targets import DEFAULT_TARGET, TargetConfig

if TYPE_CHECKING:  # imported where a simulator is started: a bot serving a real DMS never loads it
    from simulator import SimulatedDms, SimulatorConfig

S = TypeVar("S", bound=WorkflowSettings)

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


def simulated_names(targets: Mapping[str, TargetConfig]) -> list[str]:
    """The targets a simulated DMS serves; ConfigError when they sit beside real DMSs. A simulator runs
    SIM_SPEED times faster than a real DMS and the bot has one clock for every plan (``dms_time_scale``):
    with both, a real hop's deadline would be a simulator's, seconds long."""
    names = [name for name, target in targets.items() if target.simulated]
    real = [name for name, target in targets.items() if not target.simulated]
    if names and real:
        raise ConfigError(f"the DMS targets mix simulated and real DMSs ({', '.join(names)} simulated; "
                          f"{', '.join(real)} real): one bot serves either, as a simulator runs SIM_SPEED "
                          "times faster than a real DMS")
    return names


async def start_fleet(
    stack: AsyncExitStack, settings: WorkflowSettings, targets: Mapping[str, TargetConfig], *,
    versions: Mapping[str, str] | None = None, config: SimulatorConfig | None = None,
) -> dict[str, SimulatedDms]:
    """A simulated DMS of its own for every simulated target, started inside ``stack`` (stopped when it
    closes), by target name. A target runs ``versions[name]``, else its ``sim_version``, else the base
    version (``config``, by default the SIM_* settings'). One simulator per DMS, so each has its own
    version, agents, upgrades and faults. DMS_URL's ``default`` keeps the base cluster's name."""
    from simulator import SimulatedDms, SimulatorConfig

    base = config or simulator_config(settings)
    chosen = versions or {}
    started: dict[str, SimulatedDms] = {}
    for name in simulated_names(targets):
        version = chosen.get(name) or targets[name].sim_version or base.version
        own = base if name == DEFAULT_TARGET and version == base.version else SimulatorConfig.model_validate(
            {**base.model_dump(), "version": version, "cluster_name": name})
        simulator = SimulatedDms(own)
        await simulator.start()
        stack.push_async_callback(simulator.stop)
        started[name] = simulator
    return started


async def start_fleet_clock(
    stack: AsyncExitStack, settings: S, targets: Mapping[str, TargetConfig]
) -> tuple[S, dict[str, SimulatedDms]]:
    """``start_fleet`` for a bot: with simulated DMSs, the settings it runs on get their clock
    (``dms_time_scale`` = SIM_SPEED, as every DMS runs that much faster: ``simulated_names`` refused a mix
    with real ones); without, the settings as they are and no simulator is loaded."""
    if not simulated_names(targets):
        return settings, {}
    settings = settings.model_copy(update={"dms_time_scale": settings.sim_speed})
    return settings, await start_fleet(stack, settings, targets)


async def serve_targets(
    stack: AsyncExitStack, settings: WorkflowSettings, targets: Mapping[str, TargetConfig], *,
    versions: Mapping[str, str] | None = None, config: SimulatorConfig | None = None,
) -> dict[str, TargetConfig]:
    """``start_fleet``, and every simulated target named by its simulator's URL; the others as they are."""
    fleet = await start_fleet(stack, settings, targets, versions=versions, config=config)
    return {name: target.model_copy(update={"url": str(fleet[name].url)}) if name in fleet else target
            for name, target in targets.items()}
