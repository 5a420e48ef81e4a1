"""Observations are range-partitioned by month on PostgreSQL; SQLite keeps a plain table."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from cityops.sensing.ingest import ObservationIn, ingest_observations
from cityops.sensing.partitioning import ensure_partitions, partition_ddl
from cityops.sensing.partitioning import partition_ddl as postgres_partition_ddl
from tests.sensing.test_storage import make_datastream


def test_partition_ddl_covers_months_around_now() -> None:
    stmts = partition_ddl(around=date(2026, 12, 15), months_back=1, months_ahead=2)
    assert (
        stmts[0]
        == "CREATE TABLE IF NOT EXISTS sta_observations_default PARTITION OF sta_observations DEFAULT"
    )
    assert [s.split()[5] for s in stmts[1:]] == [
        "sta_observations_y2026m11",
        "sta_observations_y2026m12",
        "sta_observations_y2027m01",
        "sta_observations_y2027m02",
    ]
    assert "FROM ('2027-01-01 00:00:00+00') TO ('2027-02-01 00:00:00+00')" in stmts[3]
    assert len(postgres_partition_ddl(months_back=0, months_ahead=0)) == 2


def test_observations_land_in_partitions(engine: Engine, session: Session) -> None:
    if engine.dialect.name != "postgresql":
        with engine.connect() as conn:
            assert ensure_partitions(conn) == 0
        pytest.skip("partitioning is a PostgreSQL feature")
    with engine.connect() as conn:
        kind = conn.execute(
            text("SELECT relkind FROM pg_class WHERE relname = 'sta_observations'")
        ).scalar_one()
        assert kind == "p"
    ds = make_datastream(session)
    now = datetime.now(UTC).replace(microsecond=0)
    old = datetime(2001, 1, 1, tzinfo=UTC)
    res = ingest_observations(session, [ObservationIn(ds.id, now, 1.0), ObservationIn(ds.id, old, 2.0)])
    again = ingest_observations(session, [ObservationIn(ds.id, now, 1.0), ObservationIn(ds.id, old, 2.0)])
    session.commit()
    assert res.inserted == 2
    assert again.inserted == 0  # dedup still holds on the partitioned table
    where = dict(
        session.execute(text("SELECT tableoid::regclass::text, result_number FROM sta_observations")).all()
    )
    assert where[f"sta_observations_y{now.year}m{now.month:02d}"] == 1.0
    assert where["sta_observations_default"] == 2.0
    with engine.connect() as conn:
        assert ensure_partitions(conn) == 6  # default + 5 months, idempotent (IF NOT EXISTS)
        conn.commit()
