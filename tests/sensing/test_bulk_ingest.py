"""Large batches through the column path (dataArray, ``ingest_observations``): ids, duplicates, roll-ups,
events and the time shapes the column conversion accepts; both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cityops.events.models import OutboxEvent
from cityops.sensing.data_array import canonical_utc_times
from cityops.sensing.ingest import ObservationIn, ingest_observations
from cityops.sensing.ingest.batch import iso_z, time_text
from cityops.sensing.models import Datastream, Observation, ObservationRollup
from tests.sensing.test_storage import make_datastream

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
STA = "/sta/v1.1"


def test_canonical_utc_times_accepts_one_utc_shape_per_column() -> None:
    assert canonical_utc_times(["2026-03-01T10:00:00Z", "2026-03-01T10:00:01Z"]) == [
        "2026-03-01 10:00:00.000000",
        "2026-03-01 10:00:01.000000",
    ]
    assert canonical_utc_times(["2026-03-01T10:00:00.250Z"]) == ["2026-03-01 10:00:00.250000"]
    assert canonical_utc_times(["2026-03-01T10:00:00.000123Z"]) == ["2026-03-01 10:00:00.000123"]
    # Anything else is converted row by row by the caller.
    for column in (
        ["2026-03-01T10:00:00Z", "2026-03-01T10:00:00.5Z"],  # two shapes
        ["2026-03-01T17:00:00+07:00"],  # an offset
        ["2026-02-30T10:00:00Z"],  # not a day
        ["2026-W09-7T10:00:00Z"],  # a week date
        ["2026-03-01T10:00:00Z", None],
        ["2026-03-01T10:00:00Z/2026-03-01T11:00:00Z"],
        [],
    ):
        assert canonical_utc_times(column) is None, column


def test_iso_z_matches_time_text() -> None:
    times = [T0, T0 + timedelta(microseconds=250_000)]
    assert iso_z([time_text(t) for t in times]) == ["2026-03-01T10:00:00Z", "2026-03-01T10:00:00.250000Z"]


def test_large_batch_ids_duplicates_rollups_and_one_event(session: Session) -> None:
    ds = make_datastream(session)
    rows = [ObservationIn(ds.id, T0 + timedelta(seconds=i), float(i % 7)) for i in range(300)]
    first = ingest_observations(session, rows)
    session.commit()
    assert first.inserted == 300
    stored = {i: t for i, t in session.execute(select(Observation.id, Observation.phenomenon_time))}
    assert [stored[i] for i in first.ids] == [r.phenomenon_time for r in rows]  # each id is its row's

    # Overlap: 200 stored rows, 100 new ones (one of them sent twice), out of order.
    again_rows = [
        *reversed(rows[100:]),
        *[ObservationIn(ds.id, T0 + timedelta(seconds=300 + i), 1.5) for i in range(100)],
    ]
    again_rows.append(again_rows[-1])
    again = ingest_observations(session, again_rows)
    session.commit()
    assert again.inserted == 100
    assert again.duplicates == 201
    assert again.ids[:200] == list(reversed(first.ids[100:]))
    assert again.ids[-1] == again.ids[-2]
    assert again.duplicate_indexes == [*range(200), 300]
    assert session.scalar(select(func.count()).select_from(Observation)) == 400

    # Roll-ups equal the aggregates of the stored rows.
    for interval, width in (("minute", 60), ("hour", 3600)):
        rollups = session.scalars(
            select(ObservationRollup).where(
                ObservationRollup.datastream_id == ds.id, ObservationRollup.interval == interval
            )
        ).all()
        assert sum(r.count for r in rollups) == 400
        for r in rollups:
            points = sorted(
                (t, v)
                for t, v in session.execute(
                    select(Observation.phenomenon_time, Observation.result_number).where(
                        Observation.phenomenon_time >= r.bucket_start,
                        Observation.phenomenon_time < r.bucket_start + timedelta(seconds=width),
                    )
                )
            )
            values = [float(v or 0) for _, v in points]
            assert (r.count, r.min, r.max, r.last, r.last_time) == (
                len(values),
                min(values),
                max(values),
                values[-1],
                points[-1][0],
            )
            assert r.sum == pytest.approx(sum(values))
    fresh = session.get(Datastream, ds.id)
    assert fresh is not None
    session.refresh(fresh)
    assert fresh.last_phenomenon_time == T0 + timedelta(seconds=399)
    assert fresh.phenomenon_time_start == T0
    events = session.scalars(select(OutboxEvent).where(OutboxEvent.subject == "observations.created")).all()
    assert [e.payload["count"] for e in events] == [300, 100]  # one event per batch
    assert events[1].payload["ids"] == again.ids[200:300]
    assert events[1].payload["datastreams"] == [ds.id] * 100
    assert events[1].payload["phenomenon_times"][0] == "2026-03-01T10:05:00Z"


def test_create_observations_large_data_array(
    client: TestClient, sessions: sessionmaker[Session], key: dict[str, str]
) -> None:
    with sessions() as s:
        ds_id = make_datastream(s).id
        s.commit()
    fast = [[(T0 + timedelta(seconds=i)).isoformat().replace("+00:00", "Z"), i / 10] for i in range(500)]
    slow: list[Any] = [
        [
            "2026-03-01T17:00:00+07:00",
            0.0,
        ],  # the first group's first row again (same instant, same value): its link
        ["2026-03-02T00:00:00Z/2026-03-02T01:00:00Z", 2.5],  # an interval (a number: OM_Measurement)
        ["not a time", 1],
        [1],
    ]
    body = [
        {"Datastream": {"@iot.id": ds_id}, "components": ["phenomenonTime", "result"], "dataArray": fast},
        {"Datastream": {"@iot.id": ds_id}, "components": ["phenomenonTime", "result"], "dataArray": slow},
    ]
    r = client.post(f"{STA}/CreateObservations", json=body, headers=key)
    assert r.status_code == 201, r.text
    links = r.json()
    assert len(links) == 504
    assert links[500] == links[0]
    assert links[502:] == ["error", "error"]
    ids = [int(link.rsplit("(", 1)[1].rstrip(")")) for link in links[:502]]
    with sessions() as s:
        rows = {o.id: o for o in s.scalars(select(Observation).where(Observation.id.in_(ids)))}
        assert rows[ids[499]].phenomenon_time == T0 + timedelta(seconds=499)
        assert rows[ids[499]].result_number == pytest.approx(49.9)
        assert rows[ids[501]].result_number == pytest.approx(2.5)
        assert rows[ids[501]].phenomenon_time_end == datetime(2026, 3, 2, 1, tzinfo=UTC)
        assert s.scalar(select(func.count()).select_from(Observation)) == 501
    again = client.post(f"{STA}/CreateObservations", json=body[:1], headers=key)
    assert again.json() == links[:500]  # a re-sent batch answers with the stored rows' links


@pytest.mark.parametrize("end", ["commit", "rollback", "close"])
def test_sqlite_writer_lock_is_released_when_the_transaction_ends(
    sessions: sessionmaker[Session], backend: Any, end: str
) -> None:
    from cityops.db import writer_lock

    if backend.name != "sqlite":
        pytest.skip("only SQLite ingest queues on a writer lock")
    with sessions() as s:
        ds_id = make_datastream(s).id
        ingest_observations(s, [ObservationIn(ds_id, T0 - timedelta(days=1), 0.0)])  # generates the feature
        s.commit()
    session = sessions()
    try:
        ingest_observations(session, [ObservationIn(ds_id, T0, 1.0)])  # no write before: takes the lock
        lock = writer_lock(session.get_bind().engine)
        assert lock.locked()
        getattr(session, end)()
        assert not lock.locked()
    finally:
        session.close()
    # The next batch, in another session, is not kept waiting.
    with sessions() as other:
        ingest_observations(other, [ObservationIn(ds_id, T0 + timedelta(minutes=1), 2.0)])
        assert lock.locked()
        other.commit()
    assert not lock.locked()
