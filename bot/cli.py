"""The ``dm-upgrade`` command: one subcommand per module, imported only when it is used.

Each subcommand module offers ``add_arguments(parser)`` and ``run(args) -> int`` (the exit code), so
``dm-upgrade path`` never pays for importing Slack or the database.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from importlib import metadata

# name -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "run": ("bot.cli_run", "run the bot: Slack if tokens are set, else the console on a simulated DMS"),
    "console": ("bot.console.runner", "the whole bot in this terminal, on the simulated DMS"),
    "path": ("bot.cli_path", "compute the upgrade path and time estimate between two versions"),
    "catalog": ("bot.cli_catalog", "check a release catalog file before pointing RELEASE_CATALOG at it"),
    "check": ("bot.cli_check", "run the pre-upgrade checks against DMS_URL"),
    "campaign": ("bot.cli_campaign", "plan upgrading several DMSs in waves (a dry run: nothing stored)"),
    "simulator": ("bot.cli_simulator", "serve a simulated DataMiner System over the Web Services API"),
    "audit": ("bot.cli_audit", "export the audit log"),
    "timeline": ("bot.cli_timeline", "draw one plan's timeline (PNG) into a file and print its path"),
    "script": ("bot.cli_script", "export the orchestrator Automation script for the DMS, with install steps"),
}


def build_parser(*, only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dm-upgrade",
        description="Plan, check, approve, drive and verify DataMiner System upgrades from Slack.",
    )
    parser.add_argument("--version", action="version", version=f"dm-upgrade {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        if only is None or only == name:
            importlib.import_module(module_name).add_arguments(sub_parser)
    return parser


def _version() -> str:
    try:
        return metadata.version("dm-upgrade")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


BROKEN_PIPE_EXIT = 141  # 128 + SIGPIPE, what a shell reports for a writer whose reader went away


def _quiet_broken_pipe() -> int:
    """``dm-upgrade audit | head -1``: the reader is gone, so stop silently, as Unix tools do. Standard
    output is pointed at /dev/null, or the interpreter's final flush raises the same error again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return BROKEN_PIPE_EXIT


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    command = args_list[0] if args_list and args_list[0] in SUBCOMMANDS else None
    if command is None and (not args_list or not args_list[0].startswith("-")) and not args_list:
        args_list = ["run"]  # bare `dm-upgrade` is `dm-upgrade run`
        command = "run"
    parser = build_parser(only=command or "")
    args = parser.parse_args(args_list)
    if args.command is None:
        parser.print_help()
        return 2
    module = importlib.import_module(SUBCOMMANDS[args.command][0])
    try:
        code = int(module.run(args))
        sys.stdout.flush()  # a broken pipe shows up here for output still in the buffer
        return code
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
