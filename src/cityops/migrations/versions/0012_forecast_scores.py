"""Forecasting (#16): the stored rolling-origin backtest of each forecast Datastream.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08 03:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cityops.db

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "forecast_scores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("forecast_datastream_id", sa.Integer(), nullable=False),
        sa.Column("source_datastream_id", sa.Integer(), nullable=False),
        sa.Column("target_code", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=32), nullable=False),
        sa.Column("lead_hours", sa.Integer(), nullable=False),
        sa.Column("forecasts", sa.Integer(), nullable=False),
        sa.Column("origins", sa.Integer(), nullable=False),
        sa.Column("mae_model", sa.Float(), nullable=True),
        sa.Column("rmse_model", sa.Float(), nullable=True),
        sa.Column("mae_persistence", sa.Float(), nullable=True),
        sa.Column("rmse_persistence", sa.Float(), nullable=True),
        sa.Column("mae_seasonal", sa.Float(), nullable=True),
        sa.Column("rmse_seasonal", sa.Float(), nullable=True),
        sa.Column("skill_persistence", sa.Float(), nullable=True),
        sa.Column("skill_seasonal", sa.Float(), nullable=True),
        sa.Column("season_hours", sa.Float(), nullable=False),
        sa.Column("published", sa.String(length=32), nullable=False),
        sa.Column("synthetic", sa.Boolean(), nullable=False),
        sa.Column("window_start", cityops.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("window_end", cityops.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("computed_at", cityops.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["forecast_datastream_id"], ["sta_datastreams.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["source_datastream_id"], ["sta_datastreams.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("forecast_datastream_id"),
    )
    op.create_index(
        op.f("ix_forecast_scores_source_datastream_id"), "forecast_scores", ["source_datastream_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_forecast_scores_source_datastream_id"), table_name="forecast_scores")
    op.drop_table("forecast_scores")
