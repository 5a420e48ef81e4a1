"""Approximate area geometry, built offline because no licensed 2025 ward polygons exist.

How the cells are made (all in WGS 84 degrees, which is good enough at this scale and keeps it simple):

1. **Province outline** — the union of the geocoder bounding boxes of every legacy commune of the provinces that
   formed the current one (old Long An + old Tây Ninh), kept inside the union of the legacy provinces' own boxes,
   then *closed* (buffered out and back in by ~2 km) to fill the gaps between boxes and smooth the staircase
   edge. It is a rough hull: it overshoots the real border in places (into Hồ Chí Minh City, Cambodia) and
   undershoots in others. It is **approximate** and flagged so.
2. **Commune cells** — a Voronoi diagram of the communes' representative points (nearest-centroid cells),
   clipped to the outline. Current wards use their 2025 points; legacy communes use their own points, so a point
   lookup for a date before 1 July 2025 answers with the unit of that time.
   Neighbouring provinces' communes (from the same dataset, same period) take part in the diagram without getting
   a cell, so where the rough outline overshoots, the border falls halfway between their communes and ours.
3. **Districts and provinces** — the union of their children's cells.

Every such geometry is stored with ``geometry_approximate=True`` and ``geometry_source="approximate-voronoi"``
until ``cityops areas import`` replaces it with an official boundary.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

import shapely
from shapely.geometry import MultiPoint, box, mapping, shape
from shapely.geometry.base import BaseGeometry

from cityops.areas.sources import COMMUNE, ProvinceDataset, SourceUnit, neighbour_points, province_dataset

APPROXIMATE_SOURCE = "approximate-voronoi"
PRECISION = 1e-6  # degrees (~0.1 m): coordinates are snapped to this grid before storage
_CLOSE = 0.02  # degrees (~2 km): closing radius that fills gaps between bounding boxes
_SIMPLIFY = 0.001  # degrees (~100 m)
_NEIGHBOUR_MARGIN = 0.3  # degrees: neighbours' communes this far beyond the outline's box shape the border
_SEED_NUDGE = 1e-4  # degrees (~10 m): separates communes that share a representative point in the source


def to_geojson(geom: BaseGeometry) -> dict[str, Any]:
    """A GeoJSON geometry dict (lists, not tuples) snapped to :data:`PRECISION`, so it round-trips unchanged."""
    snapped = shapely.set_precision(geom, PRECISION)
    data: dict[str, Any] = _listify(mapping(snapped))
    return data


def _listify(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _listify(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_listify(v) for v in value]
    return value


def from_geojson(data: Mapping[str, Any]) -> BaseGeometry:
    return shape(data)


def province_outline(dataset: ProvinceDataset) -> BaseGeometry:
    """The approximate outline of the current province (see the module doc)."""
    legacy = [u for u in dataset.units if u.valid_to is not None]
    commune_boxes = [box(*u.bounds) for u in legacy if u.level == COMMUNE and u.bounds]
    province_boxes = [box(*u.bounds) for u in legacy if u.level == "province" and u.bounds]
    outline = shapely.union_all(commune_boxes)
    if province_boxes:
        outline = outline.intersection(shapely.union_all(province_boxes))
    outline = outline.buffer(_CLOSE, join_style="round").buffer(-_CLOSE, join_style="round")
    # Every commune point must fall inside, whatever the boxes say.
    points = [shapely.Point(u.lon, u.lat) for u in dataset.units if u.level == COMMUNE and u.lon and u.lat]
    outline = outline.union(shapely.union_all([p.buffer(0.005) for p in points]))
    return shapely.make_valid(outline.simplify(_SIMPLIFY))


def voronoi_cells(
    seeds: Iterable[SourceUnit],
    outline: BaseGeometry,
    foreign: Iterable[tuple[float, float]] = (),
) -> dict[str, BaseGeometry]:
    """Nearest-point cells of ``seeds`` clipped to ``outline``, keyed by unit key.

    ``foreign`` points (neighbouring provinces' communes) take part in the diagram but get no cell, so the border
    with a neighbour follows the line halfway between its communes and ours instead of the rough outline.
    """
    keys: list[str] = []
    coords: list[tuple[float, float]] = []
    used: set[tuple[float, float]] = set()
    for unit in seeds:
        if unit.lon is None or unit.lat is None:
            continue
        point = (unit.lon, unit.lat)
        while point in used:  # the source gives two communes the same point: keep the cells apart
            point = (point[0] + _SEED_NUDGE, point[1] + _SEED_NUDGE)
        used.add(point)
        keys.append(unit.key)
        coords.append(point)
    if not coords:
        return {}
    others = [p for p in dict.fromkeys(foreign) if p not in used]
    if len(coords) + len(others) == 1:
        return {keys[0]: outline}
    envelope = box(*outline.bounds).buffer(1.0)
    polygons = shapely.voronoi_polygons(MultiPoint(coords + others), extend_to=envelope, ordered=True)
    cells: dict[str, BaseGeometry] = {}
    for key, polygon in zip(
        keys, polygons.geoms, strict=False
    ):  # the foreign cells come last and are dropped
        cells[key] = shapely.make_valid(polygon.intersection(outline))
    return cells


@cache
def approximate_geometries(province_key: str) -> dict[str, dict[str, Any]]:
    """GeoJSON geometry per unit key of :func:`province_dataset` (computed once per process)."""
    dataset = province_dataset(province_key)
    outline = province_outline(dataset)
    shapes: dict[str, BaseGeometry] = {}
    search = tuple(round(v, 6) for v in box(*outline.bounds).buffer(_NEIGHBOUR_MARGIN).bounds)
    for current in (True, False):
        communes = dataset.by_level(COMMUNE, current=current)
        foreign = neighbour_points(province_key, search, current=current)
        shapes.update(voronoi_cells(communes, outline, foreign))
    # Parents bottom-up: districts, then provinces.
    for level in ("district", "province"):
        for unit in (u for u in dataset.units if u.level == level):
            children = [shapes[c.key] for c in dataset.units if c.parent_key == unit.key and c.key in shapes]
            if children:
                shapes[unit.key] = shapely.union_all(children)
    return {key: to_geojson(geom) for key, geom in shapes.items()}
