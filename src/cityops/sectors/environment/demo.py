"""Loading the demo stations as SensorThings entities (idempotent: keyed by ``properties.station_code``).

Each station becomes a Thing (properties: station_code, kind, river/road, datum, alarm_levels, area_ids,
expected_interval_s, approximate), a Location (GeoJSON point), one Sensor, and one Datastream per
observed property; observed properties are shared and found by ``properties.code``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from cityops.sensing import properties as props
from cityops.sensing.models import Datastream, Location, ObservedProperty, Sensor, Thing, thing_locations
from cityops.sensing.simulator import StationSpec

OM_MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"


@dataclass
class LoadResult:
    things: int = 0
    datastreams: int = 0
    observed_properties: int = 0


def observed_property(
    session: Session, code: str, cache: dict[str, ObservedProperty]
) -> tuple[ObservedProperty, bool]:
    """The ObservedProperty of ``code`` (created from :mod:`cityops.sensing.properties` when missing)."""
    if not cache:
        for op in session.scalars(select(ObservedProperty)).all():
            c = (op.properties or {}).get("code")
            if c:
                cache[str(c)] = op
    if code in cache:
        return cache[code], False
    spec = props.BY_CODE[code]
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
        }
        for key in ("river", "road", "datum", "distance_to_sea_km"):
            value = getattr(spec, key)
            if value is not None:
                thing_props[key] = value
        if spec.alarm_levels:
            thing_props["alarm_levels"] = dict(spec.alarm_levels)
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
            spec_p = props.BY_CODE[code]
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
