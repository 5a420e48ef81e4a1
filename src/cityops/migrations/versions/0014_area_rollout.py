"""Area rollout (#14): which areas are live, at which stage, with per-area settings

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08 03:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cityops.db

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "area_rollout",
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.Column("live", sa.Boolean(), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("settings", cityops.db.JSONType, nullable=False),
        sa.Column("changed_at", cityops.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["area_id"], ["areas.id"], name=op.f("fk_area_rollout_area_id_areas"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("area_id", name=op.f("pk_area_rollout")),
    )


def downgrade() -> None:
    op.drop_table("area_rollout")
