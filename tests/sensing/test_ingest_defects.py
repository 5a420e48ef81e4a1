"""The three ingest defects found on the running demo (#22), on both backends: flagged values feeding the
latest value, KPIs and alerts; observations from the future; a late outlier not checked against the
neighbour after it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.sensing.ingest import IngestError, ObservationIn, ingest_observations
from cityops.sensing.ingest.batch import Batch
from cityops.sensing.ingest.rollups import upsert_rollups
from cityops.sensing.models import Datastream, Observation, ObservationRollup
from cityops.sensing.observation_events import CreatedObservations, created_payload, read_created
from cityops.sensing.quality import QualityFlag
from tests.sensing.test_ingest_quality import STEP, T0, flags, ingest, salinity_stream


def test_range_flagged_value_does_not_become_the_latest_value(session: Session) -> None:
    ds = salinity_stream(session)
    ingest(session, ds, [3.0, 3.1])
    ingest(session, ds, [999.0], start=T0 + 2 * STEP)
    assert flags(session, ds)[-1] & QualityFlag.RANGE
    row = session.get(Datastream, ds)
    assert row is not None
    session.refresh(row)
    assert row.last_value == 3.1
    assert row.last_phenomenon_time == T0 + STEP


def test_range_flagged_value_stays_out_of_the_rollups(session: Session) -> None:
    ds = salinity_stream(session)
    ingest(session, ds, [3.0, 999.0, 3.2])
    hour = session.scalars(
        select(ObservationRollup).where(
            ObservationRollup.datastream_id == ds, ObservationRollup.interval == "hour"
        )
    ).one()
    assert (hour.count, hour.max) == (2, 3.2)


def test_flagged_rows_are_left_out_of_the_event_unless_asked() -> None:
    payload = created_payload(
        CreatedObservations(
            [1, 2], [7, 7], ["2026-03-01T10:00:00Z", "2026-03-01T10:05:00Z"], [3.0, 999], [0, 1]
        )
    )
    assert list(read_created(payload).ids) == [1]
    assert list(read_created(payload, flagged=True).ids) == [1, 2]


def test_observations_beyond_the_future_tolerance_are_refused(session: Session) -> None:
    ds = salinity_stream(session)
    session.commit()
    ahead = datetime.now(UTC) + timedelta(minutes=40)
    with pytest.raises(IngestError) as exc:
        ingest_observations(session, [ObservationIn(ds, ahead, 3.0)])
    assert exc.value.status == 400
    session.rollback()
    assert session.scalars(select(Observation.id).where(Observation.datastream_id == ds)).all() == []
    # within the tolerance (a logger's clock a minute fast) is accepted
    ingest_observations(session, [ObservationIn(ds, datetime.now(UTC) + timedelta(minutes=1), 3.0)])
    session.commit()
    assert len(flags(session, ds)) == 1


def test_a_forecast_datastream_holds_future_times(session: Session) -> None:
    ds = salinity_stream(session)
    plain = salinity_stream(session)
    stream = session.get(Datastream, ds)
    assert stream is not None
    stream.properties = {**(stream.properties or {}), "forecast": {"of": plain, "horizon_hours": 48}}
    session.commit()
    target = datetime.now(UTC) + timedelta(hours=24)
    ingest_observations(session, [ObservationIn(ds, target, 3.2)])
    session.commit()
    assert len(flags(session, ds)) == 1
    # one batch with a future row on a plain Datastream is refused whole
    with pytest.raises(IngestError):
        ingest_observations(
            session, [ObservationIn(ds, target + timedelta(hours=1), 3.3), ObservationIn(plain, target, 3.3)]
        )
    session.rollback()
    assert len(flags(session, ds)) == 1


def test_future_observation_over_http_is_a_400_and_stores_nothing(
    client: TestClient, session: Session, key: dict[str, str]
) -> None:
    ds = salinity_stream(session)
    session.commit()
    ahead = (datetime.now(UTC) + timedelta(minutes=40)).isoformat().replace("+00:00", "Z")
    r = client.post(
        "/sta/v1.1/CreateObservations",
        json=[
            {
                "Datastream": {"@iot.id": ds},
                "components": ["phenomenonTime", "result"],
                "dataArray": [[ahead, 3.0]],
            }
        ],
        headers=key,
    )
    assert r.status_code == 400, r.text
    assert "future" in r.text
    assert session.scalars(select(Observation.id).where(Observation.datastream_id == ds)).all() == []


def test_late_outlier_is_checked_against_both_neighbours(session: Session) -> None:
    ds = salinity_stream(session)
    # 10:00 … 10:20 near 3 g/L, except 10:10, which arrives late as 9.5 g/L
    ingest(session, ds, [3.0, 3.1], start=T0)
    ingest(session, ds, [3.0, 3.1], start=T0 + 3 * STEP)
    ingest(session, ds, [9.5], start=T0 + 2 * STEP)
    assert flags(session, ds)[2] & QualityFlag.SPIKE
    assert not any(f & QualityFlag.SPIKE for i, f in enumerate(flags(session, ds)) if i != 2)


def test_rollups_skip_unfit_rows_of_a_mixed_batch(session: Session) -> None:
    ds = salinity_stream(session)
    ingest(session, ds, [3.0])
    texts = ["2026-03-02 10:00:00.000000", "2026-03-02 10:05:00.000000"]
    batch = Batch(
        ds=[ds, ds], text=texts, number=[4.0, 500.0], other=None, foi=[None, None], flags=[0, 1], optional={}
    )
    upsert_rollups(session, batch, {ds: [0, 1]})
    day = session.scalars(
        select(ObservationRollup).where(
            ObservationRollup.datastream_id == ds,
            ObservationRollup.interval == "day",
            ObservationRollup.bucket_start == datetime(2026, 3, 2, tzinfo=UTC),
        )
    ).one()
    assert (day.count, day.max) == (1, 4.0)


@pytest.mark.parametrize(
    "when",
    [
        datetime(1970, 1, 1, 0, 3, tzinfo=UTC),
        datetime(1980, 1, 6, 12, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
    ],
    ids=["unix-epoch", "gps-epoch", "year-1"],
)
def test_a_clock_that_was_never_set_is_refused(session: Session, when: datetime) -> None:
    """#21: the plausible window has a past side too; a forecast Datastream is no exception to it."""
    ds = salinity_stream(session)
    forecast = salinity_stream(session, forecast={"of": ds, "horizon_hours": 48})
    session.commit()
    for stream in (ds, forecast):
        with pytest.raises(IngestError) as exc:
            ingest_observations(session, [ObservationIn(stream, T0, 3.0), ObservationIn(stream, when, 3.0)])
        assert exc.value.status == 400
        assert "never set" in str(exc.value)
        session.rollback()
    assert (
        session.scalars(select(Observation.id).where(Observation.datastream_id.in_([ds, forecast]))).all()
        == []
    )
    # the day after the GPS epoch is a plausible (archived) reading
    ingest_observations(session, [ObservationIn(ds, datetime(1980, 1, 7, tzinfo=UTC), 3.0)])
    session.commit()
    assert len(flags(session, ds)) == 1


def test_an_unset_clock_over_http_is_a_400_and_stores_nothing(
    client: TestClient, session: Session, key: dict[str, str]
) -> None:
    ds = salinity_stream(session)
    session.commit()
    r = client.post(
        "/sta/v1.1/Observations",
        json={"Datastream": {"@iot.id": ds}, "phenomenonTime": "1970-01-01T00:00:05Z", "result": 3.0},
        headers=key,
    )
    assert r.status_code == 400, r.text
    assert "never set" in r.text
    assert session.scalars(select(Observation.id).where(Observation.datastream_id == ds)).all() == []
