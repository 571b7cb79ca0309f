"""Alembic environment: runs with the connection ``workflow.store.database.migrate`` hands over
(or sqlalchemy.url).

Only our own tables are compared and migrated: APScheduler creates and owns its job table in the same
database, so anything not in our metadata is ignored.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import workflow.store.tables  # noqa: F401  (registers every table on the metadata)
from workflow.store.database import include_object, make_engine
from workflow.store.tables import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        include_object=include_object,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode rebuilds the table
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database: pass a connection in config.attributes or set sqlalchemy.url")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported; run them against a database")
run_migrations_online()
