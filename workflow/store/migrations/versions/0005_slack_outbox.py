"""The Slack outbox: what the bot still has to say, written with the change it tells of.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slack_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=100), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=True),
        sa.Column("in_thread", sa.Boolean(), nullable=False),
        sa.Column("edit_only", sa.Boolean(), nullable=False),
        sa.Column("broadcast", sa.Boolean(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("merged", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=False),
        sa.Column("claimed_by", sa.String(length=120), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_slack_outbox"),
    )
    op.create_index("ix_slack_outbox_channel", "slack_outbox", ["channel"])
    op.create_index("ix_slack_outbox_plan_id", "slack_outbox", ["plan_id"])


def downgrade() -> None:
    op.drop_index("ix_slack_outbox_plan_id", table_name="slack_outbox")
    op.drop_index("ix_slack_outbox_channel", table_name="slack_outbox")
    op.drop_table("slack_outbox")
