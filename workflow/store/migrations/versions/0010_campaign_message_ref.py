"""Where a campaign's Slack messages live (its card, whose thread carries the campaign's news), beside the
plans' own references: a table of its own, so both keep a real foreign key.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaign_message_ref",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=100), nullable=False),
        sa.Column("ts", sa.String(length=40), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"],
                                name="fk_campaign_message_ref_campaign_id_campaign"),
        sa.PrimaryKeyConstraint("id", name="pk_campaign_message_ref"),
        sa.UniqueConstraint("campaign_id", "role", name="uq_campaign_message_ref_campaign_role"),
    )
    op.create_index("ix_campaign_message_ref_campaign_id", "campaign_message_ref", ["campaign_id"])


def downgrade() -> None:
    op.drop_index("ix_campaign_message_ref_campaign_id", table_name="campaign_message_ref")
    op.drop_table("campaign_message_ref")
