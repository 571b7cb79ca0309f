"""``dm-upgrade script export DIR``: write the orchestrator Automation script and its install steps.

Needs no DMS, no Slack and no database. The script has not been run on a real DMA by this project's CI.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from dms import script_contract as contract
from dms.orchestrator_script import export


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="script_command", metavar="ACTION", required=True)
    writer = sub.add_parser("export", help="write the script XML and INSTALL.md into DIR")
    writer.add_argument("directory", metavar="DIR", type=Path)


def run(args: argparse.Namespace) -> int:
    folder = os.environ.get("DMS_PACKAGE_FOLDER") or contract.DEFAULT_PACKAGE_FOLDER
    try:
        written = export(args.directory, package_folder=folder)
    except OSError as exc:
        print(f"cannot write to {args.directory}: {exc.strerror or exc}")
        return 2
    for path in written:
        print(f"wrote {path}")
    print("Not run on a real DMA by dm-upgrade's CI: install it on a staging DMS first (see INSTALL.md).")
    return 0
