"""Compile OData ``$filter``/``$orderby`` ASTs to SQLAlchemy, run collection queries and render entities.

Paths through to-one navigation properties become correlated scalar subqueries; a comparison that goes
through a to-many navigation property becomes ``EXISTS`` (any related entity matches), as FROST does.
Geometry functions are evaluated on each entity's representative point (``lat``/``lon`` columns) against a
WKT literal, in plain SQL on both backends: point-in-polygon is an even-odd ray-casting sum over the
literal's edges, and ``geo.distance`` is planar distance in degrees (as FROST on a geometry column).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import Any
from urllib.parse import quote, urlencode

from shapely.geometry import MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Numeric,
    String,
    and_,
    case,
    cast,
    exists,
    extract,
    false,
    func,
    literal,
    literal_column,
    not_,
    null,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session, aliased

from cityops.db import UTCDateTime
from cityops.sensing.odata import (
    BinOp,
    Call,
    ExpandItem,
    Literal,
    Node,
    ODataError,
    OrderItem,
    Path,
    QueryOptions,
    Unary,
)
from cityops.sensing.sta_entities import ENTITIES, EntityType, Nav, Prop

DEFAULT_TOP = 100
KEEP_NULL = {"result", "resultTime"}
MAX_TOP = 10000
MIN_DT = datetime(1, 1, 1, tzinfo=UTC)
MAX_DT = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


@dataclass
class Val:
    """A compiled expression and what it holds."""

    sql: Any
    kind: str  # number | string | bool | datetime | date | time | json | geo | null | duration | geometry
    point: tuple[Any, Any] | None = None  # (lon, lat) columns for geo
    geometry: BaseGeometry | None = None  # for a geography literal
    literal_value: Any = None
    is_literal: bool = False
    json_cast: Callable[[str], Any] | None = None  # for JSON members: "as_float" -> typed SQL
    alt_text: Any = None  # Observation/result: the non-numeric result as text

    def as_json(self, how: str) -> Any:
        """A JSON member read as a number/string/boolean (``how``: as_float, as_string, as_boolean)."""
        assert self.json_cast is not None
        return self.json_cast(how)


class Compiler:
    def __init__(self, dialect: str) -> None:
        self.pg = dialect == "postgresql"

    # --- boolean level: handles to-many navigation with EXISTS -------------------------------

    def condition(self, node: Node, et: EntityType, alias: Any) -> ColumnElement[bool]:
        if isinstance(node, BinOp) and node.op in {"and", "or"}:
            left = self.condition(node.left, et, alias)
            right = self.condition(node.right, et, alias)
            return and_(left, right) if node.op == "and" else or_(left, right)
        if isinstance(node, Unary) and node.op == "not":
            return not_(self.condition(node.operand, et, alias))
        paths = _paths(node)
        nav_first = {p.segments[0] for p in paths if p.segments[0] in et.navs}
        crossing = [p for p in paths if p.segments[0] in et.navs and self._has_many(p, et)]
        if crossing:
            if len(nav_first) != 1 or any(p.segments[0] not in et.navs for p in paths):
                raise ODataError(
                    "a condition through a to-many navigation property must only use paths of that property"
                )
            nav = et.navs[next(iter(nav_first))]
            target = ENTITIES[nav.target]
            t_alias = aliased(target.model)
            inner = self.condition(_strip(node, nav.name), target, t_alias)
            return exists(select(t_alias.id).where(nav.condition(alias, t_alias), inner))
        val = self.value(node, et, alias)
        if val.kind == "json":
            return val.as_json("as_boolean") == true()  # type: ignore[no-any-return]
        if val.kind not in {"bool"}:
            raise ODataError("$filter must be a boolean expression")
        result: ColumnElement[bool] = val.sql
        return result

    def _has_many(self, path: Path, et: EntityType) -> bool:
        cur = et
        for seg in path.segments:
            nav = cur.navs.get(seg)
            if nav is None:
                return False
            if nav.many:
                return True
            cur = ENTITIES[nav.target]
        return False

    # --- values ---------------------------------------------------------------------------

    def value(self, node: Node, et: EntityType, alias: Any) -> Val:
        if isinstance(node, Literal):
            return self.literal(node)
        if isinstance(node, Path):
            return self.path(node.segments, et, alias)
        if isinstance(node, Unary):
            if node.op == "neg":
                v = self.value(node.operand, et, alias)
                if v.is_literal and v.kind == "number":
                    return _lit(-v.literal_value, "number")
                if v.is_literal and v.kind == "duration":
                    return _lit(-v.literal_value, "duration")
                return Val(-self.num(v), "number")
            return Val(not_(self.condition(node.operand, et, alias)), "bool")
        if isinstance(node, BinOp):
            return self.binop(node, et, alias)
        return self.call(node, et, alias)

    def literal(self, node: Literal) -> Val:
        if node.kind == "geography":
            return Val(None, "geometry", geometry=node.value, literal_value=node.value, is_literal=True)
        if node.kind == "interval":
            return _lit(node.value[0], "datetime")
        return _lit(node.value, node.kind)

    def path(self, segments: tuple[str, ...], et: EntityType, alias: Any) -> Val:
        head, rest = segments[0], segments[1:]
        if head == "@iot.id":
            head = "id"
        nav = et.navs.get(head)
        if nav is not None:
            if nav.many:
                raise ODataError(f"{head} is a collection; compare its members in a separate condition")
            if not rest:
                raise ODataError(f"{head} is an entity; name one of its properties ({head}/id)")
            target = ENTITIES[nav.target]
            t_alias = aliased(target.model)
            inner = self.path(rest, target, t_alias)
            if inner.kind == "geo":
                raise ODataError("geometry of a related entity cannot be used in $filter")
            cond = nav.condition(alias, t_alias)
            if inner.kind == "json":
                inner_cast = inner.json_cast
                assert inner_cast is not None

                def cast_json(how: str) -> Any:
                    return select(inner_cast(how)).where(cond).limit(1).scalar_subquery()

                return Val(None, "json", json_cast=cast_json)
            sub = select(inner.sql).where(cond).limit(1).scalar_subquery()
            return Val(sub, inner.kind)
        prop = et.props.get(head)
        if prop is None or prop.attr is None:
            raise ODataError(f"{et.name} has no property {head!r}")
        col = et.column(prop, alias)
        if et.name == "Observation" and head == "result":
            # numeric results live in result_number; others (strings, booleans) in result_json
            json_text = (
                alias.result_json.op("#>>")(literal_column("'{}'::text[]"))
                if self.pg
                else func.json_extract(alias.result_json, "$")
            )
            return Val(col, "number", alt_text=json_text)
        if prop.kind == "geo":
            if rest:
                raise ODataError(f"{head} has no sub-properties in $filter")
            return Val(None, "geo", point=(alias.lon, alias.lat))
        if prop.kind in {"json", "any"}:
            if not rest:
                raise ODataError(f"{head} is an object; name a member ({head}/name)")
            member = col[tuple(int(r) if r.isdigit() else r for r in rest)] if len(rest) > 1 else col[rest[0]]
            return Val(member, "json", json_cast=lambda how: getattr(member, how)())
        if rest:
            raise ODataError(f"{head} has no sub-property {'/'.join(rest)!r}")
        return Val(col, prop.kind)

    # --- operators ------------------------------------------------------------------------

    def binop(self, node: BinOp, et: EntityType, alias: Any) -> Val:
        left = self.value(node.left, et, alias)
        right = self.value(node.right, et, alias)
        op = node.op
        if op in {"add", "sub", "mul", "div", "mod"}:
            return self.arith(op, left, right)
        return Val(self.compare(op, left, right), "bool")

    def arith(self, op: str, left: Val, right: Val) -> Val:
        if left.kind == "datetime" or right.kind == "duration":
            if left.is_literal and right.is_literal and right.kind == "duration" and op in {"add", "sub"}:
                lv = left.literal_value
                value = lv + right.literal_value if op == "add" else lv - right.literal_value
                return _lit(value, "datetime")
            if left.kind == "datetime" and right.kind == "datetime" and op == "sub":
                raise ODataError("subtracting date-times is not supported; compare them instead")
            if right.is_literal and right.kind == "duration" and op in {"add", "sub"}:
                seconds = right.literal_value.total_seconds() * (1 if op == "add" else -1)
                if self.pg:
                    return Val(left.sql + func.make_interval(0, 0, 0, 0, 0, 0, seconds), "datetime")
                return Val(
                    func.strftime("%Y-%m-%d %H:%M:%f000", left.sql, f"{seconds:+f} seconds"), "datetime"
                )
            raise ODataError(f"cannot {op} these operands")
        if left.is_literal and right.is_literal and left.kind == right.kind == "number":
            a, b = left.literal_value, right.literal_value
            try:
                value = {
                    "add": lambda: a + b,
                    "sub": lambda: a - b,
                    "mul": lambda: a * b,
                    "div": lambda: a / b if isinstance(a, float) or isinstance(b, float) else a // b,
                    "mod": lambda: a % b,
                }[op]()
            except ZeroDivisionError as exc:
                raise ODataError("division by zero") from exc
            return _lit(value, "number")
        a_sql, b_sql = self.num(left), self.num(right)
        if op == "add":
            return Val(a_sql + b_sql, "number")
        if op == "sub":
            return Val(a_sql - b_sql, "number")
        if op == "mul":
            return Val(a_sql * b_sql, "number")
        if op == "div":
            return Val(a_sql / func.nullif(b_sql, 0), "number")
        return Val(a_sql % func.nullif(b_sql, 0), "number")

    def num(self, v: Val) -> Any:
        if v.kind == "json":
            return v.as_json("as_float")
        if v.kind == "number":
            return v.sql
        if v.kind == "null":
            return null()
        raise ODataError(f"expected a number, got a {v.kind}")

    def compare(self, op: str, left: Val, right: Val) -> ColumnElement[bool]:
        if left.kind == "geo" or right.kind in {"geo", "geometry"} or left.kind == "geometry":
            raise ODataError("geometries can only be used in geo.* and st_* functions")
        if right.kind == "null" or left.kind == "null":
            other = left if right.kind == "null" else right
            if other.kind == "json":
                other = Val(other.as_json("as_string"), "string")
            if op == "eq":
                return other.sql.is_(None)  # type: ignore[no-any-return]
            if op == "ne":
                return other.sql.is_not(None)  # type: ignore[no-any-return]
            raise ODataError(f"null can only be compared with eq or ne, not {op}")
        a, b = self._coerce(left, right), self._coerce(right, left)
        ops = {
            "eq": lambda: a == b,
            "ne": lambda: a != b,
            "gt": lambda: a > b,
            "ge": lambda: a >= b,
            "lt": lambda: a < b,
            "le": lambda: a <= b,
        }
        result: ColumnElement[bool] = ops[op]()
        return result

    def _coerce(self, v: Val, other: Val) -> Any:
        """SQL for ``v`` typed to compare with ``other`` (JSON members take the other side's type)."""
        if v.kind == "json":
            if other.kind == "number":
                return v.as_json("as_float")
            if other.kind == "bool":
                return v.as_json("as_boolean")
            return v.as_json("as_string")
        if v.is_literal:
            if v.kind == "datetime":
                if other.kind == "json":
                    return literal(_iso_z(v.literal_value))
                return literal(v.literal_value, UTCDateTime())
            if v.kind == "date":
                if other.kind == "datetime":
                    return literal(datetime.combine(v.literal_value, time(0), tzinfo=UTC), UTCDateTime())
                return literal(v.literal_value.isoformat())
            if v.kind == "time":
                return literal(v.literal_value.isoformat())
            if v.kind == "duration":
                raise ODataError("a duration can only be added to or subtracted from a date-time")
            if v.kind == "number" and other.kind == "datetime":
                raise ODataError("cannot compare a number with a date-time")
            if v.kind == "string" and other.kind == "datetime":
                raise ODataError("cannot compare a string with a date-time; write the time unquoted")
            if v.kind == "number":
                return literal(v.literal_value)
            return literal(v.literal_value)
        if v.kind == "number" and other.kind == "string" and other.is_literal:
            if v.alt_text is not None:
                return v.alt_text
            raise ODataError("cannot compare a number with a string")
        return v.sql

    # --- functions --------------------------------------------------------------------------

    def call(self, node: Call, et: EntityType, alias: Any) -> Val:
        name = node.name
        if name in {"now", "mindatetime", "maxdatetime"}:
            value = {"now": datetime.now(UTC), "mindatetime": MIN_DT, "maxdatetime": MAX_DT}[name]
            return _lit(value, "datetime")
        if name.startswith(("geo.", "st_")):
            return self.geo(name, [self.value(a, et, alias) for a in node.args])
        args = [self.value(a, et, alias) for a in node.args]
        if name in {"substringof", "contains", "startswith", "endswith"}:
            if name == "substringof":
                needle, hay = self.text(args[0]), self.text(args[1])
            else:
                hay, needle = self.text(args[0]), self.text(args[1])
            if name in {"substringof", "contains"}:
                pos = func.strpos(hay, needle) if self.pg else func.instr(hay, needle)
                return Val(pos > 0, "bool")
            if name == "startswith":
                return Val(func.substr(hay, 1, func.length(needle)) == needle, "bool")
            return Val(
                and_(
                    func.length(hay) >= func.length(needle),
                    func.substr(hay, func.length(hay) - func.length(needle) + 1) == needle,
                ),
                "bool",
            )
        if name == "length":
            return Val(func.length(self.text(args[0])), "number")
        if name == "indexof":
            hay, needle = self.text(args[0]), self.text(args[1])
            pos = func.strpos(hay, needle) if self.pg else func.instr(hay, needle)
            return Val(pos - 1, "number")
        if name == "substring":
            s = self.text(args[0])
            start = self.num(args[1]) + 1
            if len(args) == 3:
                return Val(func.substr(s, start, self.num(args[2])), "string")
            return Val(func.substr(s, start), "string")
        if name == "tolower":
            lower = func.lower if self.pg else func.cityops_lower  # Unicode-aware on SQLite too
            return Val(lower(self.text(args[0])), "string")
        if name == "toupper":
            upper = func.upper if self.pg else func.cityops_upper
            return Val(upper(self.text(args[0])), "string")
        if name == "trim":
            return Val(func.trim(self.text(args[0])), "string")
        if name == "concat":
            return Val(self.text(args[0]).concat(self.text(args[1])), "string")
        if name in {"year", "month", "day", "hour", "minute", "second"}:
            dt = self.datetime_sql(args[0])
            part = extract(name, dt)
            return Val(cast(func.floor(part) if self.pg else part, Integer), "number")
        if name == "fractionalseconds":
            dt = self.datetime_sql(args[0])
            if self.pg:
                sec = extract("second", dt)
                return Val(sec - func.floor(sec), "number")
            return Val(cast(func.strftime("%f", dt), Float) - cast(func.strftime("%S", dt), Float), "number")
        if name == "date":
            dt = self.datetime_sql(args[0])
            return Val(cast(cast(dt, self._date_type()), String) if self.pg else func.date(dt), "date")
        if name == "time":
            dt = self.datetime_sql(args[0])
            if self.pg:
                return Val(func.to_char(dt, "HH24:MI:SS"), "time")
            return Val(func.strftime("%H:%M:%S", dt), "time")
        if name == "totaloffsetminutes":
            self.datetime_sql(args[0])
            return _lit(0, "number")  # every stored time is UTC
        if name == "round":
            x = self.num(args[0])
            return Val(func.round(cast(x, Numeric)) if self.pg else func.round(x), "number")
        if name == "floor":
            return Val(func.floor(self.num(args[0])), "number")
        if name == "ceiling":
            return Val(func.ceil(self.num(args[0])) if self.pg else func.ceiling(self.num(args[0])), "number")
        raise ODataError(f"function {name}() is not supported")

    def _date_type(self) -> Any:
        from sqlalchemy import Date

        return Date()

    def text(self, v: Val) -> Any:
        if v.kind == "json":
            return v.as_json("as_string")
        if v.kind in {"string", "date", "time"}:
            return (
                v.sql
                if not v.is_literal
                else literal(v.literal_value if v.kind == "string" else str(v.literal_value))
            )
        raise ODataError(f"expected a string, got a {v.kind}")

    def datetime_sql(self, v: Val) -> Any:
        if v.kind != "datetime":
            raise ODataError(f"expected a date-time, got a {v.kind}")
        if v.is_literal:
            return literal(v.literal_value, UTCDateTime())
        return v.sql

    def geo(self, name: str, args: list[Val]) -> Val:
        if name == "geo.length":
            raise ODataError("geo.length() needs line geometries; entities are located by points here")
        if name == "st_relate":
            raise ODataError("st_relate() is not supported")
        a, b = args[0], args[1]
        if a.kind == "geo" and b.kind == "geometry":
            point, geom, swapped = a.point, b.geometry, False
        elif b.kind == "geo" and a.kind == "geometry":
            point, geom, swapped = b.point, a.geometry, True
        else:
            raise ODataError(
                f"{name}() needs an entity geometry (location, feature) and a geography'...' literal"
            )
        assert point is not None
        assert geom is not None
        lon, lat = point
        if name == "geo.distance":
            return Val(_distance_sql(lon, lat, geom), "number")
        inside = _contains_point_sql(lon, lat, geom)
        known = and_(lon.is_not(None), lat.is_not(None))
        if name in {"geo.intersects", "st_intersects"}:
            return Val(and_(known, inside), "bool")
        if name == "st_disjoint":
            return Val(and_(known, not_(inside)), "bool")
        if name == "st_within":
            # point within polygon; a polygon is never within a point
            return Val(
                and_(known, inside) if not swapped else and_(known, _point_equals(lon, lat, geom)), "bool"
            )
        if name == "st_contains":
            return Val(and_(known, inside) if swapped else and_(known, _point_equals(lon, lat, geom)), "bool")
        if name == "st_equals":
            return Val(and_(known, _point_equals(lon, lat, geom)), "bool")
        if name in {"st_touches", "st_overlaps", "st_crosses"}:
            return Val(false(), "bool")  # a point never touches, overlaps or crosses in the DE-9IM sense
        raise ODataError(f"function {name}() is not supported")

    # --- ordering -------------------------------------------------------------------------

    def order(self, items: list[OrderItem], et: EntityType, alias: Any) -> list[Any]:
        out = []
        for item in items:
            v = self.value(item.expr, et, alias)
            if v.kind in {"geo", "geometry"}:
                raise ODataError("cannot order by a geometry")
            sql = v.as_json("as_string") if v.kind == "json" else v.sql
            if v.is_literal:
                continue
            out.append(sql.desc() if item.descending else sql.asc())
        return out


def _iso_z(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _lit(value: Any, kind: str) -> Val:
    sql: Any
    if kind == "bool":
        sql = true() if value else false()
    elif kind == "null":
        sql = null()
    elif kind == "datetime":
        sql = literal(value, UTCDateTime())
    elif kind in {"duration", "date", "time"}:
        sql = None
    else:
        sql = literal(value)
    return Val(sql, kind, literal_value=value, is_literal=True)


def _paths(node: Node) -> list[Path]:
    if isinstance(node, Path):
        return [node]
    if isinstance(node, BinOp):
        return _paths(node.left) + _paths(node.right)
    if isinstance(node, Unary):
        return _paths(node.operand)
    if isinstance(node, Call):
        return [p for a in node.args for p in _paths(a)]
    return []


def _strip(node: Node, head: str) -> Node:
    if isinstance(node, Path):
        return Path(node.segments[1:]) if node.segments[0] == head else node
    if isinstance(node, BinOp):
        return BinOp(node.op, _strip(node.left, head), _strip(node.right, head))
    if isinstance(node, Unary):
        return Unary(node.op, _strip(node.operand, head))
    if isinstance(node, Call):
        return Call(node.name, tuple(_strip(a, head) for a in node.args))
    return node


def _distance_sql(lon: Any, lat: Any, geom: BaseGeometry) -> Any:
    if not isinstance(geom, Point):
        raise ODataError("geo.distance() needs a POINT literal")
    return func.sqrt((lon - geom.x) * (lon - geom.x) + (lat - geom.y) * (lat - geom.y))


def _point_equals(lon: Any, lat: Any, geom: BaseGeometry) -> Any:
    if isinstance(geom, Point):
        return and_(lon == geom.x, lat == geom.y)
    return false()


def _rings(geom: BaseGeometry) -> list[list[tuple[float, float]]]:
    polys = list(geom.geoms) if isinstance(geom, MultiPolygon) else [geom]
    rings = []
    for poly in polys:
        if not isinstance(poly, Polygon):
            raise ODataError("spatial predicates need a POLYGON, MULTIPOLYGON or POINT literal")
        rings.append([(float(x), float(y)) for x, y, *_ in poly.exterior.coords])
        for hole in poly.interiors:
            rings.append([(float(x), float(y)) for x, y, *_ in hole.coords])
    return rings


def _contains_point_sql(lon: Any, lat: Any, geom: BaseGeometry) -> Any:
    """Even-odd ray casting as SQL arithmetic over the literal's edges (works on any backend)."""
    if isinstance(geom, Point):
        return _point_equals(lon, lat, geom)
    edges = []
    for ring in _rings(geom):
        for (x1, y1), (x2, y2) in itertools.pairwise(ring):
            if y1 == y2:
                continue
            lo, hi = (y1, y2) if y1 < y2 else (y2, y1)
            slope = (x2 - x1) / (y2 - y1)
            offset = x1 - slope * y1
            edges.append(case((and_(lat >= lo, lat < hi, lon < lat * slope + offset), 1), else_=0))
    if not edges:
        return false()
    if len(edges) > 2000:
        raise ODataError("the polygon literal has too many vertices (at most 2000)")
    total: Any = edges[0]
    for e in edges[1:]:
        total = total + e
    minx, miny, maxx, maxy = geom.bounds
    bbox = and_(lon >= minx, lon <= maxx, lat >= miny, lat <= maxy)
    return and_(bbox, total % 2 == 1)


# --- running queries and rendering ----------------------------------------------------------


@dataclass
class Context:
    session: Session
    base: str  # service root URL, e.g. http://host/sta/v1.1
    loaded: list[Any] = field(default_factory=list)
    # (id(expand item), parent id) -> (rows, more, count): to-many expands loaded for a whole page
    many: dict[tuple[int, int], tuple[list[Any], bool, int]] = field(default_factory=dict)

    @property
    def compiler(self) -> Compiler:
        return Compiler(self.session.get_bind().dialect.name)

    def self_link(self, et: EntityType, ident: int) -> str:
        return f"{self.base}/{et.set_name}({ident})"


def apply_options(ctx: Context, et: EntityType, stmt: Any, alias: Any, opts: QueryOptions) -> tuple[Any, Any]:
    """(filtered statement, count statement) before ordering/paging."""
    comp = ctx.compiler
    if opts.filter is not None:
        stmt = stmt.where(comp.condition(opts.filter, et, alias))
    count_stmt = select(func.count()).select_from(stmt.with_only_columns(alias.id).subquery())
    return stmt, count_stmt


def page(ctx: Context, et: EntityType, stmt: Any, alias: Any, opts: QueryOptions) -> tuple[list[Any], bool]:
    """Rows of one page and whether more follow."""
    comp = ctx.compiler
    order = comp.order(opts.orderby, et, alias)
    top = DEFAULT_TOP if opts.top is None else opts.top
    top = min(top, MAX_TOP)
    stmt = stmt.order_by(*order, alias.id.asc()).offset(opts.skip).limit(top + 1)
    rows = list(ctx.session.execute(stmt).scalars())
    more = len(rows) > top
    return rows[:top], more


def next_link(url_path: str, params: dict[str, str], opts: QueryOptions, count: int) -> str:
    top = DEFAULT_TOP if opts.top is None else min(opts.top, MAX_TOP)
    new = {k: v for k, v in params.items() if k not in {"$skip", "$top"}}
    new["$top"] = str(top)
    new["$skip"] = str(opts.skip + count)
    return url_path + "?" + urlencode(new, quote_via=quote, safe="$(),'/:")


SELECT_EXTRA = {"id", "@iot.id", "@iot.selfLink"}


def check_select(et: EntityType, opts: QueryOptions) -> None:
    for name in opts.select or ():
        if name not in et.props and name not in et.navs and name not in SELECT_EXTRA:
            raise ODataError(f"$select: {et.name} has no property {name!r}")


def render(ctx: Context, et: EntityType, row: Any, opts: QueryOptions) -> dict[str, Any]:
    check_select(et, opts)
    selected = set(opts.select) if opts.select else None
    out: dict[str, Any] = {}
    link = ctx.self_link(et, row.id)
    if selected is None or "id" in selected or "@iot.id" in selected:
        out["@iot.id"] = row.id
    if selected is None or "@iot.selfLink" in selected:
        out["@iot.selfLink"] = link
    for name, prop in et.props.items():
        if name == "id":
            continue
        if selected is None or name in selected:
            value = prop.get(row)
            # As FROST: optional properties without a value are left out, except where the
            # standard makes them mandatory-but-nullable (Observation/resultTime, result).
            if value is None and name not in KEEP_NULL:
                continue
            out[name] = value
    expanded = {item.path[0] for item in opts.expand}
    for name, nav in et.navs.items():
        if name in expanded:
            continue
        if selected is None or name in selected:
            if nav.fk is not None and getattr(row, nav.fk) is None:
                continue
            out[f"{name}@iot.navigationLink"] = f"{link}/{name}"
    for item in opts.expand:
        _expand(ctx, et, row, item, out, link)
    return out


def _expand(ctx: Context, et: EntityType, row: Any, item: ExpandItem, out: dict[str, Any], link: str) -> None:
    name = item.path[0]
    nav = et.navs.get(name)
    if nav is None:
        raise ODataError(f"{et.name} has no navigation property {name!r} to expand")
    target = ENTITIES[nav.target]
    alias = aliased(target.model)
    outer = aliased(et.model)
    base = select(alias).where(
        exists(select(outer.id).where(outer.id == row.id, nav.condition(outer, alias)))
    )
    if nav.fk is not None:
        fk = getattr(row, nav.fk)
        if fk is None:
            return
        if item.options.filter is None:
            # to-one without a filter: from the identity map, filled by prefetch() for whole pages
            child = ctx.session.get(target.model, fk)
            if child is not None:
                out[name] = render(ctx, target, child, item.options)
            return
        base = select(alias).where(alias.id == fk)
    stmt, count_stmt = apply_options(ctx, target, base, alias, item.options)
    if not nav.many:
        child = ctx.session.execute(stmt.limit(1)).scalars().first()
        if child is not None:
            out[name] = render(ctx, target, child, item.options)
        return
    cached = ctx.many.get((id(item), row.id))
    if cached is not None:
        rows, more, total = cached
    else:
        rows, more = page(ctx, target, stmt, alias, item.options)
        total = ctx.session.execute(count_stmt).scalar_one() if item.options.count else 0
    if item.options.count:
        out[f"{name}@iot.count"] = total
    out[name] = [render(ctx, target, r, item.options) for r in rows]
    if more:
        out[f"{name}@iot.nextLink"] = next_link(f"{link}/{name}", item.options.raw, item.options, len(rows))


def prefetch(ctx: Context, et: EntityType, rows: list[Any], expand: list[ExpandItem]) -> None:
    """Load what a page expands with one query per navigation property (no N+1).

    To-one: the related entities by id. To-many: each parent's page of children with
    ``row_number() OVER (PARTITION BY parent ...)``, honouring the expand's $filter, $orderby, $skip,
    $top (and $count with one grouped count).
    """
    for item in expand:
        nav = et.navs.get(item.path[0])
        if nav is not None and nav.many and rows:
            _prefetch_many(ctx, et, rows, nav, item)
            continue
        if nav is None or nav.fk is None or item.options.filter is not None:
            continue
        ids = {getattr(r, nav.fk) for r in rows} - {None}
        if not ids:
            continue
        target = ENTITIES[nav.target]
        children = list(ctx.session.execute(select(target.model).where(target.model.id.in_(ids))).scalars())
        ctx.loaded.extend(children)  # the identity map is weak: keep them for the page's rendering
        prefetch(ctx, target, children, item.options.expand)


def _prefetch_many(ctx: Context, et: EntityType, rows: list[Any], nav: Nav, item: ExpandItem) -> None:
    target = ENTITIES[nav.target]
    opts = item.options
    comp = ctx.compiler
    parent = aliased(et.model)
    child = aliased(target.model)
    parent_ids = sorted({r.id for r in rows})
    conds = [parent.id.in_(parent_ids), nav.condition(parent, child)]
    if opts.filter is not None:
        conds.append(comp.condition(opts.filter, target, child))
    order = [*comp.order(opts.orderby, target, child), child.id.asc()]
    top = min(DEFAULT_TOP if opts.top is None else opts.top, MAX_TOP)
    rank = func.row_number().over(partition_by=parent.id, order_by=order).label("rn")
    inner = select(child, parent.id.label("pid"), rank).where(*conds).subquery()
    ranked = aliased(target.model, inner)
    stmt = (
        select(ranked, inner.c.pid)
        .where(inner.c.rn > opts.skip, inner.c.rn <= opts.skip + top + 1)
        .order_by(inner.c.pid, inner.c.rn)
    )
    grouped: dict[int, list[Any]] = {pid: [] for pid in parent_ids}
    for obj, pid in ctx.session.execute(stmt).all():
        grouped[pid].append(obj)
    counts: dict[int, int] = {}
    if opts.count:
        count_stmt = select(parent.id, func.count(child.id)).where(*conds).group_by(parent.id)
        counts = {pid: n for pid, n in ctx.session.execute(count_stmt).all()}
    children: list[Any] = []
    for pid, items in grouped.items():
        page_rows = items[:top]
        ctx.many[(id(item), pid)] = (page_rows, len(items) > top, counts.get(pid, 0))
        children.extend(page_rows)
    ctx.loaded.extend(children)
    if children:
        prefetch(ctx, target, children, opts.expand)


def nav_statement(nav: Nav, parent_et: EntityType, parent_id: int) -> tuple[EntityType, Any, Any]:
    """select(target) of the entities reached from parent ``parent_id`` through ``nav``."""
    target = ENTITIES[nav.target]
    alias = aliased(target.model)
    outer = aliased(parent_et.model)
    stmt = select(alias).where(
        exists(select(outer.id).where(outer.id == parent_id, nav.condition(outer, alias)))
    )
    return target, stmt, alias


def prop_by_name(et: EntityType, name: str) -> Prop | None:
    return et.props.get(name)


def is_finite(value: Any) -> bool:
    return not (isinstance(value, float) and not math.isfinite(value))
