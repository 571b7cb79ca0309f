"""``dm-upgrade audit [--format jsonl|csv] [--since DATE] [--output FILE]``: export the audit log of
DATABASE_URL (bringing its schema up to date first, like every start of the program).

Read-only commands (``audit``, ``timeline``) never create a database: a missing SQLite file, or a database
without the bot's schema (an empty file), is said on stderr with exit 2 (``missing_database``). A CSV
cell that a spreadsheet would run as a formula gets a leading ``'`` (OWASP's rule for CSV injection):
reasons are typed by people. JSON Lines keep the text exactly as recorded.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from bot.startup import fail, load_settings, startup_error
from workflow import operations


def parse_since(text: str) -> datetime:
    """``YYYY-MM-DD`` or an ISO date-time; without an offset it means UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date; use YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+HH:MM]"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("jsonl", "csv"), default="jsonl", help="output format")
    parser.add_argument("--since", type=parse_since, default=None, help="only events from this date (UTC)")
    parser.add_argument("--output", type=Path, default=None, help="write to this file instead of stdout")
    parser.add_argument("--database-url", default=None, help="default: DATABASE_URL")


# What a spreadsheet reads as the start of a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """``cell`` as a spreadsheet shows it without evaluating it: a formula start gets a leading ``'``."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def csv_chunks(records: Iterator[str]) -> Iterator[str]:
    """JSON Lines records of the audit export -> CSV lines (header first), every cell neutralised."""
    buffer = io.StringIO()
    # RFC 4180's CRLF: the writer then quotes a cell holding a bare carriage return, which a reader
    # would otherwise take for the end of the row.
    writer = csv.DictWriter(buffer, fieldnames=operations.AUDIT_CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for record in records:
        data = json.loads(record)
        data["detail"] = json.dumps(data["detail"], sort_keys=True, ensure_ascii=False)
        writer.writerow({key: neutralise("" if value is None else str(value)) for key, value in data.items()})
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def _write(out: TextIO, *, url: str, fmt: operations.ExportFormat, since: datetime | None) -> None:
    records = operations.audit_records(url, since=since)
    for chunk in csv_chunks(records) if fmt == "csv" else records:
        out.write(chunk)


def missing_database(url: str) -> str | None:
    """Why a read-only command cannot read ``url`` (no SQLite file, or no dm-upgrade schema in it), or
    None. Asked without creating or migrating anything: opening a missing SQLite file creates it."""
    missing = missing_sqlite_file(url)
    if missing is not None:
        return (f"no database at {missing}: nothing was recorded there yet (DATABASE_URL, or "
                "--database-url, names the bot's database)")
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.engine import make_url

    # SQLite plain: make_engine's settings (WAL) would write to the file. Others through make_engine, which
    # names a missing driver in one line.
    sqlite = make_url(url).get_backend_name() == "sqlite"
    engine = create_engine(url) if sqlite else operations.open_database(url, migrated=False)
    try:
        with engine.connect() as connection:
            schema = inspect(connection).has_table("alembic_version")
    finally:
        engine.dispose()
    if schema:
        return None
    return (f"no dm-upgrade database at {_shown(url)}: it is empty (the bot creates its tables when it "
            "starts; DATABASE_URL, or --database-url, names the bot's database)")


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return str(Path(parsed.database or ""))
    return parsed.render_as_string(hide_password=True)


def missing_sqlite_file(url: str) -> Path | None:
    """The SQLite file the URL names when it does not exist (opening it would create an empty one)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    path = Path(parsed.database)
    return None if path.exists() else path


def run(args: argparse.Namespace) -> int:
    try:
        url = args.database_url or load_settings().database_url
        problem = missing_database(url)
        if problem is not None:
            return fail(problem)
        fmt: operations.ExportFormat = "csv" if args.format == "csv" else "jsonl"
        if args.output is None:
            _write(sys.stdout, url=url, fmt=fmt, since=args.since)
            return 0
        try:
            with open(args.output, "w", encoding="utf-8", newline="") as out:
                _write(out, url=url, fmt=fmt, since=args.since)
        except OSError as exc:
            print(f"dm-upgrade audit: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        return 0
    except Exception as exc:
        error = startup_error(exc)
        if error is None:
            raise
        return fail(str(error))
