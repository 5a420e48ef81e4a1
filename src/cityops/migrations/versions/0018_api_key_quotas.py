"""API key quotas (#15): requests per minute and per day an admin sets on a key

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08 04:32:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("quota_per_minute", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("quota_per_day", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("quota_per_day")
        batch_op.drop_column("quota_per_minute")
