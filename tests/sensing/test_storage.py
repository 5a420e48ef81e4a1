"""The observation store: idempotent batches, late data, latest values and roll-ups, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.sensing.ingest import IngestError, ObservationIn, ingest_observations
from cityops.sensing.ingest.rollups import rebuild_rollups
from cityops.sensing.models import (
    Datastream,
    Location,
    Observation,
    ObservationRollup,
    ObservedProperty,
    Sensor,
    Thing,
)

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def make_datastream(session: Session, *, with_location: bool = True) -> Datastream:
    thing = Thing(name="Trạm mặn Tân An", description="salinity station")
    session.add(thing)
    if with_location:
        loc = Location(
            name="Tân An",
            description="bank of the Vàm Cỏ Tây",
            location={"type": "Point", "coordinates": [106.41, 10.54]},
            lat=10.54,
            lon=106.41,
        )
        session.add(loc)
        session.flush()
        from cityops.sensing.models import thing_locations

        session.execute(thing_locations.insert().values(thing_id=thing.id, location_id=loc.id))
    sensor = Sensor(name="CTD", description="probe", encoding_type="text/html", sensor_metadata="x")
    prop = ObservedProperty(name="Salinity", definition="http://example.org/salinity", ucum="g/L")
    session.add_all([sensor, prop])
    session.flush()
    ds = Datastream(
        name="salinity",
        description="",
        unit_of_measurement={"name": "gram per litre", "symbol": "g/L", "definition": "ucum:g/L"},
        observation_type="http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
        thing_id=thing.id,
        sensor_id=sensor.id,
        observed_property_id=prop.id,
    )
    session.add(ds)
    session.flush()
    return ds


def test_batch_is_idempotent_and_accepts_late_rows(session: Session) -> None:
    ds = make_datastream(session)
    rows = [ObservationIn(ds.id, T0 + timedelta(minutes=i), float(i)) for i in range(5)]
    first = ingest_observations(session, rows)
    session.commit()
    assert first.inserted == 5
    assert first.duplicates == 0
    assert len(set(first.ids)) == 5

    # Re-sent batch plus one late row (before the first) and one duplicate inside the batch.
    late = ObservationIn(ds.id, T0 - timedelta(minutes=30), 9.0)
    again = ingest_observations(session, [*rows, late, late])
    session.commit()
    assert again.inserted == 1
    assert again.duplicates == 6
    assert again.ids[:5] == first.ids
    assert again.ids[5] == again.ids[6]
    assert session.scalar(select(Observation).where(Observation.datastream_id == ds.id).limit(1)) is not None
    count = len(session.scalars(select(Observation.id).where(Observation.datastream_id == ds.id)).all())
    assert count == 6

    session.expire_all()
    fresh = session.get(Datastream, ds.id)
    assert fresh is not None
    # The late row must not replace the latest value.
    assert fresh.last_value == 4.0
    assert fresh.last_phenomenon_time == T0 + timedelta(minutes=4)
    assert fresh.phenomenon_time_start == T0 - timedelta(minutes=30)
    assert fresh.phenomenon_time_end == T0 + timedelta(minutes=4)


def test_rollups_are_incremental(session: Session) -> None:
    ds = make_datastream(session)
    ingest_observations(session, [ObservationIn(ds.id, T0 + timedelta(seconds=10 * i), i) for i in range(3)])
    session.commit()
    ingest_observations(session, [ObservationIn(ds.id, T0 + timedelta(seconds=45), -1.0)])
    ingest_observations(session, [ObservationIn(ds.id, T0 + timedelta(seconds=5), 7)])  # out of order
    session.commit()
    hour = session.scalars(
        select(ObservationRollup).where(
            ObservationRollup.datastream_id == ds.id, ObservationRollup.interval == "hour"
        )
    ).one()
    assert hour.bucket_start == T0
    assert hour.count == 5
    assert hour.sum == pytest.approx(0 + 1 + 2 - 1 + 7)
    assert hour.min == -1.0
    assert hour.max == 7.0
    assert hour.last == -1.0
    assert hour.last_time == T0 + timedelta(seconds=45)
    kinds = set(
        session.scalars(select(ObservationRollup.interval).where(ObservationRollup.datastream_id == ds.id))
    )
    assert kinds == {"minute", "hour", "day"}

    rebuild_rollups(session, ds.id)
    session.commit()
    session.expire_all()
    again = session.scalars(
        select(ObservationRollup).where(
            ObservationRollup.datastream_id == ds.id, ObservationRollup.interval == "hour"
        )
    ).one()
    assert (again.count, again.min, again.max, again.last) == (5, -1.0, 7.0, -1.0)


def test_non_numeric_results_and_generated_feature(session: Session) -> None:
    ds = make_datastream(session)
    res = ingest_observations(
        session,
        [ObservationIn(ds.id, T0, {"state": "open"}), ObservationIn(ds.id, T0 + timedelta(seconds=1), True)],
    )
    session.commit()
    obs = [session.get(Observation, i) for i in res.ids]
    assert obs[0] is not None
    assert obs[1] is not None
    assert obs[0].result_number is None
    assert obs[0].result_json == {"state": "open"}
    assert obs[1].result_json is True
    assert obs[0].feature_of_interest_id is not None
    assert obs[0].feature_of_interest_id == obs[1].feature_of_interest_id
    assert session.scalars(select(ObservationRollup)).all() == []


def test_unknown_datastream_and_naive_time_are_refused(session: Session) -> None:
    ds = make_datastream(session, with_location=False)
    with pytest.raises(IngestError, match="unknown Datastream"):
        ingest_observations(session, [ObservationIn(ds.id + 999, T0, 1.0)])
    with pytest.raises(IngestError, match="time zone"):
        ingest_observations(session, [ObservationIn(ds.id, datetime(2026, 1, 1), 1.0)])
    session.rollback()
    assert session.scalars(select(Observation)).all() == []


def test_one_event_per_batch_and_values_round_trip(session: Session) -> None:
    from datetime import timezone

    from cityops.events.models import OutboxEvent

    ds = make_datastream(session)
    ict = timezone(timedelta(hours=7))
    rows = [
        ObservationIn(
            ds.id,
            datetime(2026, 3, 1, 7, i, tzinfo=ict),  # local time in, UTC stored
            float(i),
            parameters={"người đo": "An", "i": i},
            result_quality={"flag": "ok"},
            result_time=datetime(2026, 3, 1, 7, i, 30, tzinfo=ict),
            quality_flags=4,
        )
        for i in range(3)
    ]
    res = ingest_observations(session, rows)
    ingest_observations(session, rows)  # a re-sent batch creates no event
    session.commit()
    events = session.scalars(select(OutboxEvent).where(OutboxEvent.subject == "observations.created")).all()
    assert len(events) == 1
    assert events[0].payload["count"] == 3
    assert events[0].payload["v"] == 2
    assert events[0].payload["ids"] == res.ids
    assert events[0].payload["quality_flags"] == [4, 4, 4]
    obs = session.get(Observation, res.ids[2])
    assert obs is not None
    assert obs.phenomenon_time == datetime(2026, 3, 1, 0, 2, tzinfo=UTC)
    assert obs.result_time == datetime(2026, 3, 1, 0, 2, 30, tzinfo=UTC)
    assert obs.parameters == {"người đo": "An", "i": 2}
    assert obs.result_quality == {"flag": "ok"}
    assert obs.quality_flags == 4


def test_a_rolled_back_batch_leaves_nothing(session: Session) -> None:
    ds = make_datastream(session)
    session.commit()
    ingest_observations(
        session, [ObservationIn(ds.id, T0 + timedelta(minutes=i), float(i)) for i in range(50)]
    )
    session.rollback()
    assert session.scalars(select(Observation)).all() == []
    assert session.scalars(select(ObservationRollup)).all() == []
    again = ingest_observations(session, [ObservationIn(ds.id, T0, 1.0)])
    session.commit()
    assert again.inserted == 1  # the temporary staging table was emptied too


def test_unknown_feature_of_interest_is_refused(session: Session) -> None:
    ds = make_datastream(session)
    with pytest.raises(IngestError, match="unknown FeatureOfInterest"):
        ingest_observations(session, [ObservationIn(ds.id, T0, 1.0, feature_of_interest_id=424242)])


def test_observed_area_grows_with_features(session: Session) -> None:
    from cityops.sensing.models import FeatureOfInterest

    ds = make_datastream(session)
    far = FeatureOfInterest(
        name="b", description="", feature={"type": "Point", "coordinates": [106.6, 10.7]}, lat=10.7, lon=106.6
    )
    session.add(far)
    session.flush()
    ingest_observations(session, [ObservationIn(ds.id, T0, 1.0)])  # generated feature at 106.41, 10.54
    session.commit()
    session.refresh(ds)
    assert ds.observed_area == {"type": "Point", "coordinates": [106.41, 10.54]}
    ingest_observations(
        session, [ObservationIn(ds.id, T0 + timedelta(hours=1), 2.0, feature_of_interest_id=far.id)]
    )
    session.commit()
    session.refresh(ds)
    assert ds.observed_area == {
        "type": "Polygon",
        "coordinates": [[[106.41, 10.54], [106.6, 10.54], [106.6, 10.7], [106.41, 10.7], [106.41, 10.54]]],
    }
