"""Hourly VN_AQI per air-quality station, stored as an ``aqi`` datastream (so rules, the IOC and open data
read it like any other series).

When observations of an AQI input (PM2.5, PM10, O3, CO, SO2, NO2) arrive in hour H+1, hour H is complete:
its AQI is computed from the stations' hourly roll-ups (PM2.5/PM10 Nowcast over the 12 hours ending at H,
gases from the hour's 1-hour mean, :mod:`cityops.sectors.environment.aqi`) and stored as one observation at the
start of hour H (``phenomenonTime`` H/H+1h) with the sub-indices, dominant pollutant and band in its
``parameters``. An hour already computed is not recomputed (the observation store keeps the first value);
late data for an old hour therefore does not change its published AQI.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.sectors.environment.aqi import AqiResult, hourly_aqi
from cityops.sectors.environment.properties import BY_CODE
from cityops.sensing.ingest import ObservationIn, ingest_observations
from cityops.sensing.models import Datastream, Observation, ObservationRollup, ObservedProperty, Sensor, Thing
from cityops.sensing.observation_events import CreatedObservations, read_created
from cityops.sensing.stations import OM_MEASUREMENT, observed_property

HOUR = timedelta(hours=1)
INPUTS = ("pm25", "pm10", "o3", "co", "so2", "no2")


def _hour(t: datetime) -> datetime:
    return t.replace(minute=0, second=0, microsecond=0)


def _codes(session: Session, thing_id: int) -> dict[str, Datastream]:
    """Datastreams of a Thing by observed-property code."""
    out: dict[str, Datastream] = {}
    for ds in session.scalars(select(Datastream).where(Datastream.thing_id == thing_id)).all():
        op = session.get(ObservedProperty, ds.observed_property_id)
        code = (op.properties or {}).get("code") if op else None
        if code:
            out[str(code)] = ds
    return out


def hourly_means(
    session: Session, datastream_id: int, first: datetime, last: datetime
) -> dict[datetime, float]:
    """Hourly means from the roll-ups, for hours starting in [first, last]."""
    rows = session.scalars(
        select(ObservationRollup).where(
            ObservationRollup.datastream_id == datastream_id,
            ObservationRollup.interval == "hour",
            ObservationRollup.bucket_start >= first,
            ObservationRollup.bucket_start <= last,
        )
    ).all()
    return {r.bucket_start: r.sum / r.count for r in rows if r.count}


def station_hourly_aqi(session: Session, thing_id: int, hour: datetime) -> AqiResult:
    """VN_AQI of the hour starting at ``hour`` for one station."""
    streams = _codes(session, thing_id)

    def pm_hours(code: str) -> list[float | None]:
        ds = streams.get(code)
        if ds is None:
            return []
        means = hourly_means(session, ds.id, hour - 11 * HOUR, hour)
        return [means.get(hour - i * HOUR) for i in range(12)]

    def gas(code: str) -> float | None:
        ds = streams.get(code)
        return hourly_means(session, ds.id, hour, hour).get(hour) if ds is not None else None

    return hourly_aqi(
        pm25_hours=pm_hours("pm25"),
        pm10_hours=pm_hours("pm10"),
        o3=gas("o3"),
        co=gas("co"),
        so2=gas("so2"),
        no2=gas("no2"),
    )


def aqi_datastream(session: Session, thing_id: int) -> Datastream:
    """The station's ``aqi`` datastream (created on first use)."""
    existing = _codes(session, thing_id).get("aqi")
    if existing is not None:
        return existing
    thing = session.get(Thing, thing_id)
    if thing is None:
        raise ValueError(f"Thing {thing_id} does not exist")
    op, _ = observed_property(session, "aqi", {})
    sensor = Sensor(
        name="VN_AQI (1459/QĐ-TCMT)",
        description="Computed hourly from the station's measurements",
        encoding_type="text/html",
        sensor_metadata="https://cem.gov.vn",
    )
    session.add(sensor)
    session.flush()
    spec = BY_CODE["aqi"]
    ds = Datastream(
        name=f"{thing.name} – VN_AQI giờ",
        description="Hourly VN_AQI",
        unit_of_measurement=spec.unit_of_measurement,
        observation_type=OM_MEASUREMENT,
        properties={"expected_interval_s": 3600, "property_code": "aqi", "computed": True},
        thing_id=thing_id,
        sensor_id=sensor.id,
        observed_property_id=op.id,
    )
    session.add(ds)
    session.flush()
    return ds


def publish_hourly_aqi(session: Session, thing_id: int, hour: datetime) -> int | None:
    """Compute and store the AQI of ``hour``; returns it (None when not computable or already stored)."""
    return publish_aqi_hours(session, thing_id, [hour]).get(hour)


def publish_aqi_hours(
    session: Session, thing_id: int, hours: Iterable[datetime], *, emit_event: bool = True
) -> dict[datetime, int]:
    """Compute and store, in one batch, the AQI of each hour not stored yet; returns the new ones by hour.

    ``emit_event=False`` stores them without an ``observations.created`` event (a backfill of history).
    """
    ds = aqi_datastream(session, thing_id)
    wanted = sorted(set(hours))
    if not wanted:
        return {}
    done = set(
        session.scalars(
            select(Observation.phenomenon_time).where(
                Observation.datastream_id == ds.id,
                Observation.phenomenon_time >= wanted[0],
                Observation.phenomenon_time <= wanted[-1],
            )
        )
    )
    published: dict[datetime, int] = {}
    rows: list[ObservationIn] = []
    for hour in wanted:
        if hour in done:
            continue
        result = station_hourly_aqi(session, thing_id, hour)
        if result.aqi is None:
            continue
        band = result.band
        assert band is not None
        published[hour] = result.aqi
        rows.append(
            ObservationIn(
                datastream_id=ds.id,
                phenomenon_time=hour,
                phenomenon_time_end=hour + HOUR,
                result=result.aqi,
                parameters={
                    "sub_indices": result.sub_indices,
                    "dominant": result.dominant,
                    "band_vi": band.label_vi,
                    "band_en": band.label_en,
                    "colour": band.hex,
                },
            )
        )
    ingest_observations(session, rows, emit_event=emit_event)
    return published


def completed_hours(session: Session, obs: CreatedObservations) -> set[tuple[int, datetime]]:
    """(thing, hour) pairs whose hour is complete given new observations of AQI inputs.

    The batch's datastreams are looked up in one query; times are parsed only for the AQI inputs'."""
    input_ds: dict[int, int | None] = dict.fromkeys(set(obs.datastreams))
    if not input_ds:
        return set()
    rows = session.execute(
        select(Datastream.id, Datastream.thing_id, ObservedProperty.properties)
        .join(ObservedProperty, ObservedProperty.id == Datastream.observed_property_id)
        .where(Datastream.id.in_(sorted(int(d) for d in input_ds)))
    )
    for ds_id, thing_id, op_props in rows:
        if (op_props or {}).get("code") in INPUTS:
            input_ds[ds_id] = thing_id
    out: set[tuple[int, datetime]] = set()
    if not any(thing is not None for thing in input_ds.values()):
        return out
    for ds_id, when in zip(obs.datastreams, obs.phenomenon_times, strict=True):
        thing_id = input_ds[ds_id]
        if thing_id is None or when is None:
            continue
        t = datetime.fromisoformat(str(when).replace("Z", "+00:00"))
        out.add((thing_id, _hour(t) - HOUR))
    return out


def on_observations(session: Session, payload: Mapping[str, Any]) -> list[tuple[int, datetime, int]]:
    """Handle an ``observations.created`` event: publish the AQI of the hours it completes."""
    published = []
    for thing_id, hour in sorted(completed_hours(session, read_created(payload))):
        aqi = publish_hourly_aqi(session, thing_id, hour)
        if aqi is not None:
            published.append((thing_id, hour, aqi))
    return published
