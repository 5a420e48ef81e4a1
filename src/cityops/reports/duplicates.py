"""Duplicate suggestions (open cases of the same category nearby) and merging into a master case.

Nearby search: a latitude/longitude bounding box prefilter in SQL on the ``(lat, lon)`` index, reading
only the columns a suggestion shows and at most :data:`MAX_CANDIDATES` rows, then the exact haversine
distance in Python. It runs on every submission, so it never loads ORM objects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from cityops.reports.models import Case
from cityops.reports.workflow import OPEN_STATES

EARTH_RADIUS_M = 6_371_008.8
# Bounding-box rows examined per search: a hot spot (a flooded street reported hundreds of times) must
# not make every new report there read them all; the nearest suggestions are among any few hundred.
MAX_CANDIDATES = 200


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


# Built once: the search runs on every submission, and building the statement costs more than running it.
_NEARBY = (
    select(Case.id, Case.ref, Case.state, Case.description, Case.submitted_at, Case.lat, Case.lon)
    .where(
        Case.lat.between(bindparam("min_lat"), bindparam("max_lat")),
        Case.lon.between(bindparam("min_lon"), bindparam("max_lon")),
        # "|| ''" keeps the (category, state) index out of the plan: without statistics SQLite
        # prefers it (equality beats a range) and reads every open case of the category
        Case.category_code.concat("") == bindparam("category"),
        Case.state.in_([s.value for s in OPEN_STATES]),
        Case.master_id.is_(None),
        Case.id != bindparam("exclude_id"),
    )
    .limit(MAX_CANDIDATES)
)


@dataclass(frozen=True)
class Nearby:
    """An open case near a point: what a duplicate suggestion shows."""

    id: int
    ref: str | None
    state: str
    description: str
    submitted_at: datetime
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
    params = {
        "category": category_code,
        "min_lat": min_lat,
        "max_lat": max_lat,
        "min_lon": min_lon,
        "max_lon": max_lon,
        "exclude_id": -1 if exclude_id is None else exclude_id,
    }
    rows = session.connection().execute(_NEARBY, params)  # Core: no ORM result machinery
    found = []
    for case_id, ref, state, description, submitted_at, c_lat, c_lon in rows:
        if c_lat is None or c_lon is None:  # excluded by the bbox; narrows the type
            continue
        distance = haversine_m(lat, lon, c_lat, c_lon)
        if distance <= radius_m:
            found.append(Nearby(case_id, ref, state, description[:200], submitted_at, distance))
    found.sort(key=lambda n: (n.distance_m, n.id))
    return found[:limit]
