"""The SQL statements an engine runs inside a ``with`` block: for the tests that keep a unit of work's
statement count (a fleet's pre-checks due at once are bound by them, benchmarks/bench_fleet.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event


@contextmanager
def statements(engine: Engine, *, starting: str = "") -> Iterator[list[str]]:
    """Each statement's text on one line, those that start with ``starting``."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        text = " ".join(statement.split())
        if text.startswith(starting):
            seen.append(text)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)
