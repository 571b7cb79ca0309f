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
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from bot.app import Runtime
from bot.console.commands import Console, ReadLine
from bot.console.session import DEFAULT_USERS, ConsoleSession
from bot.settings import Settings
from bot.startup import fail, load_settings, startup_error
from workflow.settings import SIMULATED
from workflow.store.errors import ConfigError


@dataclass(frozen=True)
class ConsoleOptions:
    speed: float | None = None
    agents: int | None = None
    version: str | None = None
    user: str = "alice"
    pacer_interval_s: float = 1.0  # Slack's one message per second per channel, kept in the console
    settle_timeout_s: float = 600.0
    files_dir: Path | None = None  # where shared files (timeline pictures) go; default: a temp folder


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--speed", type=float, default=None,
                        help="simulated seconds per real second (default: SIM_SPEED, 600)")
    parser.add_argument("--agents", type=int, default=None, help="agents in the simulated DMS (default 4)")
    parser.add_argument("--version", default=None, help="version the simulated DMS runs (default 10.4.0 CU3)")
    parser.add_argument("--user", default="alice", help="acting user at start (default alice)")


def console_settings(base: Settings, *, options: ConsoleOptions, work_dir: Path) -> Settings:
    """The console's settings: simulated DMS, approvers by name, a fresh SQLite file unless DATABASE_URL."""
    given = base.model_fields_set
    update: dict[str, Any] = {"dms_url": SIMULATED, "upgrade_approver_group": None,
                              "upgrade_operator_group": None}
    if "database_url" not in given:
        update["database_url"] = f"sqlite:///{work_dir / 'dm-upgrade-console.db'}"
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
    with tempfile.TemporaryDirectory(prefix="dm-upgrade-console-") as work:
        session = ConsoleSession(console_settings(settings, options=options, work_dir=Path(work)),
                                 make_runtime=make_runtime, pacer_interval_s=options.pacer_interval_s,
                                 files_dir=options.files_dir)
        session.switch_user(options.user)
        await session.start()
        try:
            console = Console(session, out=stdout, interactive=interactive,
                              timeout_s=options.settle_timeout_s)
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
    return (f"dm-upgrade console: simulated DMS ({s.sim_agents} agents on {s.sim_version}, "
            f"speed x{s.sim_speed:g}); you are {session.user}; approvers: {approvers}; #upgrades. Type help.")


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
        return asyncio.run(run_console(settings, options=options or ConsoleOptions(),
                                       stdin=sys.stdin, stdout=sys.stdout))
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
    options = ConsoleOptions(speed=args.speed, agents=args.agents, version=args.version, user=args.user)
    return start_console(settings, options=options)
