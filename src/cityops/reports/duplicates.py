"""Duplicate suggestions (open cases of the same category nearby) and merging into a master case.

Nearby search: a latitude/longitude bounding box prefilter in SQL (indexed on both backends), then the
exact haversine distance in Python.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.reports.models import Case
from cityops.reports.workflow import OPEN_STATES

EARTH_RADIUS_M = 6_371_008.8


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def bbox(lat: float, lon: float, radius_m: float) -> tuple[float, float, float, float]:
    """(min_lat, min_lon, max_lat, max_lon) enclosing the circle."""
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    dlon = dlat / max(math.cos(math.radians(lat)), 1e-6)
    return lat - dlat, lon - dlon, lat + dlat, lon + dlon


@dataclass(frozen=True)
class Nearby:
    case: Case
    distance_m: float


def nearby_open_cases(
    session: Session,
    category_code: str,
    lat: float,
    lon: float,
    radius_m: float,
    *,
    exclude_id: int | None = None,
    limit: int = 10,
) -> list[Nearby]:
    """Open, unmerged cases of ``category_code`` within ``radius_m`` of the point, nearest first."""
    min_lat, min_lon, max_lat, max_lon = bbox(lat, lon, radius_m)
    query = select(Case).where(
        Case.category_code == category_code,
        Case.state.in_([s.value for s in OPEN_STATES]),
        Case.master_id.is_(None),
        Case.lat.between(min_lat, max_lat),
        Case.lon.between(min_lon, max_lon),
    )
    if exclude_id is not None:
        query = query.where(Case.id != exclude_id)
    found = []
    for case in session.scalars(query):
        assert case.lat is not None
        assert case.lon is not None
        distance = haversine_m(lat, lon, case.lat, case.lon)
        if distance <= radius_m:
            found.append(Nearby(case, distance))
    found.sort(key=lambda n: (n.distance_m, n.case.id))
    return found[:limit]
