"""Every agent's status changes during an execution, for the timeline's agent lanes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_status_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("agent_name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["plan_id"], ["upgrade_plan.id"],
                                name="fk_agent_status_change_plan_id_upgrade_plan"),
        sa.PrimaryKeyConstraint("id", name="pk_agent_status_change"),
    )
    op.create_index("ix_agent_status_change_plan_id", "agent_status_change", ["plan_id"])


def downgrade() -> None:
    op.drop_index("ix_agent_status_change_plan_id", table_name="agent_status_change")
    op.drop_table("agent_status_change")
