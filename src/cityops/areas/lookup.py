"""Point → area, offline: an in-memory shapely STRtree over the stored geometries (DESIGN.md §6).

The index is built from the database on first use and cached per database URL. Every lookup checks a cheap
signature (row count, highest id, latest ``geometry_changed_at``); when geometries change — a load, an import,
any ORM assignment to ``Area.geometry`` — the signature moves and the index is rebuilt.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import date
from typing import Any

import shapely
from shapely import STRtree
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.areas.lineage import (
    current_successors,
    default_successor,
    direct_predecessors,
    direct_successors,
    successors_of,
)
from cityops.areas.models import Area
from cityops.areas.service import ancestors, today

__all__ = [
    "AreaIndex",
    "ancestors",
    "current_successors",
    "default_successor",
    "direct_predecessors",
    "direct_successors",
    "find_area",
    "invalidate_cache",
    "locate",
    "successors_of",
]


@dataclass(frozen=True)
class _Entry:
    id: int
    level: str
    valid_from: date | None
    valid_to: date | None
    geometry: BaseGeometry

    def valid_on(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day < self.valid_to
        )


class AreaIndex:
    """An STRtree over every stored area geometry (all levels, all periods)."""

    def __init__(self, signature: tuple[Any, ...], entries: list[_Entry]) -> None:
        self.signature = signature
        self.entries = entries
        for entry in entries:
            shapely.prepare(entry.geometry)
        self.tree = STRtree([e.geometry for e in entries])

    def find(self, lon: float, lat: float, *, at: date, level: str | None) -> list[_Entry]:
        """Entries covering the point on ``at`` (of ``level`` if given), finest level first, then lowest id."""
        point = shapely.Point(lon, lat)
        hits = [self.entries[int(i)] for i in self.tree.query(point, predicate="intersects")]
        hits = [h for h in hits if h.valid_on(at) and (level is None or h.level == level)]
        rank = {"commune": 0, "district": 1, "province": 2}
        return sorted(hits, key=lambda h: (rank.get(h.level, 3), h.id))


_cache: dict[str, AreaIndex] = {}
_lock = threading.Lock()


def invalidate_cache() -> None:
    """Drop every cached index (the next lookup rebuilds from the database)."""
    with _lock:
        _cache.clear()


def _signature(session: Session) -> tuple[Any, ...]:
    row = session.execute(
        select(func.count(Area.id), func.max(Area.id), func.max(Area.geometry_changed_at))
    ).one()
    return tuple(row)


def area_index(session: Session) -> AreaIndex:
    """The cached index for this session's database, rebuilt when the stored geometries changed."""
    key = session.get_bind().engine.url.render_as_string(hide_password=True)
    signature = _signature(session)
    with _lock:
        index = _cache.get(key)
        if index is not None and index.signature == signature:
            return index
    rows = session.execute(select(Area.id, Area.level, Area.valid_from, Area.valid_to, Area.geometry))
    entries: list[_Entry] = []
    for area_id, level, valid_from, valid_to, geometry in rows:
        if not geometry:
            continue
        geom = shape(geometry)
        if geom.is_empty:
            continue
        entries.append(_Entry(area_id, level, valid_from, valid_to, geom))
    index = AreaIndex(signature, entries)
    with _lock:
        _cache[key] = index
    return index


def _check(lat: float, lon: float) -> None:
    if not (math.isfinite(lat) and math.isfinite(lon)) or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"not a WGS 84 coordinate: lat={lat}, lon={lon}")


def find_area(
    session: Session, lat: float, lon: float, at: date | None = None, level: str = "commune"
) -> Area | None:
    """The unit of ``level`` containing (lat, lon) on ``at`` (default today); None outside every unit."""
    _check(lat, lon)
    hits = area_index(session).find(lon, lat, at=at or today(), level=level)
    return session.get(Area, hits[0].id) if hits else None


def locate(session: Session, lat: float, lon: float, at: date | None = None) -> list[Area]:
    """Every unit containing (lat, lon) on ``at``, one per level, finest first (commune, district, province)."""
    _check(lat, lon)
    found: list[Area] = []
    levels: set[str] = set()
    for hit in area_index(session).find(lon, lat, at=at or today(), level=None):
        if hit.level in levels:
            continue
        levels.add(hit.level)
        area = session.get(Area, hit.id)
        if area is not None:
            found.append(area)
    return found
