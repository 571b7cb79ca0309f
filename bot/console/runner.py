"""``dm-upgrade console``: the whole bot in a terminal, on a simulated DMS, with a switchable user.

Typed lines are what a person would do in Slack: ``/dm-upgrade plan 10.5`` is the slash command, ``click 2``
and ``tick 5`` act on the numbered buttons and checkboxes of the latest message that has any (or ``click 2
in m1``), ``window now for 2h`` fills the window form, ``/as bob`` switches the acting user. The messages
the bot posts and edits are printed as text (see ``bot.console.render``).

When standard input is not a terminal the lines run in order, each one after the work of the previous one
settled, and the exit code is 1 if any line failed (the bot answered with an error or a refusal, or the
console could not do what the line asked), else 0.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from bot import event_loop
from bot.app import Runtime
from bot.console.commands import Console, ReadLine
from bot.console.session import DEFAULT_USERS, ConsoleSession
from bot.settings import Settings
from bot.startup import fail, load_settings, startup_error
from simulator.faults import fault_names
from workflow.model.errors import ConfigError
from workflow.settings import SIMULATED


@dataclass(frozen=True)
class ConsoleOptions:
    speed: float | None = None
    agents: int | None = None
    version: str | None = None
    user: str = "alice"
    faults: tuple[str, ...] = ()  # fault flags for the embedded simulator
    play_cube: bool = False  # watch driver: the simulator performs each Cube step when the bot asks
    pacer_interval_s: float = 1.0  # Slack's one message per second per channel, kept in the console
    settle_timeout_s: float = 600.0
    files_dir: Path | None = None  # shared files (timeline pictures); default: ./dm-upgrade-files


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--speed", type=float, default=None,
                        help="simulated seconds per real second (default: SIM_SPEED, 600)")
    parser.add_argument("--agents", type=int, default=None, help="agents in the simulated DMS (default 4)")
    parser.add_argument("--version", default=None, help="version the simulated DMS runs (default 10.4.0 CU3)")
    parser.add_argument("--user", default="alice", help="acting user at start (default alice)")
    parser.add_argument("--fault", action="append", default=[], metavar="NAME[:key=value,...]",
                        help="start the embedded simulated DMS with this fault (repeatable): "
                             + ", ".join(fault_names()) + "; options: dm-upgrade simulator --help")
    parser.add_argument("--play-cube", action="store_true",
                        help="with DMS_DRIVER=watch: the simulated DMS plays the person in Cube, performing "
                             "each step when the bot asks; you still click Done in Cube")


def console_settings(base: Settings, *, options: ConsoleOptions) -> Settings:
    """The console's settings: the DMS of DMS_URL or DMS_TARGETS_FILE (else the embedded simulator) and
    approvers by name. The database is DATABASE_URL's, by default the same file in the working directory
    as ``dm-upgrade run`` uses, so ``dm-upgrade audit`` shows what a console session did."""
    given = base.model_fields_set
    update: dict[str, Any] = {"upgrade_approver_group": None, "upgrade_operator_group": None}
    named_dms = ("dms_url" in given and bool(base.dms_url.strip())) or base.dms_targets_file is not None
    if not named_dms:
        update["dms_url"] = SIMULATED
    simulated = not named_dms or base.dms_simulated
    if options.faults:
        if not simulated:
            raise ConfigError("--fault needs the embedded simulated DMS, but DMS_URL/DMS_TARGETS_FILE names "
                              "another; start that one with `dm-upgrade simulator --fault NAME`")
        update["sim_faults"] = [*base.sim_faults, *options.faults]
    if options.play_cube:
        update["sim_play_cube"] = True
    names = base.upgrade_approvers if "upgrade_approvers" in given else ["bob"]
    update["upgrade_approvers"] = [DEFAULT_USERS.get(n.lower(), n) for n in names]
    if options.speed is not None:
        update["sim_speed"] = options.speed
    if options.agents is not None:
        update["sim_agents"] = options.agents
    if options.version is not None:
        update["sim_version"] = options.version
    if options.speed is not None and options.speed <= 0:
        raise ConfigError("--speed must be above 0")
    agents = update.get("sim_agents", base.sim_agents)
    if not 1 <= agents <= 250:
        raise ConfigError("--agents must be between 1 and 250")
    update["sim_failover_pairs"] = min(base.sim_failover_pairs, agents // 2)
    return base.model_copy(update=update)

def make_runtime(settings: Settings, clock: Callable[[], datetime], pacer_interval_s: float) -> Runtime:
    """The same composition as in Slack, on the clock the console session gives it."""
    return Runtime(settings, clock=clock, pacer_interval_s=pacer_interval_s)


async def run_console(
    settings: Settings,
    *,
    options: ConsoleOptions,
    stdin: TextIO,
    stdout: TextIO,
    interactive: bool | None = None,
) -> int:
    """Run a session until end of input or ``quit``; returns the exit code. Raises ``ConfigError``."""
    interactive = stdin.isatty() if interactive is None else interactive
    session = ConsoleSession(console_settings(settings, options=options),
                             make_runtime=make_runtime, pacer_interval_s=options.pacer_interval_s,
                             files_dir=options.files_dir)
    session.switch_user(options.user)
    await session.start()
    try:
        console = Console(session, out=stdout, interactive=interactive, timeout_s=options.settle_timeout_s)
        console.print(banner(session))
        printer = asyncio.create_task(_print_live(console)) if interactive else None
        try:
            return await console.run_lines(_line_reader(stdin, interactive=interactive))
        finally:
            if printer is not None:
                printer.cancel()
    finally:
        await session.stop()


def banner(session: ConsoleSession) -> str:
    s = session.runtime.settings
    approvers = ", ".join(session.transcript.user_names.get(a, a) for a in s.upgrade_approvers) or "nobody"
    return (f"dm-upgrade console: {dms_line(s)}; you are {session.user}; approvers: {approvers}; "
            "#upgrades. Type help.")


def dms_line(s: Settings) -> str:
    """Which DMS the session works on: the banner never lets a real DMS pass for a simulator or back."""
    if s.dms_targets_file is not None:
        return f"the DMSs of {s.dms_targets_file}"
    if not s.dms_simulated:
        return f"DMS {s.dms_url}"
    faults = f", faults: {' '.join(s.sim_faults)}" if s.sim_faults else ""
    driver = ""
    if s.dms_driver == "watch":
        driver = ", watch driver" + (", the simulator plays Cube" if s.sim_play_cube else "")
    return (f"simulated DMS ({s.sim_agents} agents on {s.sim_version}, speed x{s.sim_speed:g}{faults}"
            f"{driver})")


async def _print_live(console: Console) -> None:
    # Interactive only: progress keeps coming while the person types, so print it as it arrives and
    # show the prompt again under it.
    while True:
        await asyncio.sleep(0.1)
        if console.busy:
            continue
        lines = console.session.drain()
        if lines:
            console.print("", *lines)
            console.prompt()


def _line_reader(stdin: TextIO, *, interactive: bool) -> ReadLine:
    if not interactive:
        async def read_script() -> str | None:
            return stdin.readline() or None

        return read_script
    # A daemon thread, not the loop's executor: a read blocked at Ctrl-C must not hold up the exit.
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    def pump() -> None:
        while True:
            line = stdin.readline()
            loop.call_soon_threadsafe(lines.put_nowait, line or None)
            if not line:
                return

    threading.Thread(target=pump, name="console-stdin", daemon=True).start()
    return lines.get


def start_console(settings: Settings, *, options: ConsoleOptions | None = None) -> int:
    """The console from the command line: logs quiet (WARNING, stderr) unless LOG_LEVEL is set."""
    from bot.logs import setup_logging

    level = settings.log_level if "log_level" in settings.model_fields_set else "WARNING"
    setup_logging(level=level, fmt=settings.log_format)
    try:
        return event_loop.run(run_console(settings, options=options or ConsoleOptions(),
                                          stdin=sys.stdin, stdout=sys.stdout), choice=settings.event_loop)
    except Exception as exc:
        config_error = startup_error(exc)
        if config_error is None:
            raise
        return fail(str(config_error))


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings()
    except ConfigError as exc:
        return fail(str(exc))
    options = ConsoleOptions(speed=args.speed, agents=args.agents, version=args.version, user=args.user,
                             faults=tuple(args.fault), play_cube=args.play_cube)
    return start_console(settings, options=options)
