"""Agriculture (#17): crop salinity tolerances edited by administrators (override data/crops.json).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08 04:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cityops.db

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agri_crop_tolerances",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("caution_g_l", sa.Float(), nullable=False),
        sa.Column("harm_g_l", sa.Float(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("updated_at", cityops.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_agri_crop_tolerances")),
    )


def downgrade() -> None:
    op.drop_table("agri_crop_tolerances")
