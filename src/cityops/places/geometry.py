"""A place's geometry: checked with shapely, reprojected to WGS 84, and summarised for queries.

Points, lines and polygons (and their Multi* forms) in WGS 84 lon/lat; on import, any CRS the area importer
accepts (VN-2000 geographic, UTM and the provincial TM-3 zones: :mod:`cityops.areas.boundaries`) is
reprojected the same way, and a result outside Vietnam is refused (a wrong CRS usually lands elsewhere).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from cityops.areas.boundaries import VIETNAM_EXTENT, BoundaryImportError, make_transformer
from cityops.areas.cells import to_geojson

KINDS = ("Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon")


class GeometryError(ValueError):
    """The geometry cannot be stored; the message says why."""


@dataclass(frozen=True, slots=True)
class PlaceGeometry:
    """A checked WGS 84 geometry and what the places table stores about it."""

    geojson: dict[str, Any]
    kind: str
    lat: float
    lon: float
    bbox: tuple[float, float, float, float]  # min_lon, min_lat, max_lon, max_lat

    def columns(self) -> dict[str, Any]:
        min_lon, min_lat, max_lon, max_lat = self.bbox
        return {
            "geometry": self.geojson,
            "geometry_kind": self.kind,
            "lat": self.lat,
            "lon": self.lon,
            "min_lon": min_lon,
            "min_lat": min_lat,
            "max_lon": max_lon,
            "max_lat": max_lat,
        }


def parse_geometry(value: Any, *, allowed: Sequence[str] = KINDS, crs: str | None = None) -> PlaceGeometry:
    """Check a GeoJSON geometry (in ``crs``, default WGS 84) and summarise it; GeometryError says why not."""
    if not isinstance(value, Mapping) or value.get("type") not in KINDS:
        raise GeometryError(f"must be a GeoJSON geometry: one of {', '.join(KINDS)}")
    kind = str(value["type"])
    if kind not in allowed:
        raise GeometryError(f"must be a {' or '.join(allowed)} for this place type, not a {kind}")
    try:
        geom = shape(value)
    except Exception as exc:  # shapely raises several types for malformed coordinates
        raise GeometryError(f"has malformed coordinates ({exc})") from None
    if geom.is_empty:
        raise GeometryError("is empty")
    if crs is not None:
        try:
            _crs, transformer = make_transformer(crs)
        except BoundaryImportError as exc:
            raise GeometryError(str(exc)) from None
        if transformer is not None:
            geom = shapely.transform(geom, transformer.transform, interleaved=False)
    bounds = geom.bounds
    if not all(math.isfinite(v) for v in bounds):
        raise GeometryError("has coordinates that are not finite numbers")
    if crs is None and not (-180 <= bounds[0] <= bounds[2] <= 180 and -90 <= bounds[1] <= bounds[3] <= 90):
        raise GeometryError("is not WGS 84 lon/lat (longitude first, within ±180 and ±90)")
    if not geom.is_valid:
        raise GeometryError(f"is not valid ({shapely.is_valid_reason(geom)})")
    lon0, lat0, lon1, lat1 = VIETNAM_EXTENT
    if crs is not None and (bounds[0] < lon0 or bounds[2] > lon1 or bounds[1] < lat0 or bounds[3] > lat1):
        raise GeometryError(f"lies outside Vietnam when read as {crs}; wrong CRS?")
    point = _anchor(geom)
    return PlaceGeometry(
        geojson=to_geojson(geom),
        kind=kind,
        lat=round(point.y, 7),
        lon=round(point.x, 7),
        bbox=(bounds[0], bounds[1], bounds[2], bounds[3]),
    )


def _anchor(geom: BaseGeometry) -> Any:
    """The centroid when it lies on the geometry, else a point guaranteed on it (a bent river, a U shape)."""
    centroid = geom.centroid
    if geom.geom_type == "Point" or geom.intersects(centroid):
        return centroid
    return geom.representative_point()


def point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lon, lat]}
