"""Dossiers (#19): the one-stop-shop system's administrative dossiers, their steps, and citizen lookups

- ``dossiers``: one row per dossier code (idempotent upserts), national status code, received/due/returned
  times, the agency, and the second factor only as keyed salted hashes of the last 4 digits;
- ``dossier_steps``: the processing steps with their agency;
- ``dossier_lookups``: every citizen lookup (outcome, keyed hashes of the client and the typed code), for
  the rate limits and the log; nothing personal.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cityops.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dossiers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("procedure_code", sa.String(length=64), nullable=True),
        sa.Column("procedure_name", sa.String(length=500), nullable=False),
        sa.Column("agency_code", sa.String(length=64), nullable=False),
        sa.Column("agency_name", sa.String(length=255), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("area_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=4), nullable=False),
        sa.Column("received_at", cityops.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", cityops.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("returned_at", cityops.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("factor_salt", sa.String(length=32), nullable=False),
        sa.Column("phone_hash", sa.String(length=64), nullable=True),
        sa.Column("id_hash", sa.String(length=64), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("demo", sa.Boolean(), nullable=False),
        sa.Column("created_at", cityops.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", cityops.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_dossiers_agency_id_agencies"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["area_id"], ["areas.id"], name=op.f("fk_dossiers_area_id_areas"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dossiers")),
        sa.UniqueConstraint("code", name=op.f("uq_dossiers_code")),
    )
    op.create_index("ix_dossiers_agency_status", "dossiers", ["agency_code", "status"], unique=False)
    op.create_index(op.f("ix_dossiers_agency_code"), "dossiers", ["agency_code"], unique=False)
    op.create_index(op.f("ix_dossiers_due_at"), "dossiers", ["due_at"], unique=False)
    op.create_table(
        "dossier_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("agency_name", sa.String(length=255), nullable=False),
        sa.Column("started_at", cityops.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", cityops.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["dossier_id"],
            ["dossiers.id"],
            name=op.f("fk_dossier_steps_dossier_id_dossiers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dossier_steps")),
    )
    op.create_index(op.f("ix_dossier_steps_dossier_id"), "dossier_steps", ["dossier_id"], unique=False)
    op.create_table(
        "dossier_lookups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", cityops.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("client_key", sa.String(length=32), nullable=False),
        sa.Column("code_key", sa.String(length=32), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["dossier_id"],
            ["dossiers.id"],
            name=op.f("fk_dossier_lookups_dossier_id_dossiers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dossier_lookups")),
    )
    op.create_index(op.f("ix_dossier_lookups_at"), "dossier_lookups", ["at"], unique=False)
    op.create_index(op.f("ix_dossier_lookups_client_key"), "dossier_lookups", ["client_key"], unique=False)
    op.create_index(op.f("ix_dossier_lookups_code_key"), "dossier_lookups", ["code_key"], unique=False)


def downgrade() -> None:
    op.drop_table("dossier_lookups")
    op.drop_table("dossier_steps")
    op.drop_index("ix_dossiers_agency_status", table_name="dossiers")
    op.drop_index(op.f("ix_dossiers_agency_code"), table_name="dossiers")
    op.drop_index(op.f("ix_dossiers_due_at"), table_name="dossiers")
    op.drop_table("dossiers")
