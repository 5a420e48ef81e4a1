"""Observation indicators on crafted hourly roll-ups: salinity exceedance days, days with good air (VN_AQI),
station availability; a station counts for the ward it stands in and for the province."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cityops.areas.models import Area
from cityops.events.bus import Event
from cityops.indicators.engine import handle, recompute
from cityops.indicators.models import IndicatorValue
from cityops.indicators.registry import Registry
from cityops.sensing.models import (
    Datastream,
    Location,
    ObservationRollup,
    ObservedProperty,
    Sensor,
    Thing,
    thing_locations,
)
from tests.fixtures_areas import LoadedAreas

MARCH = date(2026, 3, 1)


def _datastream(session: Session, area_id: int, code: str) -> Datastream:
    area = session.get(Area, area_id)
    assert area is not None
    assert area.lat is not None
    assert area.lon is not None
    op = ObservedProperty(name=code, definition=f"urn:test:{code}", properties={"code": code})
    sensor = Sensor(name="s", encoding_type="text/plain", sensor_metadata="")
    thing = Thing(name=f"{code} {area.name}")
    loc = Location(
        name=area.name,
        location={"type": "Point", "coordinates": [area.lon, area.lat]},
        lat=area.lat,
        lon=area.lon,
    )
    session.add_all([op, sensor, thing, loc])
    session.flush()
    session.execute(thing_locations.insert().values(thing_id=thing.id, location_id=loc.id))
    ds = Datastream(
        name=thing.name, unit_of_measurement={"symbol": "x"}, observation_type="OM_Measurement",
        thing_id=thing.id, sensor_id=sensor.id, observed_property_id=op.id,
    )  # fmt: skip
    session.add(ds)
    session.flush()
    return ds


def _hours(session: Session, ds: Datastream, start: datetime, values: list[float]) -> None:
    for i, v in enumerate(values):
        at = start + timedelta(hours=i)
        session.add(
            ObservationRollup(
                datastream_id=ds.id, interval="hour", bucket_start=at, count=2, sum=2 * v, min=v, max=v, last=v,
                last_time=at,
            )
        )  # fmt: skip


def _local(day: int, hour: int = 0) -> datetime:
    """``hour`` o'clock on ``day`` March 2026, local time (UTC+7), as UTC."""
    return datetime(2026, 3, day, hour, tzinfo=UTC) - timedelta(hours=7)


@pytest.fixture
def stations(session: Session, loaded_areas: LoadedAreas) -> LoadedAreas:
    a = loaded_areas
    salt = _datastream(session, a.long_an_ward_id, "salinity")
    _hours(session, salt, _local(1, 8), [0.5])
    _hours(session, salt, _local(2, 23), [1.2])  # 23:00 local on 2 March: still the 2nd
    _hours(session, salt, _local(3, 8), [4.5])
    other = _datastream(session, a.tan_an_ward_id, "salinity")
    _hours(session, other, _local(1, 8), [2.0])
    air = _datastream(session, a.long_an_ward_id, "pm25")
    _hours(session, air, _local(1), [20.0] * 24)  # VN_AQI 40: good
    _hours(session, air, _local(2), [40.0] * 18)  # 18 hours of 40 µg/m³: VN_AQI 80, fair
    _hours(session, air, _local(3), [10.0] * 10)  # 10 hours: too few for a daily value
    session.commit()
    return a


def _cells(session: Session) -> dict[tuple[str, int], IndicatorValue]:
    rows = session.scalars(select(IndicatorValue).where(IndicatorValue.period_start == MARCH))
    return {(r.indicator_code, r.area_id): r for r in rows}


def test_day_counts_and_availability(session: Session, registry: Registry, stations: LoadedAreas) -> None:
    codes = [
        "environment.salinity_days_1", "environment.salinity_days_4", "environment.good_air_days",
        "environment.fair_air_days", "observations.availability",
    ]  # fmt: skip
    recompute(session, MARCH, MARCH, codes, registry)
    session.commit()
    c = _cells(session)
    la, ta, pr = stations.long_an_ward_id, stations.tan_an_ward_id, stations.province_id
    assert c[("environment.salinity_days_1", la)].value == 2  # 2 and 3 March
    assert c[("environment.salinity_days_1", la)].inputs == 3  # days with data
    assert c[("environment.salinity_days_4", la)].value == 1
    assert c[("environment.salinity_days_1", ta)].value == 1
    assert c[("environment.salinity_days_4", ta)].value == 0
    assert c[("environment.salinity_days_1", pr)].value == 3  # the worst station each day
    assert c[("environment.salinity_days_4", pr)].value == 1
    assert c[("environment.good_air_days", la)].value == 1
    assert c[("environment.fair_air_days", la)].value == 2
    assert c[("environment.good_air_days", la)].inputs == 2  # the 10-hour day is no day
    assert ("environment.good_air_days", ta) not in c  # no air station: no value, no cell
    # availability: hours with data over the month's 744 hours, over the ward's two datastreams
    assert c[("observations.availability", la)].value == pytest.approx(100 * (3 + 52) / (2 * 744), abs=0.001)
    assert c[("observations.availability", pr)].value == pytest.approx(
        100 * (3 + 1 + 52) / (3 * 744), abs=0.001
    )


def test_an_observation_batch_recomputes_its_station_cells(
    session: Session, sessions: sessionmaker[Session], registry: Registry, stations: LoadedAreas
) -> None:
    recompute(session, MARCH, MARCH, ["environment.salinity_days_4"], registry)
    session.commit()
    ds_id = session.scalar(
        select(Datastream.id).join(ObservedProperty).where(Datastream.name.like("salinity Phường Tân An"))
    )
    assert ds_id is not None
    ds = session.get(Datastream, ds_id)
    assert ds is not None
    _hours(session, ds, _local(5, 10), [5.0])  # what ingest's roll-up upsert does
    session.commit()
    event = Event(
        "observations.created",
        {"v": 2, "count": 1, "datastreams": [ds_id], "phenomenon_times": [_local(5, 10).isoformat()],
         "ids": [1], "results": [5.0], "quality_flags": [0], "datastream_ids": [ds_id], "chunk": 1, "chunks": 1},
    )  # fmt: skip
    handle(sessions, event)
    session.expire_all()
    c = _cells(session)
    assert c[("environment.salinity_days_4", stations.tan_an_ward_id)].value == 1
    assert c[("environment.salinity_days_4", stations.province_id)].value == 2
    assert c[("environment.salinity_days_4", stations.long_an_ward_id)].value == 1  # untouched
