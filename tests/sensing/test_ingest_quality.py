"""Quality flags set at ingest (range, spike, stuck, gap) and shown in STA as ``resultQuality``; both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cityops.sensing.ingest import ObservationIn, ingest_observations
from cityops.sensing.models import Datastream, Observation, ObservedProperty, Sensor, Thing
from cityops.sensing.quality import QualityFlag

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
STEP = timedelta(minutes=5)


def salinity_stream(session: Session, **ds_properties: Any) -> int:
    """A salinity datastream (valid 0–45 g/L, spike threshold 5, stuck run 24) reporting every 5 minutes."""
    thing = Thing(name="Trạm mặn Bến Lức", description="", properties={"expected_interval_s": 300})
    sensor = Sensor(name="CTD", description="", encoding_type="text/html", sensor_metadata="x")
    prop = ObservedProperty(name="Salinity", definition="x", ucum="g/L", properties={"code": "salinity"})
    session.add_all([thing, sensor, prop])
    session.flush()
    ds = Datastream(
        name="salinity",
        description="",
        unit_of_measurement={"name": "gram per litre", "symbol": "g/L", "definition": "ucum:g/L"},
        observation_type="OM_Measurement",
        thing_id=thing.id,
        sensor_id=sensor.id,
        observed_property_id=prop.id,
        properties=ds_properties or None,
    )
    session.add(ds)
    session.flush()
    return ds.id


def ingest(session: Session, ds_id: int, values: list[float], start: datetime = T0) -> None:
    rows = [ObservationIn(ds_id, start + i * STEP, v) for i, v in enumerate(values)]
    ingest_observations(session, rows)
    session.commit()


def flags(session: Session, ds_id: int) -> list[int]:
    return list(
        session.scalars(
            select(Observation.quality_flags)
            .where(Observation.datastream_id == ds_id)
            .order_by(Observation.phenomenon_time)
        )
    )


def test_clean_data_gets_no_flags(session: Session) -> None:
    ds = salinity_stream(session)
    ingest(session, ds, [1.2, 1.3, 1.5, 1.4, 1.6, 1.8])
    ingest(session, ds, [1.9, 2.0], start=T0 + 6 * STEP)
    assert flags(session, ds) == [0] * 8


def test_out_of_range_value_gets_range(session: Session) -> None:
    ds = salinity_stream(session)
    ingest(session, ds, [1.2, 60.0, -1.0, 1.3])
    assert flags(session, ds)[1] & QualityFlag.RANGE
    assert flags(session, ds)[2] & QualityFlag.RANGE
    assert not flags(session, ds)[0] & QualityFlag.RANGE
    assert not flags(session, ds)[3] & QualityFlag.RANGE


def test_spike_in_one_batch_and_across_single_rows(session: Session) -> None:
    ds = salinity_stream(session)
    ingest(session, ds, [1.0, 1.1, 9.0, 1.2])
    assert flags(session, ds) == [0, 0, QualityFlag.SPIKE, 0]
    # One row per batch (MQTT, HTTP): the spike is seen when the point after it arrives, and the
    # stored point is re-flagged then.
    other = salinity_stream(session)
    for i, v in enumerate([1.0, 1.1, 9.0]):
        ingest(session, other, [v], start=T0 + i * STEP)
    assert flags(session, other) == [0, 0, 0]  # no following neighbour yet
    ingest(session, other, [1.2], start=T0 + 3 * STEP)
    assert flags(session, other) == [0, 0, QualityFlag.SPIKE, 0]


def test_a_step_is_not_a_spike(session: Session) -> None:
    ds = salinity_stream(session)
    ingest(session, ds, [1.0, 1.1, 9.0, 9.1, 9.0])
    assert flags(session, ds) == [0] * 5


def test_identical_values_are_stuck(session: Session) -> None:
    ds = salinity_stream(session, quality={"stuck_run": 4})
    ingest(session, ds, [2.5, 2.5, 2.5])
    assert flags(session, ds) == [0, 0, 0]  # a run of 3 is not yet stuck
    ingest(session, ds, [2.5], start=T0 + 3 * STEP)  # the 4th identical value, alone in its batch
    assert flags(session, ds) == [QualityFlag.STUCK] * 4
    ingest(session, ds, [2.6], start=T0 + 4 * STEP)
    assert flags(session, ds)[-1] == 0


def test_default_stuck_run_reads_enough_history(session: Session) -> None:
    ds = salinity_stream(session)  # salinity: 24 identical values
    for i in range(23):
        ingest(session, ds, [3.0], start=T0 + i * STEP)
    assert set(flags(session, ds)) == {0}
    ingest(session, ds, [3.0], start=T0 + 23 * STEP)
    assert set(flags(session, ds)) == {QualityFlag.STUCK}


def test_gap_after_missing_reports(session: Session) -> None:
    ds = salinity_stream(session)  # the Thing reports every 300 s; a gap is > 3 intervals
    ingest(session, ds, [1.0, 1.1])
    ingest(session, ds, [1.2], start=T0 + STEP + timedelta(minutes=16))
    ingest(session, ds, [1.3], start=T0 + STEP + timedelta(minutes=21))
    assert flags(session, ds) == [0, 0, QualityFlag.GAP, 0]


def test_datastream_interval_overrides_the_things(session: Session) -> None:
    ds = salinity_stream(session, expected_interval_s=3600)
    ingest(session, ds, [1.0])
    ingest(session, ds, [1.1], start=T0 + timedelta(minutes=30))
    assert flags(session, ds) == [0, 0]


def test_non_numeric_results_are_not_checked(session: Session) -> None:
    ds = salinity_stream(session)
    ingest_observations(session, [ObservationIn(ds, T0, "n/a"), ObservationIn(ds, T0 + STEP, 99.0)])
    session.commit()
    assert flags(session, ds) == [0, QualityFlag.RANGE]


def test_sta_shows_flags_as_result_quality(client: TestClient, sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        ds = salinity_stream(s)
        ingest_observations(
            s,
            [
                ObservationIn(ds, T0, 1.0),
                ObservationIn(ds, T0 + STEP, 99.0),
                ObservationIn(ds, T0 + 2 * STEP, 1.0, result_quality={"grade": "A"}),
            ],
        )
        s.commit()
    body = client.get(f"/sta/v1.1/Datastreams({ds})/Observations?$orderby=phenomenonTime").json()
    values = body["value"]
    assert "resultQuality" not in values[0]  # clean: nothing to say
    assert values[1]["resultQuality"] == {"flags": ["RANGE", "SPIKE"], "code": 3}
    assert values[2]["resultQuality"] == {"grade": "A"}  # what the client sent is kept
