"""The PostgreSQL COPY path of ingest (large batches) stores exactly what the one-statement upsert stores:
ids, duplicates, every column's value (JSON with characters COPY escapes), and falls back to the upsert
when another writer stored one of the rows after the duplicate read. Both backends (on SQLite the path
switch changes nothing, the expectations still hold)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cityops.sensing.ingest import ObservationIn, ingest_observations
from cityops.sensing.ingest import postgres as postgres_ingest
from cityops.sensing.models import FeatureOfInterest, Observation
from tests.sensing.test_storage import make_datastream

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
ODD = 'back\\slash \\N tab\there\nnew "quoted" Vàm Cỏ \u2028 \x01 end\\'


@pytest.fixture(params=["copy", "upsert"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Which PostgreSQL path large batches take: COPY from one row on, or never."""
    monkeypatch.setattr(postgres_ingest, "PG_COPY_MIN_ROWS", 1 if request.param == "copy" else 10**9)
    return str(request.param)


def _rows(ds1: int, ds2: int, foi: int) -> list[ObservationIn]:
    rows = [ObservationIn(ds1, T0 + timedelta(seconds=i), float(i)) for i in range(40)]
    rows += [
        ObservationIn(ds1, T0 + timedelta(seconds=100), ODD),
        ObservationIn(ds1, T0 + timedelta(seconds=101), {"nested": [ODD, 1, None, True]}),
        ObservationIn(ds1, T0 + timedelta(seconds=102), True),
        ObservationIn(ds1, T0 + timedelta(seconds=103), None),
        ObservationIn(
            ds2,
            T0 + timedelta(seconds=5),
            7,
            phenomenon_time_end=T0 + timedelta(seconds=65),
            result_time=T0 + timedelta(seconds=66),
            result_quality={"note": ODD},
            valid_time_start=T0,
            valid_time_end=T0 + timedelta(days=1),
            parameters={"path": "C:\\data\\x", "list": [ODD]},
            feature_of_interest_id=foi,
        ),
        ObservationIn(ds2, T0 + timedelta(seconds=6, microseconds=250), 1.25),
        ObservationIn(ds1, T0 + timedelta(seconds=3), 99.0),  # repeats row 3 in the batch: row 3 wins
    ]
    return rows


def test_copy_and_upsert_store_the_same(session: Session, path: str) -> None:
    ds1 = make_datastream(session)
    ds2 = make_datastream(session)
    foi = FeatureOfInterest(
        name="f", feature={"type": "Point", "coordinates": [106.0, 10.0]}, lat=10.0, lon=106.0
    )
    session.add(foi)
    session.flush()
    rows = _rows(ds1.id, ds2.id, foi.id)
    first = ingest_observations(session, rows)
    session.commit()
    assert first.inserted == len(rows) - 1
    assert first.duplicate_indexes == [len(rows) - 1]
    assert first.ids[-1] == first.ids[3]
    assert len(set(first.ids)) == len(rows) - 1
    stored = {o.id: o for o in session.scalars(select(Observation))}
    assert len(stored) == len(rows) - 1
    for row, obs_id in zip(rows[:-1], first.ids, strict=False):
        obs = stored[obs_id]
        assert (obs.datastream_id, obs.phenomenon_time) == (row.datastream_id, row.phenomenon_time)
    by_time = {(o.datastream_id, o.phenomenon_time): o for o in stored.values()}
    assert by_time[ds1.id, T0 + timedelta(seconds=3)].result_number == 3.0
    assert by_time[ds1.id, T0 + timedelta(seconds=100)].result_json == ODD
    assert by_time[ds1.id, T0 + timedelta(seconds=101)].result_json == {"nested": [ODD, 1, None, True]}
    assert by_time[ds1.id, T0 + timedelta(seconds=102)].result_json is True
    null = by_time[ds1.id, T0 + timedelta(seconds=103)]
    assert (null.result_number, null.result_json) == (None, None)
    full = by_time[ds2.id, T0 + timedelta(seconds=5)]
    assert full.result_number == 7.0
    assert full.phenomenon_time_end == T0 + timedelta(seconds=65)
    assert full.result_time == T0 + timedelta(seconds=66)
    assert full.result_quality == {"note": ODD}
    assert (full.valid_time_start, full.valid_time_end) == (T0, T0 + timedelta(days=1))
    assert full.parameters == {"path": "C:\\data\\x", "list": [ODD]}
    assert full.feature_of_interest_id == foi.id
    other = by_time[ds2.id, T0 + timedelta(seconds=6, microseconds=250)]
    assert other.result_number == 1.25
    assert other.feature_of_interest_id is not None
    assert other.feature_of_interest_id != foi.id

    # Re-sent with new rows in between: the stored rows answer with their ids.
    again_rows = [*rows[:10], ObservationIn(ds1.id, T0 + timedelta(seconds=200), 5.0), *rows[40:45]]
    again = ingest_observations(session, again_rows)
    session.commit()
    assert again.inserted == 1
    assert again.ids[:10] == first.ids[:10]
    assert again.ids[11:] == first.ids[40:45]
    assert again.duplicate_indexes == [*range(10), *range(11, 16)]
    assert session.scalar(select(func.count()).select_from(Observation)) == len(rows)


def test_copy_falls_back_to_upsert_when_another_writer_stored_a_row(
    sessions: sessionmaker[Session], backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    if backend.name != "postgresql":
        pytest.skip("the COPY path is PostgreSQL's")
    monkeypatch.setattr(postgres_ingest, "PG_COPY_MIN_ROWS", 1)
    with sessions() as s:
        ds_id = make_datastream(s).id
        s.commit()
    rows = [ObservationIn(ds_id, T0 + timedelta(seconds=i), float(i)) for i in range(50)]
    racer: dict[str, int] = {}
    real_copy_text = postgres_ingest._copy_text
    upserts: list[int] = []
    real_upsert = postgres_ingest._upsert_postgres

    def copy_text(kind: str, column: list[Any]) -> list[str]:
        # Between the duplicate read and the COPY: another transaction stores row 7 and commits.
        if not racer:
            racer["id"] = 0  # the racer's own ingest comes through here too
            with sessions() as other:
                racer["id"] = ingest_observations(other, [rows[7]]).ids[0]
                other.commit()
        return real_copy_text(kind, column)

    def upsert(raw: Any, batch: Any, sequence: str) -> Any:
        upserts.append(len(batch.ds))
        return real_upsert(raw, batch, sequence)

    monkeypatch.setattr(postgres_ingest, "_copy_text", copy_text)
    monkeypatch.setattr(postgres_ingest, "_upsert_postgres", upsert)
    with sessions() as s:
        result = ingest_observations(s, rows)
        s.commit()
    assert racer
    assert upserts == [50]
    assert result.inserted == 49
    assert result.duplicate_indexes == [7]
    assert result.ids[7] == racer["id"]
    with sessions() as s:
        stored = dict(s.execute(select(Observation.phenomenon_time, Observation.id)).tuples().all())
        assert len(stored) == 50
        assert [stored[r.phenomenon_time] for r in rows] == result.ids


def test_sparse_batch_over_dense_history_takes_the_upsert(
    session: Session, backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postgres_ingest, "PG_COPY_MIN_ROWS", 1)
    upserts: list[int] = []
    real_upsert = postgres_ingest._upsert_postgres

    def upsert(raw: Any, batch: Any, sequence: str) -> Any:
        upserts.append(len(batch.ds))
        return real_upsert(raw, batch, sequence)

    monkeypatch.setattr(postgres_ingest, "_upsert_postgres", upsert)
    ds = make_datastream(session)
    dense = ingest_observations(
        session, [ObservationIn(ds.id, T0 + timedelta(seconds=i), 1.0) for i in range(400)]
    )
    session.commit()
    # 20 rows spread over the 400 stored seconds (every 20th second is stored already), 20 new ones after.
    sparse = [ObservationIn(ds.id, T0 + timedelta(seconds=20 * i), 2.0) for i in range(20)]
    sparse += [ObservationIn(ds.id, T0 + timedelta(seconds=1000 + i), 3.0) for i in range(20)]
    result = ingest_observations(session, sparse)
    session.commit()
    assert result.inserted == 20
    assert result.ids[:20] == [dense.ids[20 * i] for i in range(20)]
    assert result.duplicate_indexes == list(range(20))
    if backend.name == "postgresql":
        assert upserts == [40]  # 400 stored rows in the batch's range: more than the COPY path reads


def test_ingest_locks_the_referenced_rows_without_foreign_key_triggers(
    sessions: sessionmaker[Session], backend: Any
) -> None:
    """On PostgreSQL ``sta_observations`` has no foreign keys (migration 0004): ingest's own key-share lock
    on the batch's Datastream and features, held until it commits, is what keeps a concurrent delete from
    leaving orphans (checked with every trigger off, so nothing else could be doing it)."""
    if backend.name != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite has one writer")
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    with sessions() as s:
        ds_id = make_datastream(s).id
        # The first batch generates the Datastream's FeatureOfInterest (committed: the deleter can see it).
        ingest_observations(s, [ObservationIn(ds_id, T0 - timedelta(days=1), 0.0)])
        s.commit()
        foi_id = s.scalar(select(Observation.feature_of_interest_id))
    assert foi_id is not None
    with sessions() as writer, sessions() as deleter:
        writer.execute(text("SET LOCAL session_replication_role = replica"))  # no FK trigger takes a lock
        ingest_observations(
            writer, [ObservationIn(ds_id, T0 + timedelta(seconds=i), float(i)) for i in range(50)]
        )
        for table, key in (("sta_datastreams", ds_id), ("sta_features_of_interest", foi_id)):
            with pytest.raises(OperationalError, match="could not obtain lock"), deleter.begin_nested():
                deleter.execute(text(f"SELECT id FROM {table} WHERE id = :id FOR UPDATE NOWAIT"), {"id": key})
        writer.commit()
        deleter.rollback()
        for table, key in (("sta_datastreams", ds_id), ("sta_features_of_interest", foi_id)):
            locked = deleter.execute(
                text(f"SELECT id FROM {table} WHERE id = :id FOR UPDATE NOWAIT"), {"id": key}
            )
            assert locked.scalar() == key
        deleter.rollback()
