"""Point → area, offline: an in-memory shapely STRtree over the stored geometries (DESIGN.md §6).

The index is built from the database on first use and cached per database URL. It is checked against a
signature (row count, highest id, latest ``geometry_changed_at``) at most once every :data:`RECHECK_SECONDS`
(the signature is a query, and was a tenth of a report submission's CPU when run on every lookup); when
geometries change — a load, an import, any ORM assignment to ``Area.geometry`` — the signature moves and the
index is rebuilt.

Staleness accepted: a change committed by *another process* (an admin import on another worker, the CLI) reaches
this process's routing at most :data:`RECHECK_SECONDS` (1 s) later. A change flushed or committed through an ORM
session of *this* process (``Area`` rows added, changed or deleted), and the loaders that call
:func:`invalidate_cache`, are seen by the very next lookup.
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from dataclasses import dataclass
from datetime import date
from typing import Any

import shapely
from shapely import STRtree
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, object_session

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


# Area boundaries change rarely (an admin import): the signature query runs at most this often per database.
RECHECK_SECONDS = 1.0
_clock = time.monotonic  # tests move it instead of sleeping

_cache: dict[str, AreaIndex] = {}
_checked_at: dict[str, float] = {}  # when each cached index last matched the database's signature
_lock = threading.Lock()
_keys: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()
_generation = 0  # moves whenever this process changed areas: an index read before that is not cached
_CHANGED = "cityops.areas.changed"  # session.info flag: this transaction wrote areas


def invalidate_cache() -> None:
    """Drop every cached index (the next lookup rebuilds from the database)."""
    global _generation
    with _lock:
        _cache.clear()
        _checked_at.clear()
        _generation += 1


def _recheck_now() -> None:
    """Keep the indexes but make the next lookup compare the signature (this process changed areas)."""
    global _generation
    with _lock:
        _checked_at.clear()
        _generation += 1


@event.listens_for(Area, "after_insert")
@event.listens_for(Area, "after_update")
@event.listens_for(Area, "after_delete")
def _area_written(_mapper: Any, _connection: Any, target: Area) -> None:
    # Seen by this session's next lookup at once (its own transaction), and by every session's after the
    # commit (or the rollback: an index built from rolled-back rows must be compared again).
    session = object_session(target)
    if session is not None:
        session.info[_CHANGED] = True
    _recheck_now()


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _after_transaction(session: Session) -> None:
    if session.info.pop(_CHANGED, False):
        _recheck_now()


def _key(session: Session) -> str:
    engine = session.get_bind().engine
    key = _keys.get(engine)
    if key is None:
        key = _keys[engine] = engine.url.render_as_string(hide_password=True)
    return key


def _signature(session: Session) -> tuple[Any, ...]:
    row = session.execute(
        select(func.count(Area.id), func.max(Area.id), func.max(Area.geometry_changed_at))
    ).one()
    return tuple(row)


def area_index(session: Session) -> AreaIndex:
    """The cached index for this session's database, rebuilt when the stored geometries changed (compared
    at most once every :data:`RECHECK_SECONDS`, at once after this process changed areas)."""
    key = _key(session)
    now = _clock()
    with _lock:
        index = _cache.get(key)
        checked = _checked_at.get(key)
        generation = _generation
    if index is not None and checked is not None and now - checked < RECHECK_SECONDS:
        return index
    signature = _signature(session)
    # a transaction that wrote areas and has not committed sees its own rows: its index is not shared
    shared = not session.info.get(_CHANGED, False)
    if index is not None and index.signature == signature:
        with _lock:
            if shared and _cache.get(key) is index and _generation == generation:
                _checked_at[key] = now
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
        if shared and _generation == generation:
            _cache[key] = index
            _checked_at[key] = now
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
