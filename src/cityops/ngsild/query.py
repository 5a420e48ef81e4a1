"""The NGSI-LD query language subset (``q``) and geo-queries (``georel``), evaluated on normalized entities.

q: ``attr==v``, ``!=``, ``<``, ``>``, ``<=``, ``>=``, ``~=`` (regex), ranges ``a..b``, lists ``a,b``, quoted
strings, ``;`` (and, binds tighter), ``|`` (or), parentheses; a bare ``attr`` means "has the attribute";
``attr.sub`` reads a sub-property, ``attr[key]`` a member of a compound value.
georel: ``near;maxDistance==m`` / ``near;minDistance==m`` (metres, geodesic), ``within``, ``contains``,
``intersects``, ``disjoint``, ``equals`` (shapely on WGS 84)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pyproj import Geod
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points

from cityops.ngsild.errors import BadRequestData

Predicate = Callable[[dict[str, Any]], bool]
_TOKEN = re.compile(
    r"\s*(?:(?P<lp>\()|(?P<rp>\))|(?P<and>;)|(?P<or>\|)"
    r'|(?P<cmp>[A-Za-z_@][\w.:\[\]@-]*)(?:(?P<op>==|!=|>=|<=|!~=|~=|>|<)(?P<val>"(?:[^"\\]|\\.)*"|[^;|()<>=!~][^;|()]*))?)'
)
_GEOD = Geod(ellps="WGS84")


@dataclass
class _Cmp:
    path: list[tuple[str, str]]  # (kind, name): ("attr"|"sub"|"key", name)
    op: str | None
    value: Any


def _parse_path(text: str) -> list[tuple[str, str]]:
    m = re.match(r"^([^.\[]+)((?:\.[^.\[]+)*)((?:\[[^\]]+\])*)$", text)
    if not m:
        raise BadRequestData(f"q: bad attribute path {text!r}")
    path = [("attr", m.group(1))]
    path += [("sub", s) for s in m.group(2).split(".")[1:]]
    path += [("key", k) for k in re.findall(r"\[([^\]]+)\]", m.group(3))]
    return path


def _literal(text: str) -> Any:
    text = text.strip()
    if text.startswith('"'):
        try:
            return json.loads(text)
        except ValueError as exc:
            raise BadRequestData(f"q: bad string {text}") from exc
    if text in ("true", "false"):
        return text == "true"
    try:
        return float(text) if any(c in text for c in ".eE") and not re.match(r"^\d{4}-", text) else int(text)
    except ValueError:
        return text  # a date-time or an unquoted word


def _value(text: str) -> Any:
    text = text.strip()
    if not text.startswith('"') and ".." in text:
        lo, hi = text.split("..", 1)
        return ("range", _literal(lo), _literal(hi))
    if not text.startswith('"') and "," in text:
        return ("list", [_literal(p) for p in text.split(",")])
    if text.startswith('"') and '","' in text:
        return ("list", [_literal(p) for p in re.findall(r'"(?:[^"\\]|\\.)*"', text)])
    return _literal(text)


def parse_q(q: str) -> Predicate:
    """Compile ``q`` to a predicate over a normalized entity; a syntax error is 400 BadRequestData."""
    tokens: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(q):
        if q[pos:].strip() == "":
            break
        m = _TOKEN.match(q, pos)
        if not m or m.end() == pos:
            raise BadRequestData(f"q: cannot read {q[pos:]!r}")
        pos = m.end()
        kind = m.lastgroup if m.lastgroup in ("lp", "rp", "and", "or") else "cmp"
        if kind == "cmp":
            op, val = m.group("op"), m.group("val")
            tokens.append(("cmp", _Cmp(_parse_path(m.group("cmp")), op, _value(val) if op else None)))
        else:
            tokens.append((kind, None))
    pred, rest = _or(tokens)
    if rest:
        raise BadRequestData(f"q: unexpected {rest[0][0]} in {q!r}")
    return pred


def _or(tokens: list[tuple[str, Any]]) -> tuple[Predicate, list[tuple[str, Any]]]:
    left, tokens = _and(tokens)
    while tokens and tokens[0][0] == "or":
        right, tokens = _and(tokens[1:])
        left = (lambda a, b: lambda e: a(e) or b(e))(left, right)
    return left, tokens


def _and(tokens: list[tuple[str, Any]]) -> tuple[Predicate, list[tuple[str, Any]]]:
    left, tokens = _atom(tokens)
    while tokens and tokens[0][0] == "and":
        right, tokens = _atom(tokens[1:])
        left = (lambda a, b: lambda e: a(e) and b(e))(left, right)
    return left, tokens


def _atom(tokens: list[tuple[str, Any]]) -> tuple[Predicate, list[tuple[str, Any]]]:
    if not tokens:
        raise BadRequestData("q: expression ends too early")
    kind, cmp = tokens[0]
    if kind == "lp":
        inner, rest = _or(tokens[1:])
        if not rest or rest[0][0] != "rp":
            raise BadRequestData("q: missing )")
        return inner, rest[1:]
    if kind != "cmp":
        raise BadRequestData(f"q: unexpected {kind}")
    return (lambda c: lambda e: _test(c, e))(cmp), tokens[1:]


_MISSING = object()


def _resolve(entity: dict[str, Any], path: list[tuple[str, str]]) -> Any:
    node: Any = entity.get(path[0][1], _MISSING)
    if node is _MISSING:
        return _MISSING
    for kind, name in path[1:]:
        if kind == "sub":
            node = node.get(name, _MISSING) if isinstance(node, dict) else _MISSING
        else:
            val = _attr_value(node)
            node = {"value": val.get(name, _MISSING)} if isinstance(val, dict) else _MISSING
        if node is _MISSING:
            return _MISSING
    return _attr_value(node)


def _attr_value(node: Any) -> Any:
    if isinstance(node, list):
        node = node[0] if node else {}
    if not isinstance(node, dict):
        return node
    for key in ("value", "object", "languageMap", "json", "vocab"):
        if key in node:
            return node[key]
    return _MISSING


def _cmp1(have: Any, op: str, want: Any) -> bool:
    if isinstance(want, tuple) and want[0] == "range":
        return (
            _cmp1(have, ">=", want[1]) and _cmp1(have, "<=", want[2])
            if op == "=="
            else not (_cmp1(have, ">=", want[1]) and _cmp1(have, "<=", want[2]))
        )
    if isinstance(want, tuple) and want[0] == "list":
        hit = any(_cmp1(have, "==", w) for w in want[1])
        return hit if op == "==" else not hit
    if op in ("~=", "!~="):
        found = isinstance(have, str) and re.search(str(want), have) is not None
        return found if op == "~=" else not found
    if isinstance(have, bool) or isinstance(want, bool):
        ok = have == want
        return ok if op == "==" else (not ok if op == "!=" else False)
    if isinstance(have, int | float) and isinstance(want, int | float):
        a, b = float(have), float(want)
    elif isinstance(have, str) and isinstance(want, str | int | float):
        a, b = have, str(want)  # type: ignore[assignment]
    else:
        return op == "!=" and have != want
    return {"==": a == b, "!=": a != b, ">": a > b, "<": a < b, ">=": a >= b, "<=": a <= b}[op]


def _test(c: _Cmp, entity: dict[str, Any]) -> bool:
    have = _resolve(entity, c.path)
    if have is _MISSING:
        return False
    if c.op is None:
        return True
    if isinstance(have, list):
        return (
            any(_cmp1(h, c.op, c.value) for h in have)
            if c.op != "!="
            else all(_cmp1(h, "!=", c.value) for h in have)
        )
    return _cmp1(have, c.op, c.value)


# --- geo ---------------------------------------------------------------------------------------------------


def parse_geo(
    georel: str | None, geometry: str | None, coordinates: str | None
) -> Callable[[dict[str, Any] | None], bool] | None:
    """A predicate over an entity's GeoJSON (its ``location`` value), or None when no geo-query is given."""
    if not georel and not geometry and not coordinates:
        return None
    if not (georel and geometry and coordinates):
        raise BadRequestData("a geo-query needs georel, geometry and coordinates together")
    try:
        coords = json.loads(coordinates)
        ref = shape({"type": geometry, "coordinates": coords})
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        raise BadRequestData(f"bad geometry/coordinates: {exc}") from exc
    if not ref.is_valid:
        raise BadRequestData("the query geometry is not valid")
    rel, *mods = georel.split(";")
    if rel == "near":
        limit: dict[str, float] = {}
        for mod in mods:
            m = re.match(r"^(maxDistance|minDistance)==(\d+(?:\.\d+)?)$", mod)
            if not m:
                raise BadRequestData(f"georel near needs maxDistance==m or minDistance==m, not {mod!r}")
            limit[m.group(1)] = float(m.group(2))
        if not limit:
            raise BadRequestData("georel near needs maxDistance or minDistance")

        def near(geo: dict[str, Any] | None) -> bool:
            g = _shape(geo)
            if g is None:
                return False
            d = distance_m(ref, g)
            return d <= limit.get("maxDistance", float("inf")) and d >= limit.get("minDistance", 0.0)

        return near
    ops: dict[str, Callable[[BaseGeometry], bool]] = {
        "within": lambda g: g.within(ref),
        "contains": lambda g: g.contains(ref),
        "intersects": lambda g: g.intersects(ref),
        "disjoint": lambda g: g.disjoint(ref),
        "equals": lambda g: g.equals(ref),
        "overlaps": lambda g: g.overlaps(ref),
    }
    if rel not in ops or mods:
        raise BadRequestData(
            f"georel {georel!r} is not one of near, within, contains, intersects, disjoint, equals, overlaps"
        )
    test = ops[rel]

    def check(geo: dict[str, Any] | None) -> bool:
        g = _shape(geo)
        return g is not None and test(g)

    return check


def _shape(geo: dict[str, Any] | None) -> BaseGeometry | None:
    if not geo:
        return None
    try:
        return shape(geo)
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def distance_m(a: BaseGeometry, b: BaseGeometry) -> float:
    """Geodesic distance in metres between the nearest points of two WGS 84 geometries."""
    if a.intersects(b):
        return 0.0
    pa, pb = nearest_points(a, b)
    assert isinstance(pa, Point)
    assert isinstance(pb, Point)
    _, _, dist = _GEOD.inv(pa.x, pa.y, pb.x, pb.y)
    return float(dist)
