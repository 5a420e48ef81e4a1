"""Importing official boundaries from GeoJSON, replacing the approximate cells (all-or-nothing).

The coordinates may be in any CRS pyproj knows; it is taken from ``--crs`` or else from the file's (legacy,
RFC 7946 removed it but Vietnamese GIS exports still write it) ``crs`` member, e.g.
``{"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::9210"}}``; with neither, WGS 84 lon/lat.

VN-2000, the national datum, is accepted in every form EPSG defines (checked against pyproj's database):

* geographic: EPSG:4756 (VN-2000);
* UTM: EPSG:3405 (zone 48N), EPSG:3406 (zone 49N);
* provincial TM-3 zones (:data:`VN2000_TM3_EPSG`): EPSG:5896 (zone 481), 5897 (zone 482), 5898 (zone 491),
  5899 (107-45), 9205 (103-00), 9206 (104-00), 9207 (104-30), 9208 (104-45), 9209 (105-30: Tây Ninh),
  9210 (105-45: Long An, Hồ Chí Minh City), 9211 (106-00), 9212 (106-15), 9213 (106-30), 9214 (107-00),
  9215 (107-15), 9216 (107-30), 9217 (108-15), 9218 (108-30).

Every feature is checked before anything changes: a polygon or multipolygon, finite after reprojection, valid
(shapely), inside Vietnam's extent (a wrong CRS usually lands elsewhere), and matched to exactly one area by
code or name; two features may not claim the same area. One failure → :class:`BoundaryImportError` listing
every problem, and the database is untouched.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.areas.cells import to_geojson
from cityops.areas.models import Area
from cityops.text import nfc, search_key

VN2000_GEOGRAPHIC_EPSG = 4756
VN2000_UTM_EPSG = (3405, 3406)
VN2000_TM3_EPSG = (5896, 5897, 5898, 5899, *range(9205, 9219))
"""EPSG codes of the VN-2000 TM-3 (3° transverse Mercator, k=0.9999) provincial zones."""

# Generous extent of Vietnam (incl. the islands) in WGS 84, to catch a wrong CRS.
VIETNAM_EXTENT = (101.0, 7.0, 118.0, 24.0)

CODE_PROPERTIES = ("code", "ma", "ma_xa", "maxa", "ma_dvhc", "madvhc", "ward_code", "wardcode", "admin_code")
NAME_PROPERTIES = ("name", "ten", "ten_xa", "tenxa", "ten_dvhc", "tendvhc", "ward", "ward_name", "wardname")

MAX_PROBLEMS = 50


class BoundaryImportError(ValueError):
    """The file cannot be imported; ``problems`` lists every reason (nothing was changed)."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []

    def __str__(self) -> str:
        lines = [self.args[0], *(f"  - {p}" for p in self.problems[:MAX_PROBLEMS])]
        if len(self.problems) > MAX_PROBLEMS:
            lines.append(f"  … and {len(self.problems) - MAX_PROBLEMS} more")
        return "\n".join(lines)


@dataclass
class ImportResult:
    crs: str
    source: str
    updated: list[tuple[int, str, str]] = field(default_factory=list)  # (area id, code, name)
    unmatched: list[str] = field(default_factory=list)  # feature labels skipped (skip_unmatched)
    parents_updated: int = 0


def declared_crs(data: Mapping[str, Any]) -> str | None:
    """The CRS a GeoJSON object declares in its ``crs`` member (named or the 2008 ``EPSG`` form), if any."""
    member = data.get("crs")
    if not isinstance(member, Mapping):
        return None
    props = member.get("properties")
    if not isinstance(props, Mapping):
        return None
    if member.get("type") == "name" and isinstance(props.get("name"), str):
        return str(props["name"])
    if member.get("type") == "EPSG" and props.get("code") is not None:
        return f"EPSG:{props['code']}"
    return None


def make_transformer(crs_text: str) -> tuple[CRS, Transformer | None]:
    """A transformer from ``crs_text`` to WGS 84 lon/lat (None when it already is)."""
    try:
        crs = CRS.from_user_input(crs_text)
    except CRSError as exc:
        raise BoundaryImportError(f"Unknown coordinate reference system {crs_text!r}: {exc}") from None
    wgs84 = CRS.from_epsg(4326)
    if crs == wgs84 or crs.to_string() in {"OGC:CRS84", "EPSG:4326"}:
        return crs, None
    return crs, Transformer.from_crs(crs, wgs84, always_xy=True)


def _reproject(geom: BaseGeometry, transformer: Transformer | None) -> BaseGeometry:
    if transformer is None:
        return geom

    result: BaseGeometry = shapely.transform(geom, transformer.transform, interleaved=False)
    return result


def _label(index: int, props: Mapping[str, Any]) -> str:
    bits = [f"feature {index}"]
    code = _property(props, CODE_PROPERTIES)
    name = _property(props, NAME_PROPERTIES)
    if code is not None:
        bits.append(f"code {code}")
    if name is not None:
        bits.append(repr(name))
    return " ".join(bits)


def _property(props: Mapping[str, Any], names: tuple[str, ...]) -> str | None:
    lowered = {str(k).lower(): v for k, v in props.items()}
    for name in names:
        value = lowered.get(name)
        if value is not None and str(value).strip():
            return nfc(str(value))
    return None


def _same_code(a: str, b: str) -> bool:
    return a.strip().lstrip("0") == b.strip().lstrip("0")


def read_features(
    data: Any, *, crs: str | None = None
) -> tuple[str, list[tuple[str, dict[str, Any], BaseGeometry]]]:
    """Parse and check a GeoJSON object: (CRS used, [(label, properties, WGS 84 geometry)])."""
    if not isinstance(data, Mapping) or data.get("type") not in {"FeatureCollection", "Feature"}:
        raise BoundaryImportError("Expected a GeoJSON FeatureCollection (or a single Feature)")
    raw = [data] if data["type"] == "Feature" else data.get("features")
    if not isinstance(raw, list) or not raw:
        raise BoundaryImportError("The FeatureCollection has no features")
    crs_text = crs or declared_crs(data) or "OGC:CRS84"
    _crs, transformer = make_transformer(crs_text)
    problems: list[str] = []
    out: list[tuple[str, dict[str, Any], BaseGeometry]] = []
    for index, feature in enumerate(raw):
        props = feature.get("properties") if isinstance(feature, Mapping) else None
        props = dict(props) if isinstance(props, Mapping) else {}
        label = _label(index, props)
        geometry = feature.get("geometry") if isinstance(feature, Mapping) else None
        if not isinstance(geometry, Mapping) or geometry.get("type") not in {"Polygon", "MultiPolygon"}:
            problems.append(f"{label}: geometry must be a Polygon or MultiPolygon")
            continue
        try:
            geom = shape(geometry)
        except Exception as exc:  # shapely raises several types for malformed coordinates
            problems.append(f"{label}: malformed coordinates ({exc})")
            continue
        if geom.is_empty:
            problems.append(f"{label}: empty geometry")
            continue
        geom = _reproject(geom, transformer)
        bounds = geom.bounds
        if not all(math.isfinite(v) for v in bounds):
            problems.append(f"{label}: coordinates cannot be transformed from {crs_text}")
            continue
        if not geom.is_valid:
            problems.append(f"{label}: invalid geometry ({shapely.is_valid_reason(geom)})")
            continue
        lon0, lat0, lon1, lat1 = VIETNAM_EXTENT
        if bounds[0] < lon0 or bounds[2] > lon1 or bounds[1] < lat0 or bounds[3] > lat1:
            problems.append(
                f"{label}: lies outside Vietnam after reading it as {crs_text} "
                f"(bounds {tuple(round(v, 4) for v in bounds)}); wrong CRS? use --crs"
            )
            continue
        out.append((label, props, geom))
    if problems:
        raise BoundaryImportError("The file was not imported; nothing was changed:", problems)
    return crs_text, out


def import_boundaries(
    session: Session,
    data: Any,
    *,
    source: str,
    crs: str | None = None,
    match: str = "code",
    at: date | None = None,
    level: str | None = None,
    skip_unmatched: bool = False,
) -> ImportResult:
    """Replace the geometry of the areas the features match (valid on ``at``, default today).

    Flushes but does not commit. Raises :class:`BoundaryImportError` (and changes nothing) on any problem.
    """
    from cityops.areas.service import _valid_on, today

    if match not in {"code", "name"}:
        raise BoundaryImportError(f"--match must be 'code' or 'name', not {match!r}")
    crs_text, features = read_features(data, crs=crs)
    stmt = select(Area).where(_valid_on(at or today()))
    if level:
        stmt = stmt.where(Area.level == level)
    candidates = list(session.scalars(stmt))

    problems: list[str] = []
    unmatched: list[str] = []
    claims: dict[int, str] = {}
    plan: list[tuple[Area, BaseGeometry]] = []
    for label, props, geom in features:
        if match == "code":
            value = _property(props, CODE_PROPERTIES)
            if value is None:
                problems.append(f"{label}: no code property (one of {', '.join(CODE_PROPERTIES)})")
                continue
            hits = [a for a in candidates if _same_code(a.code, value)]
        else:
            value = _property(props, NAME_PROPERTIES)
            if value is None:
                problems.append(f"{label}: no name property (one of {', '.join(NAME_PROPERTIES)})")
                continue
            key = search_key(value)
            hits = [a for a in candidates if a.name_key == key]
            if not hits:  # "Long An" for "Phường Long An"
                hits = [a for a in candidates if a.name_key.endswith(" " + key) and a.level == "commune"]
        if not hits:
            if skip_unmatched:
                unmatched.append(label)
            else:
                problems.append(f"{label}: matches no area valid on {(at or today()).isoformat()}")
            continue
        if len(hits) > 1:
            names = ", ".join(f"{a.name} (#{a.id}, {a.level})" for a in hits)
            problems.append(f"{label}: matches several areas ({names}); use --level or --match code")
            continue
        area = hits[0]
        if area.id in claims:
            problems.append(f"{label}: {area.name} (#{area.id}) is already given by {claims[area.id]}")
            continue
        claims[area.id] = label
        plan.append((area, geom))
    if problems:
        raise BoundaryImportError("The file was not imported; nothing was changed:", problems)

    result = ImportResult(crs=crs_text, source=source, unmatched=unmatched)
    for area, geom in plan:
        area.geometry = to_geojson(geom)
        area.geometry_approximate = False
        area.geometry_source = source[:64]
        result.updated.append((area.id, area.code, area.name))
    result.parents_updated = _refresh_parents(session, {a.parent_id for a, _ in plan if a.parent_id})
    session.flush()
    from cityops.areas.lookup import invalidate_cache
    from cityops.plugins import plugin_manager

    invalidate_cache()
    plugin_manager().hook.areas_changed(session=session)  # places re-resolve their areas (areas import none)
    return result


def _refresh_parents(session: Session, parent_ids: set[int]) -> int:
    """Recompute approximate parents as the union of their children (exact once every child is official)."""
    done = 0
    seen: set[int] = set()
    while parent_ids:
        pid = parent_ids.pop()
        if pid in seen:
            continue
        seen.add(pid)
        parent = session.get(Area, pid)
        if parent is None or parent.geometry_approximate is False:
            continue
        children = list(
            session.scalars(select(Area).where(Area.parent_id == pid, Area.geometry.is_not(None)))
        )
        shapes = [shape(c.geometry) for c in children if c.geometry]
        if not shapes:
            continue
        parent.geometry = to_geojson(shapely.make_valid(shapely.union_all(shapes)))
        exact = all(c.geometry_approximate is False for c in children)
        parent.geometry_source = (
            "union of official children" if exact else "union of children (part approximate)"
        )
        parent.geometry_approximate = not exact
        done += 1
        if parent.parent_id:
            parent_ids.add(parent.parent_id)
    return done


def load_file(path: Path) -> Any:
    """Read a GeoJSON file, with a clear error for unreadable or non-JSON content."""
    try:
        with path.open("rb") as fh:
            return json.load(fh)
    except OSError as exc:
        raise BoundaryImportError(f"Cannot read {path}: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BoundaryImportError(f"{path} is not valid JSON: {exc}") from None
