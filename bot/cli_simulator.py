"""``dm-upgrade simulator``: serve a simulated DataMiner System until Ctrl-C or SIGTERM.

It prints the line to use as ``DMS_URL`` (and the user); the password is never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from pydantic import SecretStr, ValidationError

from simulator import (
    DEFAULT_PASSWORD,
    DEFAULT_PORT,
    DEFAULT_USER,
    SimulatedDms,
    SimulatorConfig,
    SimulatorError,
)
from simulator.faults import fault_help, fault_names


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown, and the epilog's fault table kept as written."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = _HelpFormatter
    parser.epilog = fault_help()
    parser.add_argument("--host", default="127.0.0.1", help="main address (answers as agent 1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port on every address (0: pick one)")
    parser.add_argument("--agents", type=int, default=4, help="number of agents (agent i on 127.0.1.i)")
    parser.add_argument("--failover-pairs", type=int, default=1, help="failover pairs among the agents")
    parser.add_argument("--version", default="10.4.0 CU3", help="DataMiner version every agent starts on")
    parser.add_argument("--elements", type=int, default=20, help="elements per agent")
    parser.add_argument("--alarms", type=int, default=6, help="active alarms (Critical/Major ones masked)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="latency per request, real ms")
    parser.add_argument("--startup-minutes", type=float, default=10.0, help="agent startup, simulated min")
    parser.add_argument("--speed", type=float, default=60.0,
                        help="simulated seconds per real second (60: one simulated minute per second)")
    parser.add_argument("--user", default=DEFAULT_USER, help="the only user the DMS accepts")
    parser.add_argument("--password", default=DEFAULT_PASSWORD, help="that user's password")
    parser.add_argument("--play-cube", action="store_true",
                        help="play the person in Cube for the watch driver: perform each step when the bot "
                             "asks (the bot needs SIM_PLAY_CUBE=true)")
    parser.add_argument("--fault", action="append", default=[], metavar="NAME[:key=value,...]",
                        help=f"inject a fault at start (repeatable): {', '.join(fault_names())}")


def build_config(args: argparse.Namespace) -> SimulatorConfig:
    return SimulatorConfig(
        host=args.host, port=args.port, agents=args.agents, failover_pairs=args.failover_pairs,
        version=args.version, elements_per_agent=args.elements, alarms=args.alarms,
        latency_ms=args.latency_ms,
        startup_minutes=args.startup_minutes, speed=args.speed, user=args.user,
        password=SecretStr(args.password), faults=tuple(args.fault), play_cube=args.play_cube,
    )


def run(args: argparse.Namespace) -> int:
    try:
        config = build_config(args)
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(part) for part in error.get("loc", ())) or "options"
            print(f"dm-upgrade simulator: {where}: {error.get('msg')}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(config))
    except SimulatorError as exc:
        print(f"dm-upgrade simulator: {exc}", file=sys.stderr)
        return 1
    return 0


async def _serve(config: SimulatorConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not on Windows; Ctrl-C still ends asyncio.run there
            loop.add_signal_handler(signum, stop.set)
    sim = SimulatedDms(config)
    url = await sim.start()
    try:
        pairs = f", {config.failover_pairs} failover pair(s)" if config.failover_pairs else ""
        print(f"Simulated DMS: {config.agents} agent(s){pairs} on {config.version}, speed x{config.speed:g}; "
              f"agent i answers on 127.0.1.i at the same port. Ctrl-C stops it.", flush=True)
        print(f"DMS_URL={url}", flush=True)
        print(f"DMS_USER={config.user}", flush=True)
        await stop.wait()
    finally:
        await sim.stop()
        print("Simulated DMS stopped.", flush=True)
