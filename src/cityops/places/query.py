"""Reading places: the list filters (type, area following lineage, bbox, status, text) and visibility.

A caller who is not staff never sees a place of a staff-only type: the filter is in the query, so counts and
pages agree. An area filter covers the unit, the units it became and came from (lineage, both ways, so an old
ward's id finds places stored against today's ward and the reverse), and every unit inside those.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from cityops.areas.models import Area, AreaLineage
from cityops.areas.service import today
from cityops.errors import Invalid, NotFound
from cityops.places.models import Place, PlaceType
from cityops.text import search_words

MAX_AREA_SCOPE = 5000  # units an area filter may expand to (a province with its history is ~400)


@dataclass(frozen=True)
class PlaceFilter:
    types: Sequence[str] = ()
    area_id: int | None = None
    bbox: tuple[float, float, float, float] | None = None  # min_lon, min_lat, max_lon, max_lat
    statuses: Sequence[str] = ()
    q: str | None = None
    at: date | None = None
    historical: bool = False
    thing_ids: Sequence[int] = ()


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """``min_lon,min_lat,max_lon,max_lat`` (WGS 84) → a tuple; 422 naming the parameter otherwise."""
    try:
        parts = tuple(float(p) for p in text.split(","))
    except ValueError:
        parts = ()
    ok = len(parts) == 4 and all(math.isfinite(p) for p in parts)
    if ok:
        min_lon, min_lat, max_lon, max_lat = parts
        ok = -180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90
    if not ok:
        raise Invalid(
            "bbox must be min_lon,min_lat,max_lon,max_lat in WGS 84 degrees",
            details=[{"field": "bbox", "msg": f"got {text!r}"}],
        )
    return parts[0], parts[1], parts[2], parts[3]


def area_scope(session: Session, area_id: int) -> set[int]:
    """The unit, its lineage both ways (transitively, each direction on its own), and the units inside them."""
    if session.get(Area, area_id) is None:
        raise NotFound(f"No area with id {area_id}", details={"field": "area_id"})
    found = {area_id}
    for near, far in (
        (AreaLineage.predecessor_id, AreaLineage.successor_id),
        (AreaLineage.successor_id, AreaLineage.predecessor_id),
    ):
        frontier = {area_id}
        while frontier and len(found) < MAX_AREA_SCOPE:
            step = set(session.scalars(select(far).where(near.in_(frontier))))
            frontier = step - found
            found |= frontier
    frontier = set(found)
    while frontier and len(found) < MAX_AREA_SCOPE:
        children = set(session.scalars(select(Area.id).where(Area.parent_id.in_(frontier))))
        frontier = children - found
        found |= frontier
    return found


def visible_types(types: Sequence[PlaceType], *, staff: bool) -> list[PlaceType]:
    return [t for t in types if staff or t.visibility == "public"]


def place_query(session: Session, flt: PlaceFilter, visible: Sequence[str]) -> Select[Place, str, str]:
    """``(Place, area code, area name)`` rows matching ``flt`` among the ``visible`` type codes."""
    wanted = [t for t in flt.types if t in visible] if flt.types else list(visible)
    stmt = (
        select(Place, Area.code, Area.name)
        .outerjoin(Area, Area.id == Place.area_id)
        .where(Place.type_code.in_(wanted))
    )
    if flt.area_id is not None:
        stmt = stmt.where(Place.area_id.in_(sorted(area_scope(session, flt.area_id))))
    if flt.bbox is not None:
        min_lon, min_lat, max_lon, max_lat = flt.bbox
        stmt = stmt.where(
            Place.min_lon <= max_lon,
            Place.max_lon >= min_lon,
            Place.min_lat <= max_lat,
            Place.max_lat >= min_lat,
        )
    if flt.statuses:
        stmt = stmt.where(Place.status.in_(list(flt.statuses)))
    for word in search_words(flt.q or ""):
        stmt = stmt.where(Place.name_key.contains(word, autoescape=True))
    if flt.thing_ids:
        stmt = stmt.where(Place.thing_id.in_(list(flt.thing_ids)))
    if flt.at is not None or not flt.historical:
        day = flt.at or today()
        stmt = stmt.where(
            or_(Place.valid_from.is_(None), Place.valid_from <= day),
            or_(Place.valid_to.is_(None), Place.valid_to > day),
        )
    return stmt.order_by(Place.name_key, Place.id)
