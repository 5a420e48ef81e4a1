"""Indicator values per agency (#12): ``indicator_values.agency_id`` (NULL: all agencies)

The agency scorecards read indicator cells kept per agency beside the all-agencies cell. The cell key
becomes (indicator, area, period, agency): a unique index over ``coalesce(agency_id, 0)``, since a NULL
never equals another NULL in a unique constraint (SQLite, and PostgreSQL without NULLS NOT DISTINCT).
``indicators.by_agency`` says which definitions keep the breakdown. Existing rows are all-agencies cells; ``cityops indicators recompute`` fills the per-agency ones.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 03:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("indicators") as batch:
        batch.add_column(sa.Column("by_agency", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("indicators") as batch:
        batch.alter_column("by_agency", server_default=None)
    with op.batch_alter_table("indicator_values") as batch:
        batch.add_column(sa.Column("agency_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_indicator_values_agency_id_agencies"),
            "agencies",
            ["agency_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch.drop_constraint("uq_indicator_values_indicator_code_area_id_period_start", type_="unique")
    op.create_index(
        "ix_indicator_values_agency",
        "indicator_values",
        ["agency_id", "indicator_code", "period_start"],
        unique=False,
    )
    op.create_index(
        "uq_indicator_values_cell",
        "indicator_values",
        ["indicator_code", "area_id", "period_start", sa.text("coalesce(agency_id, 0)")],
        unique=True,
    )


def downgrade() -> None:
    op.execute("DELETE FROM indicator_values WHERE agency_id IS NOT NULL")
    op.drop_index("uq_indicator_values_cell", table_name="indicator_values")
    op.drop_index("ix_indicator_values_agency", table_name="indicator_values")
    with op.batch_alter_table("indicator_values") as batch:
        batch.create_unique_constraint(
            "uq_indicator_values_indicator_code_area_id_period_start",
            ["indicator_code", "area_id", "period_start"],
        )
        batch.drop_constraint("fk_indicator_values_agency_id_agencies", type_="foreignkey")
        batch.drop_column("agency_id")
    with op.batch_alter_table("indicators") as batch:
        batch.drop_column("by_agency")
