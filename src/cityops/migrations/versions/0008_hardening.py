"""Hardening (#21): who uploaded each media item, the public search key of cases, verified case subscriptions

- ``media_uploads``: the uploader of each media item (a principal, or the hash of an anonymous uploader's
  token) with the position read from that upload; requests may use only media they uploaded.
- ``cases.public_key``: the search key of the masked description, which ``?q=`` on public lists searches
  (``description_key`` is the text as written, for staff). Filled here from the existing rows.
- ``case_subscriptions``: a typed SMS/e-mail address follows a case only once verified by a code
  (``verified_at``, the code's hash, expiry and wrong entries, a keyed hash of the requesting client).
  Account subscriptions are marked verified; existing address subscriptions were never verified and
  stay unverified (they receive nothing until their owner subscribes again).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cityops.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000


def upgrade() -> None:
    op.create_table(
        "media_uploads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("media_id", sa.Integer(), nullable=False),
        sa.Column("uploader", sa.String(length=80), nullable=False),
        sa.Column("exif_lat", sa.Float(), nullable=True),
        sa.Column("exif_lon", sa.Float(), nullable=True),
        sa.Column("created_at", cityops.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"],
            ["media_items.id"],
            name=op.f("fk_media_uploads_media_id_media_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_uploads")),
    )
    with op.batch_alter_table("media_uploads", schema=None) as batch_op:
        batch_op.create_index("ix_media_uploads_media_uploader", ["media_id", "uploader"], unique=False)

    # plain ALTER TABLE (no batch): a batch copy of ``cases`` on SQLite would drop its map-cell triggers
    op.add_column("cases", sa.Column("public_key", sa.Text(), nullable=False, server_default=""))
    _fill_public_keys()

    with op.batch_alter_table("case_subscriptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("verified_at", cityops.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("code_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("code_expires_at", cityops.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("code_attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("requested_from", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_case_subscriptions_address", ["address", "created_at"], unique=False)
        batch_op.create_index(
            "ix_case_subscriptions_requested_from", ["requested_from", "created_at"], unique=False
        )
    with op.batch_alter_table("case_subscriptions", schema=None) as batch_op:
        batch_op.alter_column("code_attempts", server_default=None)
    op.execute("UPDATE case_subscriptions SET verified_at = created_at WHERE user_id IS NOT NULL")


def _fill_public_keys() -> None:
    """The masked description's search key for every existing case, in batches by id."""
    from cityops.privacy.masking import mask_contacts
    from cityops.text import search_key

    conn = op.get_bind()
    cases = sa.table(
        "cases",
        sa.column("id", sa.Integer),
        sa.column("description", sa.Text),
        sa.column("public_key", sa.Text),
    )
    last = 0
    while True:
        rows = conn.execute(
            sa.select(cases.c.id, cases.c.description)
            .where(cases.c.id > last)
            .order_by(cases.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        for case_id, description in rows:
            conn.execute(
                cases.update()
                .where(cases.c.id == case_id)
                .values(public_key=search_key(mask_contacts(description or "") or ""))
            )
        last = rows[-1][0]


def downgrade() -> None:
    with op.batch_alter_table("case_subscriptions", schema=None) as batch_op:
        batch_op.drop_index("ix_case_subscriptions_requested_from")
        batch_op.drop_index("ix_case_subscriptions_address")
        batch_op.drop_column("requested_from")
        batch_op.drop_column("code_attempts")
        batch_op.drop_column("code_expires_at")
        batch_op.drop_column("code_hash")
        batch_op.drop_column("verified_at")
    op.drop_column("cases", "public_key")  # ALTER TABLE DROP COLUMN (SQLite 3.35+), keeping the triggers
    with op.batch_alter_table("media_uploads", schema=None) as batch_op:
        batch_op.drop_index("ix_media_uploads_media_uploader")
    op.drop_table("media_uploads")
