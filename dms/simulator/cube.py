"""The simulator playing the person in DataMiner Cube, for the watch driver (``play_cube``).

With ``DMS_DRIVER=watch`` the bot only tells a person what to click in Cube and watches the agents. So that
the story can run end to end without a person, a simulator started with ``play_cube`` (``--play-cube``)
accepts ``POST /_sim/cube {"step": "upload"|"upgrade", "package": FILE}`` and does what the person would:
*Upload only* (the prerequisite checks run) or *Upgrade* of All Agents in cluster, failover pairs
simultaneously. It answers when the step is as far as a person would take it before clicking "Done in
Cube": the upload finished (its checks passed or failed), the upgrade started. What it did shows up as it
would in Cube (the agents' versions; a rejected package cannot be upgraded to). The person still confirms
each step in Slack ("Done in Cube"): that click is the bot's confirmation, never this endpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from dms.simulator.cluster import SimCluster
from dms.simulator.errors import ScriptFailed

log = logging.getLogger(__name__)

STEPS = ("upload", "upgrade")


async def play_step(cluster: SimCluster, *, step: str, package: str) -> str | None:
    """Do what the person would click in Cube; a failure is returned (and logged), as Cube would show it."""
    from dms.simulator import scripts  # scripts imports the cluster module too; kept local and lazy

    agent_ids = sorted(cluster.agents)
    try:
        if step == "upload":
            await scripts.upload_package(cluster, package, agent_ids)
        else:
            await scripts.upgrade_package(cluster, package, agent_ids)
    except ScriptFailed as exc:
        log.warning("Cube (played by the simulator): %s %s failed: %s", step, package, exc)
        return str(exc)
    return None


def handler(cluster: SimCluster) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """``POST /_sim/cube`` of this cluster."""

    async def cube(request: web.Request) -> web.StreamResponse:
        if not cluster.config.play_cube:
            return web.json_response({"error": "this simulator does not play the person in Cube "
                                               "(start it with --play-cube)"}, status=409)
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "the body must be JSON"}, status=400)
        step, package = (body.get("step"), body.get("package")) if isinstance(body, dict) else (None, None)
        if step not in STEPS or not isinstance(package, str) or not package.strip():
            return web.json_response({"error": "give step (upload or upgrade) and package"}, status=400)
        error = await play_step(cluster, step=step, package=package)
        return web.json_response({"step": step, "package": package, "error": error})

    return cube
