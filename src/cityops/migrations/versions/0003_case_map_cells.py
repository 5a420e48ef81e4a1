"""Clustered public map: per-cell case counts kept by triggers; case indexes for the map's bbox rim and points (#6)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 09:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from cityops.reports import map_cells

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_map_cells",
        sa.Column("z", sa.Integer(), nullable=False),
        sa.Column("cy", sa.Integer(), nullable=False),
        sa.Column("cx", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("lat_sum", sa.Float(), nullable=False),
        sa.Column("lon_sum", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("z", "cy", "cx", "state", name=op.f("pk_case_map_cells")),
    )
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table("cases", schema=None) as batch_op:
        # the clustered map's left/right rim strips are lon ranges
        batch_op.create_index(
            "ix_cases_hidden_lon_lat_state", ["hidden", "lon", "lat", "state"], unique=False
        )
        if dialect == "postgresql":
            # the points' ids come from the viewport index alone (SQLite's indexes carry the rowid already,
            # so there the index stays as it is)
            batch_op.drop_index("ix_cases_hidden_lat_lon_state")
            batch_op.create_index(
                "ix_cases_hidden_lat_lon_state",
                ["hidden", "lat", "lon", "state"],
                unique=False,
                postgresql_include=["id"],
            )
    # fill from the cases already there, then the triggers keep it (same transaction: no write is missed)
    for stmt in map_cells.backfill_sql(dialect) + map_cells.ddl(dialect):
        op.execute(stmt)


def downgrade() -> None:
    for stmt in map_cells.drop_ddl(op.get_bind().dialect.name):
        op.execute(stmt)
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        for kind in ("insert", "update", "delete"):
            op.execute(f"DROP FUNCTION IF EXISTS case_map_cells_{kind}()")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        if postgres:
            batch_op.drop_index("ix_cases_hidden_lat_lon_state")
            batch_op.create_index(
                "ix_cases_hidden_lat_lon_state", ["hidden", "lat", "lon", "state"], unique=False
            )
        batch_op.drop_index("ix_cases_hidden_lon_lat_state")
    op.drop_table("case_map_cells")
