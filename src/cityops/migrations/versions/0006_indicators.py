"""Indicators: sets, definitions, values per (indicator, area, period) with provenance, targets, populations (#12)

The definitions are synced from the plugins at start-up (and by ``cityops db upgrade``); values are computed
by the event consumers and ``cityops indicators recompute``. ``area_populations`` holds residents per area
and year (the areas table had none), the denominator of per-capita indicators.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08 01:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cityops.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = cityops.db.JSONType


def upgrade() -> None:
    op.create_table(
        "indicator_sets",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name_vi", sa.String(length=300), nullable=False),
        sa.Column("name_en", sa.String(length=300), nullable=False),
        sa.Column("publisher", sa.String(length=200), nullable=False),
        sa.Column("document", sa.String(length=300), nullable=False),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("plugin", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_indicator_sets")),
    )
    op.create_table(
        "indicators",
        sa.Column("code", sa.String(length=96), nullable=False),
        sa.Column("name_vi", sa.String(length=300), nullable=False),
        sa.Column("name_en", sa.String(length=300), nullable=False),
        sa.Column("unit", sa.String(length=64), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("sector", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=96), nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("levels", JSON, nullable=False),
        sa.Column("aggregation", sa.String(length=16), nullable=False),
        sa.Column("description_vi", sa.Text(), nullable=False),
        sa.Column("description_en", sa.Text(), nullable=False),
        sa.Column("source_document", sa.String(length=300), nullable=False),
        sa.Column("decimals", sa.Integer(), nullable=False),
        sa.Column("plugin", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_indicators")),
    )
    op.create_table(
        "area_populations",
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("population", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("demo", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["area_id"], ["areas.id"], name=op.f("fk_area_populations_area_id_areas"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("area_id", "year", name=op.f("pk_area_populations")),
    )
    op.create_table(
        "indicator_set_members",
        sa.Column("set_code", sa.String(length=64), nullable=False),
        sa.Column("indicator_code", sa.String(length=96), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["indicator_code"],
            ["indicators.code"],
            name=op.f("fk_indicator_set_members_indicator_code_indicators"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["set_code"],
            ["indicator_sets.code"],
            name=op.f("fk_indicator_set_members_set_code_indicator_sets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("set_code", "indicator_code", name=op.f("pk_indicator_set_members")),
    )
    op.create_table(
        "indicator_targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("indicator_code", sa.String(length=96), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("set_by", sa.Integer(), nullable=True),
        sa.Column("set_at", cityops.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("demo", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["area_id"], ["areas.id"], name=op.f("fk_indicator_targets_area_id_areas"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["indicator_code"],
            ["indicators.code"],
            name=op.f("fk_indicator_targets_indicator_code_indicators"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["set_by"], ["users.id"], name=op.f("fk_indicator_targets_set_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator_targets")),
        sa.UniqueConstraint(
            "indicator_code", "area_id", "year", name=op.f("uq_indicator_targets_indicator_code_area_id_year")
        ),
    )
    op.create_table(
        "indicator_values",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("indicator_code", sa.String(length=96), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("numerator", sa.Float(), nullable=True),
        sa.Column("denominator", sa.Float(), nullable=True),
        sa.Column("inputs", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=8), nullable=False),
        sa.Column("method", sa.String(length=96), nullable=False),
        sa.Column("computed_at", cityops.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("entered_by", sa.Integer(), nullable=True),
        sa.Column("source_document", sa.String(length=300), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("stale", sa.Boolean(), nullable=False),
        sa.Column("demo", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["area_id"], ["areas.id"], name=op.f("fk_indicator_values_area_id_areas"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["entered_by"],
            ["users.id"],
            name=op.f("fk_indicator_values_entered_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["indicator_code"],
            ["indicators.code"],
            name=op.f("fk_indicator_values_indicator_code_indicators"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator_values")),
        sa.UniqueConstraint(
            "indicator_code",
            "area_id",
            "period_start",
            name=op.f("uq_indicator_values_indicator_code_area_id_period_start"),
        ),
    )
    op.create_index(
        "ix_indicator_values_area",
        "indicator_values",
        ["area_id", "indicator_code", "period_start"],
        unique=False,
    )
    op.create_index("ix_indicator_values_stale", "indicator_values", ["stale"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_indicator_values_stale", table_name="indicator_values")
    op.drop_index("ix_indicator_values_area", table_name="indicator_values")
    for table in (
        "indicator_values",
        "indicator_targets",
        "indicator_set_members",
        "area_populations",
        "indicators",
        "indicator_sets",
    ):
        op.drop_table(table)
