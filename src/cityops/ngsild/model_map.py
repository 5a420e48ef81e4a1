"""The store seen as Smart Data Models: places and stations (with their datastreams' latest values) as
NGSI-LD entities in the normalized form. Stations become WaterQualityObserved / WaterObserved /
AirQualityObserved / TrafficFlowObserved by their kind and properties; cameras Camera; road segments
RoadSegment; every other place a PointOfInterest whose ``category`` is its place type."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.places.attributes import visible_attributes
from cityops.places.models import Place, PlaceType
from cityops.places.types import attribute_specs
from cityops.sensing.models import Datastream, ObservedProperty

# observed property code -> the Smart Data Models attribute name
SDM_ATTRIBUTE = {
    "salinity": "salinity",
    "conductivity": "conductivity",
    "ph": "pH",
    "dissolved_oxygen": "O2",
    "do": "O2",
    "turbidity": "turbidity",
    "water_temperature": "temperature",
    "temperature": "temperature",
    "water_level": "height",
    "pm25": "pm25",
    "pm2_5": "pm25",
    "pm10": "pm10",
    "no2": "NO2",
    "so2": "SO2",
    "co": "CO",
    "o3": "O3",
    "aqi": "airQualityIndex",
    "vehicle_count": "intensity",
    "traffic_volume": "intensity",
    "mean_speed": "averageVehicleSpeed",
    "occupancy": "occupancy",
    "congestion_level": "congestionLevel",
}
STATION_TYPES = {
    "water": "WaterQualityObserved",
    "air": "AirQualityObserved",
    "traffic": "TrafficFlowObserved",
}
PLACE_TYPES = {"camera": "Camera", "road_segment": "RoadSegment"}
POI = "PointOfInterest"
MAPPED_TYPES = (
    "WaterQualityObserved",
    "WaterObserved",
    "AirQualityObserved",
    "TrafficFlowObserved",
    "Camera",
    "RoadSegment",
    POI,
)
ID_RE = re.compile(r"^urn:ngsi-ld:([A-Za-z][A-Za-z0-9_]*):cityops:place:(\d+)$")


def entity_id(ngsi_type: str, place_id: int) -> str:
    return f"urn:ngsi-ld:{ngsi_type}:cityops:place:{place_id}"


def place_id_of(eid: str) -> int | None:
    """The place id in a mapped entity id, or None for any other id (a generic entity)."""
    m = ID_RE.match(eid)
    return int(m.group(2)) if m else None


def _camel(code: str) -> str:
    head, *rest = code.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _iso(at: datetime | None) -> str | None:
    return at.isoformat().replace("+00:00", "Z") if at else None


class Reading:
    """A station datastream's latest value under its Smart Data Models name."""

    def __init__(self, ds: Datastream, code: str) -> None:
        self.datastream_id = ds.id
        self.code = code
        self.name = SDM_ATTRIBUTE.get(code, _camel(code))
        self.value = ds.last_value if ds.last_value is not None else ds.last_result
        self.observed_at = ds.last_phenomenon_time
        self.unit = (ds.unit_of_measurement or {}).get("symbol") or ""


def readings(session: Session, thing_ids: Sequence[int]) -> dict[int, list[Reading]]:
    """Every datastream of the given Things with its latest value, in one statement."""
    out: dict[int, list[Reading]] = defaultdict(list)
    if not thing_ids:
        return out
    rows = session.execute(
        select(Datastream, ObservedProperty.properties, ObservedProperty.name)
        .join(ObservedProperty, ObservedProperty.id == Datastream.observed_property_id)
        .where(Datastream.thing_id.in_(list(thing_ids)))
        .order_by(Datastream.id)
    ).all()
    for ds, props, name in rows:
        code = str((props or {}).get("code") or name).lower()
        out[ds.thing_id].append(Reading(ds, code))
    return out


def ngsi_type(place: Place, found: Sequence[Reading]) -> str:
    if place.type_code == "station":
        kind = str((place.attributes or {}).get("kind") or "")
        if kind == "water" and found and all(r.code == "water_level" for r in found):
            return "WaterObserved"
        return STATION_TYPES.get(kind, "WaterQualityObserved" if kind == "water" else POI)
    return PLACE_TYPES.get(place.type_code, POI)


def place_codes_for(ngsi_types: Sequence[str]) -> set[str] | None:
    """The place type codes an NGSI-LD type filter can match (None: any place type may match)."""
    codes: set[str] = set()
    for t in ngsi_types:
        if t in ("WaterQualityObserved", "WaterObserved", "AirQualityObserved", "TrafficFlowObserved"):
            codes.add("station")
        elif t == POI:
            return None
        else:
            codes.update(code for code, mapped in PLACE_TYPES.items() if mapped == t)
    return codes


def prop(value: Any, **extra: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value, **{k: v for k, v in extra.items() if v not in (None, "")}}


def to_entity(place: Place, ptype: PlaceType, found: Sequence[Reading], *, staff: bool) -> dict[str, Any]:
    """One place as an NGSI-LD entity (normalized)."""
    t = ngsi_type(place, found)
    e: dict[str, Any] = {
        "id": entity_id(t, place.id),
        "type": t,
        "name": prop(place.name),
        "location": {"type": "GeoProperty", "value": place.geometry},
    }
    if t == POI:
        e["category"] = prop([place.type_code])
    for code, value in visible_attributes(
        attribute_specs(ptype), place.attributes or {}, staff=staff
    ).items():
        if value is not None:
            e.setdefault(_camel(code), prop(value))
    if place.status:
        e["status"] = prop(place.status, observedAt=_iso(place.status_at))
    newest: datetime | None = None
    for r in found:
        e[r.name] = prop(r.value, observedAt=_iso(r.observed_at), unitCode=r.unit, datasetId=None)
        if r.observed_at and (newest is None or r.observed_at > newest):
            newest = r.observed_at
    if found:
        e["dateObserved"] = prop(_iso(newest))
    e["modifiedAt"] = _iso(place.updated_at)
    e["createdAt"] = _iso(place.created_at)
    return e
