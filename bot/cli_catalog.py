"""``dm-upgrade catalog check FILE``: validate a newer release catalog before pointing RELEASE_CATALOG at it.

The validation is the bot's own (``dms.catalog.validation_errors``, the pydantic models that load the
catalog); every error is printed as ``FILE:LINE: location: message`` so an operator can go straight to it.
Exit code 0 when the file is valid, 1 when it is not, 2 when it cannot be read.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from dms.catalog import Location, location_text, parse_catalog, validation_errors

_ARRAY_TABLE = re.compile(r"^\s*\[\[\s*([A-Za-z0-9_-]+)\s*\]\]")
_TABLE = re.compile(r"^\s*\[\s*([A-Za-z0-9_-]+)\s*\]")
_KEY = re.compile(r"^\s*\"?([A-Za-z0-9_-]+)\"?\s*=")
# Errors raised for the whole catalog name their entry in the message: "releases[3]: ...", "helpers[0].doc".
_NAMED = re.compile(r"\b([a-z_]+)\[(\d+)\](?:\.([a-z_]+))?")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    text = "validate a release catalog file (TOML), naming every error with its line"
    check = sub.add_parser("check", help=text, description=text)
    check.add_argument("file", metavar="FILE", type=Path, help="the catalog to validate, e.g. catalog.toml")


def key_lines(text: str) -> dict[Location, int]:
    """Where each table, array-table entry and key starts: ``("releases", 3, "version")`` -> line number.

    tomllib keeps no positions, and a catalog is plain tables and keys, so a line scan is enough.
    """
    lines: dict[Location, int] = {}
    counts: dict[str, int] = {}
    table: Location = ()
    for number, line in enumerate(text.splitlines(), start=1):
        if match := _ARRAY_TABLE.match(line):
            name = match[1]
            counts[name] = counts.get(name, -1) + 1
            table = (name, counts[name])
            lines.setdefault((name,), number)
            lines[table] = number
        elif match := _TABLE.match(line):
            table = (match[1],)
            lines[table] = number
        elif match := _KEY.match(line):
            lines.setdefault((*table, match[1]), number)
    return lines


def line_of(loc: Location, message: str, lines: dict[Location, int]) -> int | None:
    """The line of the deepest known part of ``loc`` (or of the entry a whole-catalog message names)."""
    if not loc and (named := _NAMED.search(message)):
        loc = (named[1], int(named[2])) + ((named[3],) if named[3] else ())
    for depth in range(len(loc), 0, -1):
        if loc[:depth] in lines:
            return lines[loc[:depth]]
    return None


def check(path: Path, *, out: TextIO, err: TextIO, now: datetime | None = None) -> int:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        print(f"dm-upgrade catalog check: cannot read {path}: {error}", file=err)
        return 2
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        # tomllib says "(at line N, column M)": put the line first, like every other error.
        found = re.search(r"at line (\d+)", str(error))
        print(f"{path}:{found[1] if found else '?'}: not valid TOML: {error}", file=out)
        return 1
    lines = key_lines(text)
    problems = validation_errors(data)
    for loc, message in problems:
        number = line_of(loc, message, lines)
        where = location_text(loc)
        prefix = f"{path}:{number if number is not None else '?'}: "
        print(prefix + (f"{where}: " if where else "") + message, file=out)
    if problems:
        # Checks across entries (duplicate releases, unknown [docs] keys) run once every entry is valid.
        print(f"{path}: {len(problems)} error(s); the bot would refuse this catalog", file=out)
        return 1
    catalog = parse_catalog(data, source=str(path))
    previews = sum(1 for version in catalog.versions if catalog.is_preview(version))
    print(f"{path}: valid release catalog, {len(catalog.versions)} releases ({previews} preview), "
          f"{len(catalog.known_issues)} known issues, checked {catalog.checked or 'unknown'}", file=out)
    stale = catalog.freshness_warning(today=(now or datetime.now(UTC)).date())
    if stale:
        print(f"{path}: warning: {stale}", file=out)
    return 0


def run(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None,
        now: datetime | None = None) -> int:
    return check(args.file, out=out or sys.stdout, err=err or sys.stderr, now=now)
