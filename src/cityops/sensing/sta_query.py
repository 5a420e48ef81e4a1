"""Compile OData ``$filter``/``$orderby`` ASTs to SQLAlchemy, run collection queries and render entities.

Paths through to-one navigation properties become correlated scalar subqueries; a comparison that goes
through a to-many navigation property becomes ``EXISTS`` (any related entity matches), as FROST does.
Spatial functions (OGC 18-088 Table 5) are evaluated exactly with shapely over the entity's stored GeoJSON
(any geometry type) against the WKT literal, and put back into SQL as ``id IN (ids)`` or an id -> number
lookup, so the same code serves SQLite and PostgreSQL without PostGIS; distances and lengths are planar,
in the coordinates' units (degrees), as FROST computes them on a geometry column. Durations in SQL are
seconds (a number); date-time ± duration and date-time − date-time follow OData.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import Any
from urllib.parse import quote, urlencode

import numpy as np
import shapely
from shapely.errors import ShapelyError
from shapely.geometry.base import BaseGeometry
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Float,
    Integer,
    Numeric,
    String,
    Text,
    and_,
    any_,
    case,
    cast,
    exists,
    extract,
    false,
    func,
    inspect,
    literal,
    literal_column,
    not_,
    null,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Session, aliased

from cityops.db import UTCDateTime
from cityops.sensing import sqlite_functions
from cityops.sensing.models import Datastream
from cityops.sensing.odata import (
    BinOp,
    Call,
    ExpandItem,
    ListExpr,
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


@dataclass(frozen=True)
class GeoRef:
    """An entity geometry column reached from the filtered entity: its table, column and the entity's id in SQL."""

    model: type[Any]
    attr: str
    id_sql: Any
    direct: bool  # id_sql is the filtered entity's own id (no navigation)


@dataclass
class Val:
    """A compiled expression and what it holds."""

    sql: Any
    kind: str  # number | string | bool | datetime | date | time | json | geo | null | duration | geometry
    geo_ref: GeoRef | None = None  # for an entity geometry (kind geo)
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
    def __init__(self, dialect: str, session: Session | None = None) -> None:
        self.pg = dialect == "postgresql"
        self.session = session  # spatial functions read the geometries through it
        self.keep: list[Any] = []  # objects the compiled SQL refers to (see _lookup)

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
                if v.kind == "duration":
                    return Val(-v.sql, "duration")
                return Val(-self.num(v), "number")
            return Val(not_(self.condition(node.operand, et, alias)), "bool")
        if isinstance(node, BinOp):
            return self.binop(node, et, alias)
        if isinstance(node, ListExpr):
            raise ODataError("a parenthesised list can only follow 'in'")
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
            cond = nav.condition(alias, t_alias)
            if inner.kind == "geo":
                assert inner.geo_ref is not None
                ref = inner.geo_ref
                if ref.direct and nav.fk is not None:
                    id_sql = getattr(alias, nav.fk)
                else:
                    id_sql = select(ref.id_sql).where(cond).limit(1).scalar_subquery()
                return Val(None, "geo", geo_ref=GeoRef(ref.model, ref.attr, id_sql, direct=False))
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
        if prop.kind == "geo" or ((et.name, head) in GEOMETRY_PROPS and not rest):
            if rest:
                raise ODataError(f"{head} has no sub-properties in $filter")
            return Val(None, "geo", geo_ref=GeoRef(et.model, prop.attr, alias.id, direct=True))
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
        op = node.op
        if op == "in":
            if not isinstance(node.right, ListExpr):
                raise ODataError("'in' needs a parenthesised list such as (1, 2)")
            left = self.value(node.left, et, alias)
            return Val(self.in_list(left, [self.value(i, et, alias) for i in node.right.items]), "bool")
        if op in _NUMERIC_TESTS:
            # geo.distance(...)/geo.length(...) against a number: evaluated exactly, becomes id IN (...)
            for call, other_node, flipped in ((node.left, node.right, False), (node.right, node.left, True)):
                if isinstance(call, Call) and call.name in {"geo.distance", "geo.length"}:
                    other = self.value(other_node, et, alias)
                    if other.is_literal and other.kind == "number":
                        return self.geo_compare(op, call, other, flipped, et, alias)
        left = self.value(node.left, et, alias)
        right = self.value(node.right, et, alias)
        if op in {"add", "sub", "mul", "div", "mod"}:
            return self.arith(op, left, right)
        return Val(self.compare(op, left, right), "bool")

    def in_list(self, left: Val, items: list[Val]) -> ColumnElement[bool]:
        """``left in (items)``: one SQL IN per kind of literal (a null item matches a null value)."""
        if any(not i.is_literal for i in items):
            raise ODataError("the list after 'in' must hold literals")
        if left.kind in {"geo", "geometry"}:
            raise ODataError("geometries can only be used in geo.* and st_* functions")
        parts: list[ColumnElement[bool]] = []
        by_kind: dict[str, list[Val]] = {}
        for item in items:
            by_kind.setdefault(item.kind, []).append(item)
        for kind, group in by_kind.items():
            if kind == "null":
                parts.append(self.compare("eq", left, group[0]))
                continue
            lhs = self._coerce(left, group[0])
            parts.append(lhs.in_([self._coerce(i, left) for i in group]))
        return parts[0] if len(parts) == 1 else or_(*parts)

    def arith(self, op: str, left: Val, right: Val) -> Val:
        if {left.kind, right.kind} & {"datetime", "duration", "date"}:
            return self.temporal(op, left, right)
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
        # mod of real numbers, with the dividend's sign (SQLite's % truncates to integers, PostgreSQL has
        # no % for double precision)
        if self.pg:
            return Val(func.mod(cast(a_sql, Numeric), cast(func.nullif(b_sql, 0), Numeric)), "number")
        return Val(func.cityops_mod(a_sql, b_sql, type_=Float), "number")

    def temporal(self, op: str, left: Val, right: Val) -> Val:
        """Date-time and duration arithmetic as OData defines it (a duration in SQL is a number of seconds)."""
        lk, rk = left.kind, right.kind
        if (
            op not in {"add", "sub"}
            or lk not in {"datetime", "duration"}
            or rk not in {"datetime", "duration"}
        ):
            raise ODataError(
                f"{op} is not defined for a {lk} and a {rk} (date-time ± duration, "
                "date-time sub date-time, duration ± duration)"
            )
        if lk == "duration" and rk == "datetime" and op == "sub":
            raise ODataError("cannot subtract a date-time from a duration")
        sign = 1 if op == "add" else -1
        if left.is_literal and right.is_literal:
            a, b = left.literal_value, right.literal_value
            try:
                value = a + b if op == "add" else a - b
            except OverflowError as exc:
                raise ODataError("date-time arithmetic out of range") from exc
            return _lit(value, "datetime" if "datetime" in {lk, rk} and lk != rk else "duration")
        if lk == rk == "datetime":
            return Val(self._seconds_between(left, right), "duration")
        if lk == rk == "duration":
            a_sql, b_sql = self._seconds(left), self._seconds(right)
            return Val(a_sql + b_sql if op == "add" else a_sql - b_sql, "duration")
        dt, dur = (left, right) if lk == "datetime" else (right, left)
        return Val(self._shift(dt, self._seconds(dur), sign), "datetime")

    def _seconds(self, v: Val) -> Any:
        if v.is_literal:
            return literal(v.literal_value.total_seconds(), Float)
        return v.sql

    def _seconds_between(self, a: Val, b: Val) -> Any:
        a_sql, b_sql = self.datetime_sql(a), self.datetime_sql(b)
        if self.pg:
            return extract("epoch", a_sql - b_sql)
        # julianday is a double of days: round to the millisecond SQLite keeps in date arithmetic
        return func.round((func.julianday(a_sql) - func.julianday(b_sql)) * 86_400_000.0) / 1000.0

    def _shift(self, dt: Val, seconds: Any, sign: int) -> Any:
        dt_sql = self.datetime_sql(dt)
        if sign < 0:
            seconds = -seconds
        if self.pg:
            return dt_sql + func.make_interval(0, 0, 0, 0, 0, 0, seconds)
        # same text layout as stored date-times, so comparisons with columns stay exact
        return func.strftime("%Y-%m-%d %H:%M:%f000", dt_sql, func.printf("%+.3f seconds", seconds))

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
        if (left.kind == "duration") != (right.kind == "duration") and "null" not in {left.kind, right.kind}:
            raise ODataError("a duration can only be compared with a duration")
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
                return literal(_time_text(v.literal_value))
            if v.kind == "duration":
                return literal(v.literal_value.total_seconds(), Float)
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
            return self.geo(node, et, alias)
        if name == "totaloffsetminutes" and isinstance(node.args[0], Literal):
            if node.args[0].kind != "datetime":
                raise ODataError(f"expected a date-time, got a {node.args[0].kind}")
            return _lit(node.args[0].offset_minutes, "number")
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
            # 1-based, 0 when absent: OGC 18-088 Table 23 (indexof(description,'Sensor') eq 1 on
            # 'Sensor Things'), as FROST and the conformance suites read it, unlike OData's 0-based.
            hay, needle = self.text(args[0]), self.text(args[1])
            return Val(func.strpos(hay, needle) if self.pg else func.instr(hay, needle), "number")
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
            dt = self.utc_parts(args[0])
            part = extract(name, dt)
            return Val(cast(func.floor(part) if self.pg else part, Integer), "number")
        if name == "fractionalseconds":
            dt = self.utc_parts(args[0])
            if self.pg:
                sec = extract("second", dt)
                return Val(sec - func.floor(sec), "number")
            return Val(cast(func.strftime("%f", dt), Float) - cast(func.strftime("%S", dt), Float), "number")
        if name == "date":
            dt = self.utc_parts(args[0])
            return Val(cast(cast(dt, self._date_type()), String) if self.pg else func.date(dt), "date")
        if name == "time":
            dt = self.utc_parts(args[0])
            # HH:MM:SS.ffffff on both sides of a comparison (SQLite's %f keeps milliseconds)
            if self.pg:
                return Val(func.to_char(dt, "HH24:MI:SS.US"), "time")
            return Val(func.strftime("%H:%M:%f", dt).concat("000"), "time")
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
                else literal(
                    v.literal_value
                    if v.kind == "string"
                    else _time_text(v.literal_value)
                    if v.kind == "time"
                    else str(v.literal_value)
                )
            )
        raise ODataError(f"expected a string, got a {v.kind}")

    def utc_parts(self, v: Val) -> Any:
        """The date-time as the backend reads its parts in UTC (PostgreSQL would use the session time zone)."""
        dt = self.datetime_sql(v)
        return func.timezone("UTC", dt) if self.pg else dt

    def datetime_sql(self, v: Val) -> Any:
        if v.kind != "datetime":
            raise ODataError(f"expected a date-time, got a {v.kind}")
        if v.is_literal:
            return literal(v.literal_value, UTCDateTime())
        return v.sql

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
            number = _geo_number(name, args)
            if ref is None:
                return _lit(float(number(None)), "number")
            ids, values, _unknown = self.scan(ref, number, window=None)
            return Val(self._lookup(ref.id_sql, dict(zip(ids, values, strict=True))), "number")
        pred = _geo_predicate(name, args, node)
        if ref is None:
            return _lit(bool(pred(None)), "bool")
        lit = next(a.geometry for a in args if a.geometry is not None)
        window = lit.bounds if _implies_bbox(name, node) else None
        ids, values, unknown = self.scan(ref, pred, window)
        return Val(
            self._membership(ref.id_sql, [i for i, v in zip(ids, values, strict=True) if v], unknown), "bool"
        )

    def geo_compare(self, op: str, call: Call, other: Val, flipped: bool, et: EntityType, alias: Any) -> Val:
        """``geo.distance(...)``/``geo.length(...)`` compared with a number literal: the ids that satisfy it."""
        args = self.geo_args(call.name, call, et, alias)
        number = _geo_number(call.name, args)
        bound = float(other.literal_value)
        if flipped:  # 5 gt geo.distance(...) is geo.distance(...) lt 5
            op = {"gt": "lt", "ge": "le", "lt": "gt", "le": "ge"}.get(op, op)
        test = _NUMERIC_TESTS[op]
        ref = next((a.geo_ref for a in args if a.geo_ref is not None), None)
        if ref is None:
            return _lit(test(float(number(None)), bound), "bool")
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
        geoms = _geometries([r[1] for r in rows])
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
        values, failed = _apply(fn, geoms[chosen])
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


def _time_text(value: time) -> str:
    return value.isoformat(timespec="microseconds")


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
    if isinstance(node, ListExpr):
        return [p for a in node.items for p in _paths(a)]
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
    if isinstance(node, ListExpr):
        return ListExpr(tuple(_strip(a, head) for a in node.items))
    return node


# Entity properties holding a GeoJSON geometry (OGC 18-088: Location/location, FeatureOfInterest/feature,
# Datastream/observedArea, MultiDatastream/observedArea).
GEOMETRY_PROPS = {
    ("Location", "location"),
    ("FeatureOfInterest", "feature"),
    ("Datastream", "observedArea"),
    ("MultiDatastream", "observedArea"),
}


def _geometries(docs: list[str | None]) -> Any:
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


def _apply(fn: Callable[[Any], Any], geoms: Any) -> tuple[Any, Any]:
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

_NUMERIC_TESTS: dict[str, Callable[[float, float], bool]] = {
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


def _implies_bbox(name: str, node: Call) -> bool:
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


def _geo_predicate(name: str, args: list[Val], node: Call) -> Callable[[Any], Any]:
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


def _geo_number(name: str, args: list[Val]) -> Callable[[Any], Any]:
    """geo.distance: shortest planar distance; geo.length: planar length of lines — both in the units of the
    coordinates (degrees for WGS 84 GeoJSON), as FROST does on a PostGIS geometry column."""
    if name == "geo.length":
        return lambda geoms: _line_length(_bind(args[:1], geoms)[0])
    return lambda geoms: shapely.distance(*_bind(args, geoms))


# --- running queries and rendering ----------------------------------------------------------


@dataclass
class Context:
    session: Session
    base: str  # service root URL, e.g. http://host/sta/v1.1
    loaded: list[Any] = field(default_factory=list)
    # (id(expand item), parent id) -> (rows, more, count): to-many expands loaded for a whole page
    many: dict[tuple[int, int], tuple[list[Any], bool, int]] = field(default_factory=dict)

    _compiler: Compiler | None = None

    @property
    def compiler(self) -> Compiler:
        """One compiler per context: what it publishes for SQLite lookups lives as long as the request."""
        if self._compiler is None:
            self._compiler = Compiler(self.session.get_bind().dialect.name, self.session)
        return self._compiler

    def self_link(self, et: EntityType, ident: int) -> str:
        return f"{self.base}/{et.set_name}({ident})"


def apply_options(ctx: Context, et: EntityType, stmt: Any, alias: Any, opts: QueryOptions) -> tuple[Any, Any]:
    """(filtered statement, count statement) before ordering/paging."""
    comp = ctx.compiler
    if opts.filter is not None:
        stmt = stmt.where(comp.condition(opts.filter, et, alias))
        if not comp.pg and et.name == "Observation" and _bounds_phenomenon_time(opts.filter):
            froms = stmt.get_final_froms()
            if len(froms) == 1 and froms[0] is inspect(alias).selectable:  # the Observations collection
                return stmt, _count_per_datastream(stmt, alias)
    count_stmt = select(func.count()).select_from(stmt.with_only_columns(alias.id).subquery())
    return stmt, count_stmt


_TIME_BOUNDS = {"ge", "gt", "le", "lt", "eq"}


def _bounds_phenomenon_time(node: Node) -> bool:
    """Whether a filter, as a conjunction, compares ``phenomenonTime`` with a date-time literal."""
    if isinstance(node, BinOp) and node.op == "and":
        return _bounds_phenomenon_time(node.left) or _bounds_phenomenon_time(node.right)
    if not isinstance(node, BinOp) or node.op not in _TIME_BOUNDS:
        return False
    sides = (node.left, node.right)
    return any(isinstance(s, Path) and s.segments == ("phenomenonTime",) for s in sides) and any(
        isinstance(s, Literal) and s.kind == "datetime" for s in sides
    )


def _count_per_datastream(stmt: Any, alias: Any) -> Any:
    """The count of a filtered Observations statement as a sum over datastreams (SQLite).

    SQLite has no index leading with the time: counting a time window over the whole table scans every
    row (10^7: seconds), where one range of the ``(datastream_id, phenomenon_time)`` unique index per
    datastream reads only the window (a few probes for datastreams without observations). Observations of
    MultiDatastreams (no datastream) are a range of the same index under NULL. Every datastream id refers
    to an existing datastream (foreign keys are on), so the two parts count every row once.
    """
    ds = Datastream.__table__
    per_datastream = (
        stmt.with_only_columns(func.count())
        .where(alias.datastream_id == ds.c.id)
        .correlate(ds)
        .scalar_subquery()
    )
    unowned = stmt.with_only_columns(func.count()).where(alias.datastream_id.is_(None)).scalar_subquery()
    owned = select(func.coalesce(func.sum(per_datastream), 0)).select_from(ds).scalar_subquery()
    return select(owned + unowned)


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
    child = aliased(target.model)
    parent_ids = sorted({r.id for r in rows})
    # The parent id comes from the child's foreign key or the link table, joined explicitly (no cartesian
    # product with a parent alias).
    if nav.link is not None:
        table, ours, theirs = nav.link
        pid: Any = table.c[ours]
        source: Any = select().select_from(table).join(child, child.id == table.c[theirs])
    else:
        assert nav.back_fk is not None
        pid = getattr(child, nav.back_fk)
        source = select().select_from(child)
    conds = [pid.in_(parent_ids)]
    if opts.filter is not None:
        conds.append(comp.condition(opts.filter, target, child))
    order = [*comp.order(opts.orderby, target, child), child.id.asc()]
    top = min(DEFAULT_TOP if opts.top is None else opts.top, MAX_TOP)
    rank = func.row_number().over(partition_by=pid, order_by=order).label("rn")
    inner = source.add_columns(child, pid.label("pid"), rank).where(*conds).subquery()
    ranked = aliased(target.model, inner)
    stmt = (
        select(ranked, inner.c.pid)
        .where(inner.c.rn > opts.skip, inner.c.rn <= opts.skip + top + 1)
        .order_by(inner.c.pid, inner.c.rn)
    )
    grouped: dict[int, list[Any]] = {pid_: [] for pid_ in parent_ids}
    for obj, parent_id in ctx.session.execute(stmt).all():
        grouped[parent_id].append(obj)
    counts: dict[int, int] = {}
    if opts.count:
        count_stmt = source.add_columns(pid, func.count(child.id)).where(*conds).group_by(pid)
        counts = {parent_id: n for parent_id, n in ctx.session.execute(count_stmt).all()}
    children: list[Any] = []
    for parent_id, items in grouped.items():
        page_rows = items[:top]
        ctx.many[(id(item), parent_id)] = (page_rows, len(items) > top, counts.get(parent_id, 0))
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
