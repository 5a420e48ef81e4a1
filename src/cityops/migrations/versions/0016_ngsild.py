"""NGSI-LD (#15): generic entities, subscriptions and their persisted notifications

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-08 04:17:05.816177
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import cityops.db

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "ngsild_entities",
        sa.Column("id", sa.String(length=512), nullable=False),
        sa.Column("type", sa.String(length=255), nullable=False),
        sa.Column(
            "attrs",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "context",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("created_at", cityops.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("modified_at", cityops.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ngsild_entities")),
    )
    with op.batch_alter_table("ngsild_entities", schema=None) as batch_op:
        batch_op.create_index("ix_ngsild_entities_type", ["type"], unique=False)

    op.create_table(
        "ngsild_subscriptions",
        sa.Column("id", sa.String(length=512), nullable=False),
        sa.Column(
            "body", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column("created_at", cityops.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("modified_at", cityops.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ngsild_subscriptions")),
    )
    op.create_table(
        "ngsild_notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.String(length=512), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_at", cityops.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", cityops.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", cityops.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["ngsild_subscriptions.id"],
            name=op.f("fk_ngsild_notifications_subscription_id_ngsild_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ngsild_notifications")),
    )
    with op.batch_alter_table("ngsild_notifications", schema=None) as batch_op:
        batch_op.create_index("ix_ngsild_notifications_state_next_at", ["state", "next_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_ngsild_notifications_subscription_id"), ["subscription_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("ngsild_notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ngsild_notifications_subscription_id"))
        batch_op.drop_index("ix_ngsild_notifications_state_next_at")

    op.drop_table("ngsild_notifications")
    op.drop_table("ngsild_subscriptions")
    with op.batch_alter_table("ngsild_entities", schema=None) as batch_op:
        batch_op.drop_index("ix_ngsild_entities_type")

    op.drop_table("ngsild_entities")
