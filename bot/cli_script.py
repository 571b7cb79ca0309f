"""``dm-upgrade script export DIR`` and ``dm-upgrade script selftest``.

``export`` writes the orchestrator Automation script and its install steps; it needs no DMS, no Slack and
no database. ``selftest`` proves an installation without upgrading anything: on a lab DMA the script starts
SLTaskbarUtility's ``-help`` exactly the way an upgrade would (same process, same account, same path
search), lists the package folder and reads the agents, and this prints each result with what to fix.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from contextlib import AsyncExitStack
from pathlib import Path

from dms import script_contract as contract
from dms import script_runs
from dms.exceptions import DmsApiError
from dms.orchestrator_script import export


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="script_command", metavar="ACTION", required=True)
    writer = sub.add_parser("export", help="write the script XML and INSTALL.md into DIR")
    writer.add_argument("directory", metavar="DIR", type=Path)
    sub.add_parser("selftest", help="on a lab DMA: check the installed script, the Taskbar Utility, the "
                                    "package folder and the agents, without upgrading anything")


def run(args: argparse.Namespace) -> int:
    if args.script_command == "selftest":
        return asyncio.run(_selftest())
    folder = os.environ.get("DMS_PACKAGE_FOLDER") or contract.DEFAULT_PACKAGE_FOLDER
    try:
        written = export(args.directory, package_folder=folder)
    except OSError as exc:
        print(f"cannot write to {args.directory}: {exc.strerror or exc}")
        return 2
    for path in written:
        print(f"wrote {path}")
    print("Then run `dm-upgrade script selftest` against a lab DMS: it proves the installation without "
          "upgrading anything.")
    return 0


async def _selftest() -> int:
    from bot import simulated
    from bot.cli_check import make_client
    from bot.settings import Settings

    settings = Settings()
    async with AsyncExitStack() as stack:
        url = await simulated.start(stack, settings) if settings.dms_simulated else None
        client = make_client(settings, url=url)
        stack.push_async_callback(client.close)
        try:
            agents = script_runs.agents_of(await client.agents_info())
            report = await script_runs.selftest(client, package_folder=settings.dms_package_folder,
                                                utility_path=settings.dms_taskbar_utility_path, agents=agents)
        except DmsApiError as exc:
            print(f"FAIL  the orchestrator script could not be run: {exc}")
            print("Fix: import the script that `dm-upgrade script export` writes, in the folder "
                  f"{contract.SCRIPT_FOLDER}, and give the bot's account Modules > Automation > Execute.")
            return 1
    print(f"PASS  the orchestrator script answers (contract {contract.CONTRACT_VERSION}) on {client.url}")
    for name, outcome in report.checks.items():
        mark = "PASS" if outcome.startswith("pass") else "FAIL"
        print(f"{mark}  {name}: {outcome.partition(':')[2].strip() or outcome}")
    print(f"The utility runs as: {report.account or 'unknown'} (its saved slnet credentials must be in this "
          "account's profile)")
    print("selftest passed: the installation can run an upgrade" if report.passed else
          "selftest FAILED: fix the lines marked FAIL, then run it again")
    return 0 if report.passed else 1
