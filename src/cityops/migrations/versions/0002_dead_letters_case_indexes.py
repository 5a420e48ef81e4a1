"""MQTT dead letters; case indexes for the IOC summary and the public map (#4, #6)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 05:49:41.328992
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cityops.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mqtt_dead_letters",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("parked_at", cityops.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("client_id", sa.String(length=200), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mqtt_dead_letters")),
    )
    with op.batch_alter_table("mqtt_dead_letters", schema=None) as batch_op:
        batch_op.create_index("ix_mqtt_dead_letters_parked_at", ["parked_at"], unique=False)

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cases_hidden_lat_lon_state", ["hidden", "lat", "lon", "state"], unique=False
        )
        batch_op.create_index(
            "ix_cases_hidden_resolved", ["hidden", "resolved_at", "resolve_due_at", "area_id"], unique=False
        )
        batch_op.create_index(
            "ix_cases_hidden_state", ["hidden", "state", "overdue", "area_id"], unique=False
        )
        batch_op.create_index(
            "ix_cases_hidden_submitted", ["hidden", "submitted_at", "area_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_hidden_submitted")
        batch_op.drop_index("ix_cases_hidden_state")
        batch_op.drop_index("ix_cases_hidden_resolved")
        batch_op.drop_index("ix_cases_hidden_lat_lon_state")

    with op.batch_alter_table("mqtt_dead_letters", schema=None) as batch_op:
        batch_op.drop_index("ix_mqtt_dead_letters_parked_at")

    op.drop_table("mqtt_dead_letters")
