"""``dm-upgrade catalog check FILE``: validate a newer release catalog before pointing RELEASE_CATALOG at it.

The validation is the bot's own (``dms.catalog.validation_errors``, the pydantic models that load the
catalog); every error is printed as ``FILE:LINE: location: message`` so an operator can go straight to it.
Exit code 0 when the file is valid, 1 when it is not, 2 when it cannot be read.

``dm-upgrade catalog sync DOCS_DIR [--catalog FILE] [--out FILE] [--check]``: rebuild the catalog from a
local dataminer-docs clone (``dms/catalog_sync.py`` says what is rewritten and what is kept), print what
changed and every page a person must read. Without ``--out`` it writes over ``--catalog FILE``; with neither
it only reports. ``--check`` writes nothing and exits 1 when the docs clone is newer than the catalog (for
an operator's cron). Exit 2 on a bad docs folder or catalog, naming the file; nothing is written then.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TextIO

from dms.catalog import Location, location_text, parse_catalog, validation_errors
from dms.catalog_sync import SyncResult, snapshot_of, sync
from dms.docs_pages import Snapshot
from dms.exceptions import CatalogError

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
    text = "rebuild the release catalog from a local clone of SkylineCommunications/dataminer-docs"
    sync = sub.add_parser("sync", help=text, description=text)
    sync.add_argument("docs", metavar="DOCS_DIR", type=Path, help="a dataminer-docs work tree (git clone)")
    sync.add_argument("--catalog", type=Path, default=None,
                      help="the catalog whose hand-kept parts are kept (default: the packaged one)")
    sync.add_argument("--out", type=Path, default=None,
                      help="where to write the result (default: --catalog FILE; with neither, only report)")
    sync.add_argument("--check", action="store_true",
                      help="write nothing; exit 1 when the docs are newer than the catalog")


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
          f"{len(catalog.known_issues)} known issues, {catalog.as_of_text()}", file=out)
    stale = catalog.freshness_warning(today=(now or datetime.now(UTC)).date())
    if stale:
        print(f"{path}: warning: {stale}", file=out)
    return 0


def run(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None,
        now: datetime | None = None) -> int:
    if args.action == "sync":
        return run_sync(args, out=out or sys.stdout, err=err or sys.stderr)
    return check(args.file, out=out or sys.stdout, err=err or sys.stderr, now=now)


def _catalog_text(path: Path | None) -> str:
    if path is None:
        return resources.files("dms").joinpath("data/catalog.toml").read_text(encoding="utf-8")
    return path.read_text(encoding="utf-8")


def _report(result: SyncResult, *, out: TextIO) -> None:
    snap = result.snapshot
    print(f"documentation snapshot: {snap.day}" + (f" (commit {snap.commit})" if snap.commit else "")
          + f", from {snap.source}", file=out)
    for line in result.changes or ["no change against the current catalog"]:
        print(f"  {line}", file=out)
    issues = result.issues
    if issues.uncertain:
        print(f"{len(issues.uncertain)} page(s) for a person to read (not guessed):", file=out)
        for line in issues.uncertain:
            print(f"  {line}", file=out)
    print(f"{len(issues.left_out)} Known issues page(s) left out (they do not touch upgrading): "
          + ", ".join(issues.left_out), file=out)


def _write(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".sync-tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def _is_newer(snapshot: Snapshot, catalog_text: str) -> bool:
    catalog = parse_catalog(tomllib.loads(catalog_text))
    if catalog.docs_snapshot is None:
        return True
    if snapshot.commit and catalog.docs_commit:
        return snapshot.commit != catalog.docs_commit and snapshot.day >= catalog.docs_snapshot
    return snapshot.day > catalog.docs_snapshot


def run_sync(args: argparse.Namespace, *, out: TextIO, err: TextIO) -> int:
    target = args.out or args.catalog
    try:
        text = _catalog_text(args.catalog)
        if args.check:
            snapshot = snapshot_of(args.docs)
            newer = _is_newer(snapshot, text)
            print(f"documentation {snapshot.day}: " + ("newer than the catalog, time to sync" if newer
                                                       else "the catalog is up to date"), file=out)
            return 1 if newer else 0
        result = sync(args.docs, catalog_text=text)
        if target is not None:
            _write(target, result.text)
    except (OSError, UnicodeDecodeError) as error:
        print(f"dm-upgrade catalog sync: {error}", file=err)
        return 2
    except tomllib.TOMLDecodeError as error:
        print(f"dm-upgrade catalog sync: the catalog is not valid TOML: {error}", file=err)
        return 2
    except CatalogError as error:
        print(f"dm-upgrade catalog sync: {error}", file=err)
        return 2
    _report(result, out=out)
    print(f"wrote {target}" if target is not None else "nothing written (give --out FILE or --catalog FILE)",
          file=out)
    return 0
