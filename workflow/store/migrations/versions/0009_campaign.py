"""Durable campaigns: a campaign of DMSs upgraded in waves (its state, wave, approval and soak) and each of
its DMSs (wave, proposed window, the plan made for it, how it stands, the soak's baseline and findings).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaign",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("wave", sa.Integer(), nullable=False),
        sa.Column("waves", sa.Integer(), nullable=False),
        sa.Column("halted_from", sa.String(length=32), nullable=True),
        sa.Column("target_version", sa.String(length=64), nullable=False),
        sa.Column("requester", sa.String(length=100), nullable=False),
        sa.Column("channel", sa.String(length=100), nullable=False),
        sa.Column("soak_minutes", sa.Integer(), nullable=False),
        sa.Column("approved_by", sa.String(length=100), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("soak_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("halt_reason", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_campaign"),
    )
    op.create_index("ix_campaign_state", "campaign", ["state"])
    op.create_table(
        "campaign_dms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("wave", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("dms_name", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("current_version", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("skip_reason", sa.String(), nullable=False),
        sa.Column("note", sa.String(), nullable=False),
        sa.Column("baseline", sa.JSON(), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"],
                                name="fk_campaign_dms_campaign_id_campaign"),
        sa.ForeignKeyConstraint(["plan_id"], ["upgrade_plan.id"],
                                name="fk_campaign_dms_plan_id_upgrade_plan"),
        sa.PrimaryKeyConstraint("id", name="pk_campaign_dms"),
        sa.UniqueConstraint("campaign_id", "dms_name", name="uq_campaign_dms_campaign_dms"),
    )
    op.create_index("ix_campaign_dms_campaign_id", "campaign_dms", ["campaign_id"])
    op.create_index("ix_campaign_dms_dms_name", "campaign_dms", ["dms_name"])


def downgrade() -> None:
    op.drop_index("ix_campaign_dms_dms_name", table_name="campaign_dms")
    op.drop_index("ix_campaign_dms_campaign_id", table_name="campaign_dms")
    op.drop_table("campaign_dms")
    op.drop_index("ix_campaign_state", table_name="campaign")
    op.drop_table("campaign")
