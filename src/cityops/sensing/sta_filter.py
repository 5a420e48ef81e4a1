"""Compile OData ``$filter``/``$orderby`` ASTs to SQLAlchemy expressions (the query planning of STA reads).

Paths through to-one navigation properties become correlated scalar subqueries; a comparison that goes
through a to-many navigation property becomes ``EXISTS`` (any related entity matches), as FROST does.
Spatial functions are :class:`cityops.sensing.sta_geo.GeoCompiler`'s. Durations in SQL are seconds
(a number); date-time ± duration and date-time − date-time follow OData.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Numeric,
    String,
    and_,
    cast,
    exists,
    extract,
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
    ListExpr,
    Literal,
    Node,
    ODataError,
    OrderItem,
    Path,
    Unary,
)
from cityops.sensing.sta_entities import ENTITIES, EntityType
from cityops.sensing.sta_geo import GEOMETRY_PROPS, NUMERIC_TESTS, GeoCompiler
from cityops.sensing.sta_values import GeoRef, Val, constant

MIN_DT = datetime(1, 1, 1, tzinfo=UTC)
MAX_DT = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


class Compiler(GeoCompiler):
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
                    return constant(-v.literal_value, "number")
                if v.is_literal and v.kind == "duration":
                    return constant(-v.literal_value, "duration")
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
            return constant(node.value[0], "datetime")
        return constant(node.value, node.kind)

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
        if op in NUMERIC_TESTS:
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
            return constant(value, "number")
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
            return constant(value, "datetime" if "datetime" in {lk, rk} and lk != rk else "duration")
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
            return constant(value, "datetime")
        if name.startswith(("geo.", "st_")):
            return self.geo(node, et, alias)
        if name == "totaloffsetminutes" and isinstance(node.args[0], Literal):
            if node.args[0].kind != "datetime":
                raise ODataError(f"expected a date-time, got a {node.args[0].kind}")
            return constant(node.args[0].offset_minutes, "number")
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
            return constant(0, "number")  # every stored time is UTC
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
