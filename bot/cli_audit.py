"""``dm-upgrade audit [--format jsonl|csv] [--since DATE] [--output FILE]``: export the audit log of
DATABASE_URL (bringing its schema up to date first, like every start of the program)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from bot.startup import fail, load_settings, startup_error
from workflow.store import audit
from workflow.store.database import make_engine, migrate, session


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


def _write(out: TextIO, *, url: str, fmt: audit.ExportFormat, since: datetime | None) -> None:
    engine = make_engine(url)
    try:
        migrate(engine)
        with session(engine) as db_session:
            for chunk in audit.iter_export(db_session, fmt=fmt, since=since):
                out.write(chunk)
    finally:
        engine.dispose()


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
        missing = missing_sqlite_file(url)
        if missing is not None:
            return fail(f"no database at {missing}: nothing was recorded there yet (DATABASE_URL, or "
                        "--database-url, names the bot's database)")
        fmt: audit.ExportFormat = "csv" if args.format == "csv" else "jsonl"
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
