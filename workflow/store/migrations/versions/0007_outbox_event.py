"""The outbox of domain events: each event is written in the transaction of the change it tells of and
drawn into Slack calls when the sender takes it (``workflow.store.event_outbox``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_outbox_event"),
    )
    op.create_index("ix_outbox_event_plan_id", "outbox_event", ["plan_id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_event_plan_id", table_name="outbox_event")
    op.drop_table("outbox_event")
