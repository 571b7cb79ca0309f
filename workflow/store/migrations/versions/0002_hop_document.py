"""A plan's hop is stored as the path's Hop document (its one definition), no longer copied column by
column; the plan's JSON copy of its path goes (the hops are the path) and the path's warnings get a
column of their own.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from dms.versions import parse_version

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

OLD_COLUMNS = ("version", "package", "name", "rule", "rule_url", "checks", "requirements", "restarts_agents",
               "minutes")


def _document(row: Any) -> dict[str, Any]:
    """The Hop.model_dump(mode="json") of an old row: the version in its display form, lists as lists."""
    return {
        "version": str(parse_version(row.version)),
        "package": row.package,
        "name": row.name,
        "rule": row.rule,
        "rule_url": row.rule_url,
        "checks": list(row.checks or []),
        "requirements": list(row.requirements or []),
        "restarts_agents": bool(row.restarts_agents),
        "minutes": row.minutes,
    }


def upgrade() -> None:
    # Plain ALTER TABLE (SQLite 3.35+ drops columns natively): a batch copy of upgrade_plan would trip
    # over the foreign keys of its hops.
    op.add_column("plan_hop", sa.Column("hop", sa.JSON(), nullable=False, server_default="{}"))
    hops = sa.table("plan_hop", sa.column("id", sa.Integer()), sa.column("hop", sa.JSON()),
                    *(sa.column(name) for name in OLD_COLUMNS if name not in ("checks", "requirements")),
                    sa.column("checks", sa.JSON()), sa.column("requirements", sa.JSON()))
    connection = op.get_bind()
    for row in connection.execute(sa.select(hops)).fetchall():
        connection.execute(hops.update().where(hops.c.id == row.id).values(hop=_document(row)))
    for name in OLD_COLUMNS:
        op.drop_column("plan_hop", name)
    op.drop_column("upgrade_plan", "path")
    op.add_column("upgrade_plan", sa.Column("warnings", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    """Back to one column per field (the plan's path copy comes back empty: nothing read it)."""
    op.drop_column("upgrade_plan", "warnings")
    op.add_column("upgrade_plan", sa.Column("path", sa.JSON(), nullable=False, server_default="{}"))
    for column in _old_columns():
        op.add_column("plan_hop", column)
    hops = sa.table("plan_hop", sa.column("id", sa.Integer()), sa.column("hop", sa.JSON()),
                    *(sa.column(c.name, c.type) for c in _old_columns()))
    connection = op.get_bind()
    for row in connection.execute(sa.select(hops.c.id, hops.c.hop)).fetchall():
        doc = row.hop
        values = {name: doc.get(name) for name in OLD_COLUMNS}
        connection.execute(hops.update().where(hops.c.id == row.id).values(**values))
    op.drop_column("plan_hop", "hop")


def _old_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("version", sa.String(length=64), nullable=False, server_default=""),
        sa.Column("package", sa.String(length=16), nullable=False, server_default=""),
        sa.Column("name", sa.String(length=300), nullable=False, server_default=""),
        sa.Column("rule", sa.String(), nullable=False, server_default=""),
        sa.Column("rule_url", sa.String(length=500), nullable=False, server_default=""),
        sa.Column("checks", sa.JSON(), nullable=False, server_default="[]"),
        sa.Column("requirements", sa.JSON(), nullable=False, server_default="[]"),
        sa.Column("restarts_agents", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("minutes", sa.Float(), nullable=True),
    ]
