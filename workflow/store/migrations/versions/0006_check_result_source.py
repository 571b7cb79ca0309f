"""How each check result was established: checked by the bot, confirmed by a person, reported by DataMiner,
or not checked. Rows written before it read as the usual source for their status (``dms.models``).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("check_result") as batch:
        batch.add_column(sa.Column("source", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("check_result") as batch:
        batch.drop_column("source")
