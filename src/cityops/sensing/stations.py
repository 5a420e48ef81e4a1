"""Demo stations in the store: their SensorThings entities, and their simulated history.

A sector ships its demo stations (:class:`~cityops.specs.StationSpec`, ``demo_stations`` hook) and loads them
from its ``load_demo`` hook with :func:`load_stations`: each station becomes a Thing (properties:
``station_code``, ``kind``, ``expected_interval_s``, ``area_ids``, ``area_name``, ``approximate`` and the
station's own ``attributes``, e.g. river, road, datum, alarm_levels), a Location (GeoJSON point), one Sensor, and
one Datastream per observed property; observed properties are shared, found by ``properties.code``, and
created from their declaration (:mod:`cityops.sensing.properties`). Idempotent: keyed by ``station_code``.

:func:`store_history` stores the stations' simulated readings over a past window, without
``observations.created`` events (history is not news for live subscribers), so a fresh demo looks alive; a
sector that derives series from them (the environment's VN_AQI) or runs rules on them does so on the points it
returns.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from cityops.sensing import properties as props
from cityops.sensing.ingest import ObservationIn, ingest_observations
from cityops.sensing.models import Datastream, Location, ObservedProperty, Sensor, Thing, thing_locations
from cityops.sensing.simulator import StationSpec, readings

OM_MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
HISTORY_BATCH = timedelta(hours=6)  # simulated time per stored batch


@dataclass
class LoadResult:
    things: int = 0
    datastreams: int = 0
    observed_properties: int = 0


def observed_property(
    session: Session, code: str, cache: dict[str, ObservedProperty]
) -> tuple[ObservedProperty, bool]:
    """The ObservedProperty of ``code`` (created from its declaration when missing); True when created.

    Raises KeyError when no plugin declares ``code``."""
    if not cache:
        for op in session.scalars(select(ObservedProperty)).all():
            c = (op.properties or {}).get("code")
            if c:
                cache[str(c)] = op
    if code in cache:
        return cache[code], False
    spec = _spec(code)
    op = ObservedProperty(
        name=spec.name_en,
        definition=spec.definition,
        description=spec.name_vi,
        ucum=spec.unit_symbol,
        properties={
            "code": spec.code,
            "name_vi": spec.name_vi,
            "valid_min": spec.valid_min,
            "valid_max": spec.valid_max,
            "sector": spec.sector,
        },
    )
    session.add(op)
    session.flush()
    cache[code] = op
    return op, True


def _spec(code: str) -> props.PropertySpec:
    spec = props.get(code)
    if spec is None:
        raise KeyError(f"no plugin declares the observed property {code!r}")
    return spec


def _area_ids(session: Session, spec: StationSpec) -> list[int]:
    try:
        from cityops.areas.lookup import locate

        return [a.id for a in locate(session, spec.lat, spec.lon)]
    except (ImportError, ValueError):
        return []


def load_stations(session: Session, stations: Sequence[StationSpec]) -> LoadResult:
    """Create the stations that do not exist yet; existing ones (same station_code) are left alone."""
    existing = {
        (t.properties or {}).get("station_code") for t in session.scalars(select(Thing)).all() if t.properties
    }
    result = LoadResult()
    cache: dict[str, ObservedProperty] = {}
    for spec in stations:
        if spec.code in existing:
            continue
        thing_props: dict[str, Any] = {
            "station_code": spec.code,
            "kind": spec.kind,
            "expected_interval_s": spec.interval_s,
            "area_ids": _area_ids(session, spec),
            "area_name": spec.area_name,
            "approximate": spec.approximate,
            **{key: value for key, value in spec.attributes.items() if value is not None},
        }
        thing = Thing(name=spec.name, description=spec.name, properties=thing_props)
        location = Location(
            name=spec.name,
            description=spec.area_name or spec.name,
            encoding_type="application/geo+json",
            location={"type": "Point", "coordinates": [spec.lon, spec.lat]},
            lat=spec.lat,
            lon=spec.lon,
        )
        sensor = Sensor(
            name=f"Thiết bị {spec.code}",
            description=f"{spec.kind} station sensor package",
            encoding_type="text/html",
            sensor_metadata="",
        )
        session.add_all([thing, location, sensor])
        session.flush()
        session.execute(insert(thing_locations).values(thing_id=thing.id, location_id=location.id))
        for code in spec.properties:
            op, created = observed_property(session, code, cache)
            result.observed_properties += created
            spec_p = _spec(code)
            session.add(
                Datastream(
                    name=f"{spec.name} – {spec_p.name_vi}",
                    description=f"{spec_p.name_en} at {spec.code}",
                    unit_of_measurement=spec_p.unit_of_measurement,
                    observation_type=OM_MEASUREMENT,
                    properties={"expected_interval_s": spec.interval_s, "property_code": code},
                    thing_id=thing.id,
                    sensor_id=sensor.id,
                    observed_property_id=op.id,
                )
            )
            result.datastreams += 1
        result.things += 1
    session.flush()
    return result


def datastream_index(session: Session) -> dict[tuple[str, str], Datastream]:
    """(station_code, property code) → Datastream, over every Thing that has a ``station_code``."""
    rows = session.execute(
        select(Datastream, Thing.properties, ObservedProperty.properties)
        .join(Thing, Thing.id == Datastream.thing_id)
        .join(ObservedProperty, ObservedProperty.id == Datastream.observed_property_id)
    ).all()
    out: dict[tuple[str, str], Datastream] = {}
    for ds, thing_props, op_props in rows:
        station = (thing_props or {}).get("station_code")
        code = (op_props or {}).get("code")
        if station and code:
            out[(str(station), str(code))] = ds
    return out


@dataclass(slots=True)
class History:
    """What :func:`store_history` stored: new and already stored points, every point by datastream, and
    each datastream's (Thing id, property code)."""

    inserted: int = 0
    duplicates: int = 0
    points: dict[int, list[tuple[datetime, float]]] = field(default_factory=lambda: defaultdict(list))
    streams: dict[int, tuple[int, str]] = field(default_factory=dict)


def store_history(
    session: Session,
    stations: Sequence[StationSpec],
    *,
    start: datetime,
    end: datetime,
    seed: int = 0,
    batch: timedelta = HISTORY_BATCH,
) -> History:
    """Store the simulated readings of ``stations`` in [start, end), a batch of simulated time at a time.

    Times are timezone-aware; the caller commits. Stations or properties without a datastream are skipped;
    stored points are never replaced (the store keeps the first value), so a second run adds only new ones.
    """
    index = datastream_index(session)
    history = History()
    window = start
    while window < end:
        upper = min(window + batch, end)
        rows: list[ObservationIn] = []
        for r in readings(stations, window, upper, seed=seed):
            ds = index.get((r.station, r.property))
            if ds is None:
                continue
            rows.append(ObservationIn(datastream_id=ds.id, phenomenon_time=r.time, result=r.value))
            history.points[ds.id].append((r.time, r.value))
            history.streams[ds.id] = (ds.thing_id, r.property)
        stored = ingest_observations(session, rows, emit_event=False)
        history.inserted += stored.inserted
        history.duplicates += stored.duplicates
        window = upper
    return history
