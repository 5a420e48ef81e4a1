"""Spatial functions of STA ``$filter`` (OGC 18-088 Table 5), evaluated exactly with shapely.

The entity's stored GeoJSON (any geometry type) is tested against the WKT literal; distances and lengths
are planar, in the coordinates' units (degrees), as FROST computes them on a geometry column.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import shapely
from shapely.errors import ShapelyError
from sqlalchemy import (
    BigInteger,
    Float,
    Text,
    and_,
    any_,
    case,
    cast,
    false,
    func,
    literal,
    null,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Session

from cityops.sensing import sqlite_functions
from cityops.sensing.odata import (
    Call,
    Literal,
    Node,
    ODataError,
)
from cityops.sensing.sta_entities import EntityType
from cityops.sensing.sta_values import GeoRef, Val, constant

# Entity properties holding a GeoJSON geometry (OGC 18-088: Location/location, FeatureOfInterest/feature,
# Datastream/observedArea, MultiDatastream/observedArea).
GEOMETRY_PROPS = {
    ("Location", "location"),
    ("FeatureOfInterest", "feature"),
    ("Datastream", "observedArea"),
    ("MultiDatastream", "observedArea"),
}


def geometries(docs: list[str | None]) -> Any:
    """Shapely geometries (a NumPy array) of GeoJSON texts: geometries, Features (their geometry) or
    FeatureCollections; None where the text is missing or not GeoJSON."""
    texts = np.array(docs, dtype=object)
    try:
        return shapely.from_geojson(texts, on_invalid="ignore")
    except (ShapelyError, ValueError, TypeError):
        out = np.empty(len(docs), dtype=object)
        for i, text_ in enumerate(docs):
            try:
                out[i] = shapely.from_geojson(text_, on_invalid="ignore") if text_ is not None else None
            except (ShapelyError, ValueError, TypeError):
                out[i] = None
        return out


def evaluate(fn: Callable[[Any], Any], geoms: Any) -> tuple[Any, Any]:
    """``fn`` over an array of geometries, and which elements failed (GEOS cannot relate some invalid
    stored geometries: those become unknown rather than failing the request)."""
    failed = np.zeros(len(geoms), dtype=bool)
    try:
        return np.asarray(fn(geoms)), failed
    except ShapelyError:
        values = np.empty(len(geoms), dtype=object)
        for i, g in enumerate(geoms):
            try:
                values[i] = fn(g)
            except ShapelyError:
                failed[i] = True
        return values, failed


# Vectorised DE-9IM predicates, and the converse of each with the literal first: GEOS then uses the
# prepared literal (shapely prepares only the first argument).
_PREDICATES: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {
    "geo.intersects": (shapely.intersects, shapely.intersects),
    "st_intersects": (shapely.intersects, shapely.intersects),
    "st_equals": (shapely.equals, shapely.equals),
    "st_disjoint": (shapely.disjoint, shapely.disjoint),
    "st_touches": (shapely.touches, shapely.touches),
    "st_within": (shapely.within, shapely.contains),
    "st_overlaps": (shapely.overlaps, shapely.overlaps),
    "st_crosses": (shapely.crosses, shapely.crosses),
    "st_contains": (shapely.contains, shapely.within),
}

NUMERIC_TESTS: dict[str, Callable[[float, float], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
}

_DE9IM = re.compile(r"[TF*012]{9}")


def _relate_pattern(node: Call) -> str:
    arg = node.args[2] if len(node.args) > 2 else None
    if not isinstance(arg, Literal) or arg.kind != "string" or not _DE9IM.fullmatch(arg.value.upper()):
        raise ODataError("st_relate() needs a DE-9IM pattern string of 9 characters from T F * 0 1 2")
    return str(arg.value).upper()


def implies_bbox(name: str, node: Call) -> bool:
    """Whether the predicate can only hold when the entity's geometry meets the literal's bounding box."""
    if name == "st_disjoint":
        return False
    if name == "st_relate":
        # some interior/boundary intersection (II, IB, BI, BB) must be non-empty
        pattern = _relate_pattern(node)
        return any(pattern[i] in "T012" for i in (0, 1, 3, 4))
    return True


def _bind(args: list[Val], geoms: Any) -> list[Any]:
    """The function's geometry arguments with ``geoms`` (one geometry or an array) for the entity's."""
    return [geoms if a.kind == "geo" else a.geometry for a in args]


def geo_predicate(name: str, args: list[Val], node: Call) -> Callable[[Any], Any]:
    if name == "st_relate":
        pattern = _relate_pattern(node)
        return lambda geoms: shapely.relate_pattern(*_bind(args, geoms), pattern)
    pair = _PREDICATES.get(name)
    if pair is None:
        raise ODataError(f"function {name}() is not supported")
    test, converse = pair
    lit = next((a.geometry for a in args if a.geometry is not None), None)
    if lit is not None:
        shapely.prepare(lit)
    if args[0].kind == "geo" and args[1].kind == "geometry":
        return lambda geoms: converse(args[1].geometry, geoms)
    return lambda geoms: test(*_bind(args, geoms))


_LINEAR = {
    shapely.GeometryType.LINESTRING,
    shapely.GeometryType.LINEARRING,
    shapely.GeometryType.MULTILINESTRING,
}


def _line_length(geoms: Any) -> Any:
    """Length of the linear parts; 0 for points and polygons (PostGIS ST_Length, which FROST uses, does the same)."""
    arr = np.atleast_1d(np.asarray(geoms, dtype=object))
    kinds = shapely.get_type_id(arr)
    out = np.where(np.isin(kinds, [int(k) for k in _LINEAR]), shapely.length(arr), 0.0)
    for i in np.flatnonzero(kinds == int(shapely.GeometryType.GEOMETRYCOLLECTION)):
        out[i] = float(_line_length(shapely.get_parts(arr[i])).sum())
    return out if np.ndim(geoms) else out[0]


def geo_number(name: str, args: list[Val]) -> Callable[[Any], Any]:
    """geo.distance: shortest planar distance; geo.length: planar length of lines — both in the units of the
    coordinates (degrees for WGS 84 GeoJSON), as FROST does on a PostGIS geometry column."""
    if name == "geo.length":
        return lambda geoms: _line_length(_bind(args[:1], geoms)[0])
    return lambda geoms: shapely.distance(*_bind(args, geoms))


class GeoCompiler:
    """The spatial half of :class:`cityops.sensing.sta_filter.Compiler` (its mixin)."""

    pg: bool
    session: Session | None
    keep: list[Any]

    def value(self, node: Node, et: EntityType, alias: Any) -> Val:
        raise NotImplementedError

    # --- geometry ---------------------------------------------------------------------------
    #
    # A spatial function relates an entity's geometry column to a geography'...' literal. It is evaluated
    # exactly with shapely over the rows of that entity's table (points prefiltered in SQL by the literal's
    # bounding box when the predicate implies intersecting it), and the result is put back into SQL as
    # ``entity.id IN (ids)`` (a boolean) or as an id -> number lookup (geo.distance/geo.length), so it
    # composes with and/or/not, arithmetic, $orderby, $count and paging. No PostGIS on either backend.

    def geo_args(self, name: str, node: Call, et: EntityType, alias: Any) -> list[Val]:
        args = [self.value(a, et, alias) for a in node.args[:2]]
        for v in args:
            if v.kind not in {"geo", "geometry"}:
                raise ODataError(
                    f"{name}() needs an entity geometry (location, feature, observedArea) "
                    "or a geography'...' literal"
                )
        for v in args:
            if v.geometry is not None and (v.geometry.is_empty or not v.geometry.is_valid):
                reason = "it is empty" if v.geometry.is_empty else shapely.is_valid_reason(v.geometry)
                raise ODataError(f"{name}(): the geometry literal is not valid ({reason})")
        if len(args) == 2 and args[0].kind == args[1].kind == "geo":
            raise ODataError(
                f"{name}() compares an entity geometry with a geography'...' literal, not two entities"
            )
        return args

    def geo(self, node: Call, et: EntityType, alias: Any) -> Val:
        name = node.name
        args = self.geo_args(name, node, et, alias)
        ref = next((a.geo_ref for a in args if a.geo_ref is not None), None)
        if name in {"geo.distance", "geo.length"}:
            number = geo_number(name, args)
            if ref is None:
                return constant(float(number(None)), "number")
            ids, values, _unknown = self.scan(ref, number, window=None)
            return Val(self._lookup(ref.id_sql, dict(zip(ids, values, strict=True))), "number")
        pred = geo_predicate(name, args, node)
        if ref is None:
            return constant(bool(pred(None)), "bool")
        lit = next(a.geometry for a in args if a.geometry is not None)
        window = lit.bounds if implies_bbox(name, node) else None
        ids, values, unknown = self.scan(ref, pred, window)
        return Val(
            self._membership(ref.id_sql, [i for i, v in zip(ids, values, strict=True) if v], unknown), "bool"
        )

    def geo_compare(self, op: str, call: Call, other: Val, flipped: bool, et: EntityType, alias: Any) -> Val:
        """``geo.distance(...)``/``geo.length(...)`` compared with a number literal: the ids that satisfy it."""
        args = self.geo_args(call.name, call, et, alias)
        number = geo_number(call.name, args)
        bound = float(other.literal_value)
        if flipped:  # 5 gt geo.distance(...) is geo.distance(...) lt 5
            op = {"gt": "lt", "ge": "le", "lt": "gt", "le": "ge"}.get(op, op)
        test = NUMERIC_TESTS[op]
        ref = next((a.geo_ref for a in args if a.geo_ref is not None), None)
        if ref is None:
            return constant(test(float(number(None)), bound), "bool")
        window = None
        lit = next((a.geometry for a in args if a.geometry is not None), None)
        if call.name == "geo.distance" and op in {"lt", "le", "eq"} and lit is not None and bound >= 0:
            minx, miny, maxx, maxy = lit.bounds
            window = (minx - bound, miny - bound, maxx + bound, maxy + bound)
        ids, values, unknown = self.scan(ref, number, window)
        hits = [i for i, v in zip(ids, values, strict=True) if test(v, bound)]
        return Val(self._membership(ref.id_sql, hits, unknown), "bool")

    def scan(
        self, ref: GeoRef, fn: Callable[[Any], Any], window: tuple[float, float, float, float] | None
    ) -> tuple[list[int], list[Any], list[int]]:
        """``fn`` over the rows' geometries, vectorised: (ids, values) of the rows evaluated, and the ids
        whose geometry is missing or invalid. With a ``window``, rows whose bounding box misses it are
        skipped (the caller's predicate is false for them)."""
        if self.session is None:
            raise ODataError("spatial functions need a database session")
        model = ref.model
        col = getattr(model, ref.attr)
        stmt = select(model.id, cast(col, Text))  # GEOS parses the GeoJSON text itself
        if window is not None and hasattr(model, "lat"):
            minx, miny, maxx, maxy = window
            kind = func.coalesce(col[("geometry", "type")].as_string(), col["type"].as_string())
            stmt = stmt.where(
                or_(
                    model.lat.is_(None),
                    model.lon.is_(None),
                    kind.is_(None),
                    kind != "Point",  # only a point is exactly its (lon, lat) columns
                    and_(model.lon >= minx, model.lon <= maxx, model.lat >= miny, model.lat <= maxy),
                )
            )
        rows = self.session.execute(stmt).all()
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        geoms = geometries([r[1] for r in rows])
        known = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        unknown = [int(i) for i in ids[~known]]
        chosen = known
        if window is not None:
            bounds = shapely.bounds(geoms)
            with np.errstate(invalid="ignore"):  # NaN bounds of missing geometries
                chosen = known & (
                    (bounds[:, 0] <= window[2])
                    & (bounds[:, 2] >= window[0])
                    & (bounds[:, 1] <= window[3])
                    & (bounds[:, 3] >= window[1])
                )
        values, failed = evaluate(fn, geoms[chosen])
        chosen_ids = ids[chosen]
        unknown += [int(i) for i in chosen_ids[failed]]
        ok = ~failed
        return [int(i) for i in chosen_ids[ok]], list(values[ok].tolist()), unknown

    def in_ids(self, id_sql: Any, ids: list[int]) -> Any:
        """``id_sql IN ids`` with the ids bound as one parameter (an array, or a JSON array on SQLite)."""
        if not ids:
            return false()
        if self.pg:
            return id_sql == any_(literal(sorted(ids), ARRAY(BigInteger)))
        table = func.json_each(literal(json.dumps(sorted(ids)))).table_valued("value")
        return id_sql.in_(select(table.c.value))

    def _membership(self, id_sql: Any, ids: list[int], unknown: list[int]) -> Any:
        """``id_sql IN ids``; NULL (unknown, as OData gives for a null operand) where the geometry is missing."""
        hit = self.in_ids(id_sql, ids)
        if not unknown:
            return hit
        return case((self.in_ids(id_sql, unknown), null()), else_=hit)

    def _lookup(self, id_sql: Any, values: dict[int, Any]) -> Any:
        """SQL reading ``values[id]`` (NULL when absent): on PostgreSQL from one JSONB object bound as a
        parameter (folded to a constant once per query), on SQLite from a published map (see
        :mod:`cityops.sensing.sqlite_functions`) the compiler keeps alive."""
        finite = {k: float(v) for k, v in values.items() if v is not None and math.isfinite(v)}
        if self.pg:
            doc = json.dumps({str(k): v for k, v in finite.items()})
            return cast(cast(literal(doc), JSONB).op("->>")(cast(id_sql, Text)), Float)
        token, mapping = sqlite_functions.publish(finite)
        self.keep.append(mapping)
        return func.cityops_map_number(literal(token), id_sql, type_=Float)

    # --- ordering -------------------------------------------------------------------------
