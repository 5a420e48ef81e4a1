"""Agriculture (#17): salinity bulletins per commune and crop, kept as history.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08 03:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import cityops.db

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agri_bulletins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.Column("crop", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("issued_at", cityops.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("station_code", sa.String(length=64), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("observed_g_l", sa.Float(), nullable=True),
        sa.Column("forecast_g_l", sa.Float(), nullable=True),
        sa.Column("season", sa.String(length=32), nullable=True),
        sa.Column(
            "intake_window",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("text_vi", sa.Text(), nullable=False),
        sa.Column("text_en", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["area_id"], ["areas.id"], name=op.f("fk_agri_bulletins_area_id_areas"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agri_bulletins")),
    )
    op.create_index(
        "ix_agri_bulletins_area_crop_issued", "agri_bulletins", ["area_id", "crop", "issued_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_agri_bulletins_area_crop_issued", table_name="agri_bulletins")
    op.drop_table("agri_bulletins")
