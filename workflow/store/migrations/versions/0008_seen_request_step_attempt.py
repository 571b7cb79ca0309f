"""Two records of what must happen once: the signed Slack requests already let in (shared by replicas, kept
across restarts for Slack's 5-minute window) and each execution step's DMS call, written before and after
the call (its idempotency key and outcome).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "seen_request",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest", name="pk_seen_request"),
    )
    op.create_index("ix_seen_request_expires_at", "seen_request", ["expires_at"])
    op.create_table(
        "step_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("hop_index", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("outcome", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["plan_id"], ["upgrade_plan.id"],
                                name="fk_step_attempt_plan_id_upgrade_plan"),
        sa.PrimaryKeyConstraint("id", name="pk_step_attempt"),
        sa.UniqueConstraint("key", name="uq_step_attempt_key"),
        sa.UniqueConstraint("plan_id", "hop_index", "step", name="uq_step_attempt_plan_hop_step"),
    )
    op.create_index("ix_step_attempt_plan_id", "step_attempt", ["plan_id"])


def downgrade() -> None:
    op.drop_index("ix_step_attempt_plan_id", table_name="step_attempt")
    op.drop_table("step_attempt")
    op.drop_index("ix_seen_request_expires_at", table_name="seen_request")
    op.drop_table("seen_request")
