"""Web Push devices (#14): a device key per browser subscription, area alert subscriptions by Web Push

- ``push_subscriptions.key_hash``: SHA-256 of the device key an anonymous browser manages its
  subscriptions with (unique; the endpoint itself is never used as an identifier in requests).
- ``alert_subscriptions.push_subscription_id``: an area subscription delivered to one browser by Web Push;
  deleting the browser's subscription deletes its area subscriptions.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08 03:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("push_subscriptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key_hash", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_push_subscriptions_key_hash"), ["key_hash"])
    with op.batch_alter_table("alert_subscriptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("push_subscription_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_alert_subscriptions_push_subscription_id"), ["push_subscription_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_alert_subscriptions_push_subscription_id_push_subscriptions"),
            "push_subscriptions",
            ["push_subscription_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("alert_subscriptions", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_alert_subscriptions_push_subscription_id_push_subscriptions"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_alert_subscriptions_push_subscription_id"))
        batch_op.drop_column("push_subscription_id")
    with op.batch_alter_table("push_subscriptions", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_push_subscriptions_key_hash"), type_="unique")
        batch_op.drop_column("key_hash")
