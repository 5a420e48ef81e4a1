"""PostgreSQL: sta_observations' foreign keys become delete triggers on the referenced tables (#6)

A foreign-key check costs a lookup and a lock per ingested row, about half of PostgreSQL's ingest cost;
ingest and the STA writer take the same ``FOR KEY SHARE`` lock on the referenced rows themselves (once per
batch), and statement-level ``AFTER DELETE`` triggers do what ``ON DELETE CASCADE`` did. SQLite keeps the
keys (nothing to do there). See :mod:`cityops.sensing.partitioning`.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 09:30:00
"""

from collections.abc import Sequence

from alembic import op

from cityops.sensing import partitioning

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# as migration 0001 named them (op.f: already final, SQLAlchemy shortens the long one the same way)
_KEYS = {
    "datastream_id": "fk_sta_observations_datastream_id_sta_datastreams",
    "multi_datastream_id": "fk_sta_observations_multi_datastream_id_sta_multi_datastreams",
    "feature_of_interest_id": "fk_sta_observations_feature_of_interest_id_sta_features_of_interest",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # The keys as the database names them (the long one was shortened when 0001 created it); dropping the
    # partitioned table's key drops its partitions' copies too.
    names = (
        op.get_bind()
        .exec_driver_sql(
            "SELECT conname FROM pg_constraint WHERE contype = 'f' AND conrelid = 'sta_observations'::regclass "
            "AND confrelid IN ('sta_datastreams'::regclass, 'sta_multi_datastreams'::regclass, "
            "'sta_features_of_interest'::regclass)"
        )
        .scalars()
        .all()
    )
    for name in names:
        op.drop_constraint(name, "sta_observations", type_="foreignkey")
    for stmt in partitioning.fk_trigger_ddl():
        op.execute(stmt)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for stmt in partitioning.drop_fk_trigger_ddl():
        op.execute(stmt)
    for parent, column in partitioning.REFERENCES:
        op.create_foreign_key(
            op.f(_KEYS[column]), "sta_observations", parent, [column], ["id"], ondelete="CASCADE"
        )
