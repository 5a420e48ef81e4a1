"""Facilities near a point: the nearest public places of the asked types, with their distance and whether they
are open now — the citizen app's "near me" (health stations, clinics, schools, tourist sites, one-stop shops).

Bounded cost: the places inside a square of ``radius_m`` around the point (at most 50 km) are ordered in the
database by an equirectangular distance and only the nearest :data:`MAX_CANDIDATES` are read; the exact
(haversine) distance, the radius and ``open_now`` are applied to those, then ``limit`` (≤ 50) are returned.
Only public types and public attributes are ever served (the places capability's visibility rules).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cityops.errors import Invalid
from cityops.places.models import Place, PlaceType
from cityops.places.query import PlaceFilter, place_query, visible_types
from cityops.places.render import PlaceOut
from cityops.places.types import all_types, declared_types
from cityops.sectors.public_services import opening_hours
from cityops.sectors.public_services.dossiers import VN

EARTH_M = 6_371_008.8
MAX_RADIUS_M = 50_000
MAX_LIMIT = 50
MAX_CANDIDATES = 500


@dataclass(frozen=True)
class NearbyQuery:
    lat: float
    lon: float
    types: tuple[str, ...]
    radius_m: int = 20_000
    limit: int = 10
    q: str | None = None
    open_now: bool = False


def parse_near(text: str) -> tuple[float, float]:
    """``lat,lon`` (WGS 84 degrees) → a pair; 422 naming the parameter otherwise."""
    try:
        lat, lon = (float(p) for p in text.split(","))
    except ValueError:
        lat = lon = math.nan
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise Invalid(
            "near must be lat,lon in WGS 84 degrees", details=[{"field": "near", "msg": f"got {text[:40]!r}"}]
        )
    return lat, lon


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_M * math.asin(min(1.0, math.sqrt(a)))


def nearby(session: Session, query: NearbyQuery, now: datetime) -> dict[str, Any]:
    """The nearest places of ``query.types`` with ``distance_m`` and ``open_now`` (None: hours unknown)."""
    declared = {spec.code for _plugin, spec in declared_types() if spec.visibility == "public"}
    public: dict[str, PlaceType] = {t.code: t for t in visible_types(all_types(session), staff=False)}
    unknown = [t for t in query.types if t not in declared]
    if unknown or not query.types:
        raise Invalid(
            "type: one or more public place types",
            details=[{"field": "type", "msg": f"unknown or not public: {', '.join(unknown) or '(none)'}"}],
        )
    dlat = math.degrees(query.radius_m / EARTH_M)
    scale = max(math.cos(math.radians(query.lat)), 0.01)
    dlon = min(180.0, dlat / scale)
    bbox = (query.lon - dlon, query.lat - dlat, query.lon + dlon, query.lat + dlat)
    flt = PlaceFilter(types=query.types, bbox=bbox, q=query.q)
    stmt = place_query(session, flt, list(public))
    approx = (Place.lat - query.lat) * (Place.lat - query.lat) + (Place.lon - query.lon) * (
        Place.lon - query.lon
    ) * (scale * scale)
    rows = session.execute(stmt.order_by(None).order_by(approx, Place.id).limit(MAX_CANDIDATES)).all()
    local = now.astimezone(VN)
    items: list[dict[str, Any]] = []
    for place, area_code, area_name in rows:
        distance = haversine_m(query.lat, query.lon, place.lat, place.lon)
        if distance > query.radius_m:
            continue
        ptype = public.get(place.type_code)
        if ptype is None:  # a type no longer public
            continue
        out = PlaceOut.of(place, ptype, (area_code, area_name), staff=False)
        hours = out.attributes.get("opening_hours")
        is_open = opening_hours.is_open(hours if isinstance(hours, str) else None, local)
        if query.open_now and is_open is not True:
            continue
        items.append(
            {
                "id": out.id,
                "type": out.type,
                "type_name_vi": ptype.name_vi,
                "type_name_en": ptype.name_en,
                "name": out.name,
                "lat": out.lat,
                "lon": out.lon,
                "distance_m": round(distance),
                "open_now": is_open,
                "area": out.area.model_dump() if out.area else None,
                "attributes": out.attributes,
                "demo": out.demo,
            }
        )
    items.sort(key=lambda i: (i["distance_m"], i["id"]))
    return {
        "near": [query.lat, query.lon],
        "radius_m": query.radius_m,
        "as_of": local.isoformat(),
        "items": items[: query.limit],
    }
