"""The simulator playing the person in DataMiner Cube, for the watch driver (``play_cube``).

With ``DMS_DRIVER=watch`` the bot only tells a person what to click in Cube and watches the agents. So that
the story can run end to end without a person, a simulator started with ``play_cube`` (``--play-cube``)
accepts ``POST /_sim/cube {"step": "upload"|"upgrade", "package": FILE}`` and does what the person would in
System Center > Agents > Manage > Upgrade, All Agents in cluster, failover pairs simultaneously:

* *Upload only* uploads the package and runs its prerequisite checks; a failing one rejects the package
  ("if a package contains prerequisite checks, these will also run when you upload the package",
  Upgrading_a_DMA/Upgrading_a_DataMiner_Agent_in_System_Center.md). Only Cube has it.
* *Upgrade* uploads the package unless it was uploaded before, and the checks run again as the upgrade
  starts: "if the prerequisite checks detect that this is not the case, the upgrade will be canceled"
  (Preparing_to_upgrade_a_DataMiner_Agent.md). It is ``simulator.scripts.begin_upgrade``, the same start
  the utility makes; the agent Cube is connected to (agent 1) orchestrates.

It answers when the step is as far as a person would take it before clicking "Done in Cube": the upload
finished (its checks passed or failed), the upgrade started (a helper package: ran). What it did shows up as
it would in Cube (the agents' versions). The person still confirms each step in Slack ("Done in Cube"): that
click is the bot's confirmation, never this endpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import httpx
from aiohttp import web

from simulator import scripts
from simulator.cluster import SimCluster

log = logging.getLogger(__name__)

STEPS = ("upload", "upgrade")


async def play_step(cluster: SimCluster, *, step: str, package: str) -> str | None:
    """Do what the person would click in Cube; a failure is returned (and logged), as Cube would show it."""
    if step == "upload":
        error = await upload_only(cluster, package)
    else:
        started = await scripts.begin_upgrade(cluster, package, transfer=package not in cluster.uploaded)
        error = started if isinstance(started, str) else None
    if error is not None:
        log.warning("Cube (played by the simulator): %s %s failed: %s", step, package, error)
    return error


async def upload_only(cluster: SimCluster, package: str) -> str | None:
    """Cube's Upload only: the package goes to every agent and its prerequisite checks run."""
    agent_ids = sorted(cluster.agents)
    blocked = scripts.not_ready(cluster, agent_ids)
    if blocked is not None:
        return f"the upload could not start: {blocked}"
    await scripts.upload(cluster, package)
    failed = scripts.check_prerequisites(cluster, package, agent_ids)
    return None if failed is None else f"the package was rejected: {failed}"


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


def person_in_cube(url: str) -> Callable[[str, str], Awaitable[None]]:
    """How the bot tells this simulator, at ``url``, to play the person in Cube (the watch driver's
    ``AskPerson``): ``POST /_sim/cube``. The simulator answers when the step is as far as a person would
    take it before clicking Done in Cube; a failure is logged, and the bot keeps waiting for the click."""
    base = url.rstrip("/")

    async def ask(step: str, package: str) -> None:
        try:
            # An upload with its checks takes simulated minutes: a long read, bounded all the same.
            async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=600.0)) as http:
                response = await http.post(f"{base}/_sim/cube", json={"step": step, "package": package})
            response.raise_for_status()
        except httpx.HTTPError as exc:
            log.warning("the simulator did not play %s of %s in Cube: %s", step, package, exc)

    return ask
