"""Loading and querying administrative units.

:func:`load_areas` writes the current province (Tây Ninh, code 80, 96 communes/wards, no districts after 2025)
and the legacy provinces it absorbed (Long An and old Tây Ninh: province → district → commune, ``valid_to``
2025-07-01) with lineage links, from :mod:`cityops.areas.sources`, and approximate geometry from
:mod:`cityops.areas.cells`. It is idempotent: a second run changes nothing, and it never overwrites a boundary
imported from an official file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from rich.console import Console
from rich.progress import Progress
from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import Session

from cityops.areas.cells import APPROXIMATE_SOURCE, approximate_geometries
from cityops.areas.models import Area, AreaLineage
from cityops.areas.sources import (
    DEFAULT_PROVINCE_KEY,
    LEVELS,
    REFORM_2025,
    SourceUnit,
    province_dataset,
)
from cityops.clock import to_local, utcnow
from cityops.errors import NotFound
from cityops.text import nfc, search_key

SOURCE_PREFIX = "vietnamadminunits:"


@dataclass
class LoadStats:
    """What :func:`load_areas` did."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    lineage_created: int = 0
    lineage_updated: int = 0
    lineage_unchanged: int = 0
    lineage_removed: int = 0

    @property
    def changed(self) -> bool:
        return bool(
            self.created
            or self.updated
            or self.lineage_created
            or self.lineage_updated
            or self.lineage_removed
        )


def today() -> date:
    """Today in local (Vietnam) time: the default date for "current" units."""
    return to_local(utcnow()).date()


def _valid_on(day: date) -> Any:
    return and_(
        or_(Area.valid_from.is_(None), Area.valid_from <= day),
        or_(Area.valid_to.is_(None), Area.valid_to > day),
    )


def _desired(unit: SourceUnit, parent_id: int | None) -> dict[str, Any]:
    name = nfc(unit.name)
    return {
        "code": unit.code,
        "level": unit.level,
        "kind": nfc(unit.kind),
        "name": name,
        "name_key": search_key(name),
        "parent_id": parent_id,
        "valid_from": unit.valid_from,
        "valid_to": unit.valid_to,
        "lat": unit.lat,
        "lon": unit.lon,
        "area_km2": unit.area_km2,
        "source_key": SOURCE_PREFIX + unit.key,
    }


def load_areas(
    session: Session, *, province_key: str = DEFAULT_PROVINCE_KEY, console: Console | None = None
) -> LoadStats:
    """Create or update the province's current and legacy units and their lineage (idempotent).

    Flushes but does not commit: the caller owns the transaction. With ``console``, shows rich progress.
    """
    dataset = province_dataset(province_key)
    geometries = approximate_geometries(province_key)
    stats = LoadStats()
    keys = [SOURCE_PREFIX + u.key for u in dataset.units]
    codes = {u.code for u in dataset.units}

    existing_by_source: dict[str, Area] = {}
    existing_by_identity: dict[tuple[str, str, date | None, date | None], Area] = {}
    for area in session.scalars(select(Area).where(or_(Area.source_key.in_(keys), Area.code.in_(codes)))):
        if area.source_key:
            existing_by_source[area.source_key] = area
        existing_by_identity[(area.code, area.level, area.valid_from, area.valid_to)] = area

    ids: dict[str, int] = {}
    progress = Progress(console=console, transient=True, disable=console is None)
    with progress:
        task = progress.add_task("Areas", total=len(dataset.units) + len(dataset.links))
        # Parents before children: provinces, then districts, then communes (one flush per level).
        for level in LEVELS:
            pending: list[tuple[SourceUnit, Area]] = []
            for unit in (u for u in dataset.units if u.level == level):
                parent_id = ids[unit.parent_key] if unit.parent_key else None
                want = _desired(unit, parent_id)
                found = existing_by_source.get(want["source_key"]) or existing_by_identity.get(
                    (unit.code, unit.level, unit.valid_from, unit.valid_to)
                )
                is_new = found is None
                changed = False
                if found is None:
                    area = Area(**want)
                    session.add(area)
                    stats.created += 1
                else:
                    area = found
                    for field, value in want.items():
                        if getattr(area, field) != value:
                            setattr(area, field, value)
                            changed = True
                geometry = geometries.get(unit.key)
                # Only geometry the loader made is refreshed: an imported boundary (or a parent recomputed
                # from imported children) is never replaced by an approximate cell.
                owned = area.geometry is None or area.geometry_source in (None, APPROXIMATE_SOURCE)
                if geometry is not None and owned:
                    if area.geometry != geometry:
                        area.geometry = geometry
                        changed = True
                    if area.geometry_approximate is not True or area.geometry_source != APPROXIMATE_SOURCE:
                        area.geometry_approximate = True
                        area.geometry_source = APPROXIMATE_SOURCE
                        changed = True
                if not is_new:
                    stats.updated += changed
                    stats.unchanged += not changed
                pending.append((unit, area))
                progress.advance(task)
            session.flush()
            for unit, area in pending:
                ids[unit.key] = area.id

        pred_ids = {ids[link.predecessor_key] for link in dataset.links}
        links: dict[tuple[int, int], AreaLineage] = {
            (row.predecessor_id, row.successor_id): row
            for row in session.scalars(select(AreaLineage).where(AreaLineage.predecessor_id.in_(pred_ids)))
        }
        for link in dataset.links:
            pair = (ids[link.predecessor_key], ids[link.successor_key])
            row = links.get(pair)
            if row is None:
                session.add(
                    AreaLineage(
                        predecessor_id=pair[0],
                        successor_id=pair[1],
                        effective=REFORM_2025,
                        relation=link.relation,
                        is_default=link.is_default,
                    )
                )
                stats.lineage_created += 1
            elif (row.effective, row.relation, row.is_default) != (
                REFORM_2025,
                link.relation,
                link.is_default,
            ):
                row.effective, row.relation, row.is_default = REFORM_2025, link.relation, link.is_default
                stats.lineage_updated += 1
            else:
                stats.lineage_unchanged += 1
            progress.advance(task)
        # Links the source no longer gives (e.g. a repaired converter entry) are removed.
        wanted = {(ids[link.predecessor_key], ids[link.successor_key]) for link in dataset.links}
        for pair, row in links.items():
            if pair not in wanted:
                session.delete(row)
                stats.lineage_removed += 1
        session.flush()
    if stats.changed:
        from cityops.areas.lookup import invalidate_cache
        from cityops.plugins import plugin_manager

        invalidate_cache()
        plugin_manager().hook.areas_changed(session=session)  # capabilities holding area ids re-resolve them
    return stats


# --- queries --------------------------------------------------------------------------------------------


def area_query(
    *,
    level: str | None = None,
    parent_id: int | None = None,
    q: str | None = None,
    at: date | None = None,
    historical: bool = False,
) -> Select[Area]:
    """Areas filtered as the list API and CLI do: valid on ``at`` (default today) unless ``historical``."""
    stmt = select(Area)
    if level:
        stmt = stmt.where(Area.level == level)
    if parent_id is not None:
        stmt = stmt.where(Area.parent_id == parent_id)
    if q:
        for word in search_key(nfc(q)).split():
            escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            stmt = stmt.where(Area.name_key.like(f"%{escaped}%", escape="\\"))
    if at is not None or not historical:
        stmt = stmt.where(_valid_on(at or today()))
    return stmt


def list_areas(
    session: Session,
    *,
    level: str | None = None,
    parent_id: int | None = None,
    q: str | None = None,
    at: date | None = None,
    historical: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Area], int]:
    """One page of areas (ordered by level, name, id) and the total count."""
    stmt = area_query(level=level, parent_id=parent_id, q=q, at=at, historical=historical)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(_level_rank(), Area.name_key, Area.id).limit(limit).offset(offset))
    return list(rows), total


def _level_rank() -> Any:
    return case({lvl: i for i, lvl in enumerate(LEVELS)}, value=Area.level, else_=len(LEVELS))


def get_area(session: Session, area_id: int) -> Area:
    area = session.get(Area, area_id)
    if area is None:
        raise NotFound(f"No area with id {area_id}")
    return area


def find_by_code(session: Session, code: str, *, at: date | None = None) -> list[Area]:
    """Units with this statistics-office code (several: codes were reused), valid on ``at`` if given."""
    stmt = select(Area).where(Area.code == code.strip())
    if at is not None:
        stmt = stmt.where(_valid_on(at))
    return list(session.scalars(stmt.order_by(Area.valid_to.is_(None).desc(), _level_rank(), Area.id)))


def resolve(session: Session, code_or_id: str) -> list[Area]:
    """``#12`` / ``id:12`` → the area with that id; otherwise every unit with that code (current first)."""
    text = code_or_id.strip()
    for prefix in ("#", "id:"):
        if text.startswith(prefix) and text[len(prefix) :].isdigit():
            area = session.get(Area, int(text[len(prefix) :]))
            return [area] if area else []
    found = find_by_code(session, text)
    if not found and text.isdigit():
        area = session.get(Area, int(text))
        return [area] if area else []
    return found


def children_count(session: Session, area_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Area).where(Area.parent_id == area_id)) or 0


def ancestors(session: Session, area: Area) -> list[Area]:
    """Parent, grandparent, … up to the province."""
    chain: list[Area] = []
    seen = {area.id}
    current = area
    while current.parent_id is not None and current.parent_id not in seen:
        parent = session.get(Area, current.parent_id)
        if parent is None:
            break
        chain.append(parent)
        seen.add(parent.id)
        current = parent
    return chain


def geojson_features(areas: Sequence[Area]) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of areas (those with a geometry) for maps."""
    features = [
        {
            "type": "Feature",
            "id": a.id,
            "geometry": a.geometry,
            "properties": {
                "id": a.id,
                "code": a.code,
                "name": a.name,
                "kind": a.kind,
                "level": a.level,
                "parent_id": a.parent_id,
                "valid_from": a.valid_from.isoformat() if a.valid_from else None,
                "valid_to": a.valid_to.isoformat() if a.valid_to else None,
                "approximate": a.geometry_approximate,
                "geometry_source": a.geometry_source,
            },
        }
        for a in areas
        if a.geometry
    ]
    return {"type": "FeatureCollection", "features": features}
