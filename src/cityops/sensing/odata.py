"""OData query options as SensorThings 1.1 uses them: a tokenizer and recursive-descent parsers.

``parse_filter`` turns a ``$filter`` string into a small AST (:class:`Literal`, :class:`Path`,
:class:`BinOp`, :class:`Unary`, :class:`Call`); :mod:`cityops.sensing.sta_query` compiles it to
SQLAlchemy. ``parse_orderby``, ``parse_select`` and ``parse_expand`` handle the other options
(``$expand`` nests options in parentheses separated by ``;``). Errors raise :class:`ODataError`,
rendered as HTTP 400 in the OData shape.

Operator precedence follows OData 4.01 (lowest first): ``or``, ``and``, equality (``eq ne``),
relational (``gt ge lt le in``), additive (``add sub``), multiplicative (``mul div mod``),
unary (``-``, ``not``), primary. ``x in (a, b)`` (OData 4.01, as FROST accepts it) has a
:class:`ListExpr` of literals on its right.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any


class ODataError(ValueError):
    """A query option that cannot be parsed or evaluated (HTTP 400)."""


@dataclass(frozen=True)
class Literal:
    value: Any
    kind: str  # number | string | bool | null | datetime | date | time | duration | geography | interval
    # a date-time literal's own offset from UTC, for totaloffsetminutes() (the value itself is in UTC)
    offset_minutes: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Path:
    segments: tuple[str, ...]


@dataclass(frozen=True)
class BinOp:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Unary:
    op: str  # not | neg
    operand: Node


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class ListExpr:
    """The parenthesised list on the right of ``in``."""

    items: tuple[Node, ...]


Node = Literal | Path | BinOp | Unary | Call | ListExpr

_DT = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})"
_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<typed>(?:duration|geography|geometry)'(?:[^']|'')*')
  | (?P<string>'(?:[^']|'')*')
  | (?P<interval>"""
    + _DT
    + r"/"
    + _DT
    + r""")
  | (?P<datetime>"""
    + _DT
    + r""")
  | (?P<date>\d{4}-\d{2}-\d{2}(?![\d:T]))
  | (?P<time>\d{2}:\d{2}:\d{2}(?:\.\d+)?)
  | (?P<number>-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_@$][A-Za-z0-9_.@]*(?:/[A-Za-z0-9_@$][A-Za-z0-9_.@]*)*)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
  | (?P<minus>-)
    """,
    re.VERBOSE,
)

MAX_LENGTH = 20_000
MAX_DEPTH = 60
MAX_OPERATORS = 300
COMPARISON = {"eq", "ne", "gt", "ge", "lt", "le"}
ARITHMETIC = {"add", "sub", "mul", "div", "mod"}

FUNCTIONS: dict[str, tuple[int, int]] = {
    # name: (min args, max args)
    "substringof": (2, 2),
    "contains": (2, 2),
    "endswith": (2, 2),
    "startswith": (2, 2),
    "length": (1, 1),
    "indexof": (2, 2),
    "substring": (2, 3),
    "tolower": (1, 1),
    "toupper": (1, 1),
    "trim": (1, 1),
    "concat": (2, 2),
    "year": (1, 1),
    "month": (1, 1),
    "day": (1, 1),
    "hour": (1, 1),
    "minute": (1, 1),
    "second": (1, 1),
    "fractionalseconds": (1, 1),
    "date": (1, 1),
    "time": (1, 1),
    "totaloffsetminutes": (1, 1),
    "now": (0, 0),
    "mindatetime": (0, 0),
    "maxdatetime": (0, 0),
    "round": (1, 1),
    "floor": (1, 1),
    "ceiling": (1, 1),
    "geo.distance": (2, 2),
    "geo.length": (1, 1),
    "geo.intersects": (2, 2),
    "st_equals": (2, 2),
    "st_disjoint": (2, 2),
    "st_touches": (2, 2),
    "st_within": (2, 2),
    "st_overlaps": (2, 2),
    "st_crosses": (2, 2),
    "st_intersects": (2, 2),
    "st_contains": (2, 2),
    "st_relate": (3, 3),
}


def parse_datetime(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ODataError(f"invalid date-time {text!r}") from exc
    if value.tzinfo is None:
        raise ODataError(f"date-time {text!r} needs a time zone (Z or +hh:mm)")
    return value.astimezone(UTC)


def _offset_minutes(text: str) -> int:
    m = re.search(r"([+-])(\d{2}):?(\d{2})$", text)
    if not m:
        return 0  # Z
    minutes = int(m.group(2)) * 60 + int(m.group(3))
    return -minutes if m.group(1) == "-" else minutes


_DURATION = re.compile(
    r"^(?P<sign>-)?P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(text: str) -> timedelta:
    m = _DURATION.match(text)
    if not m or text in {"P", "PT", "-P"}:
        raise ODataError(f"invalid duration {text!r} (use e.g. P1DT2H)")
    value = timedelta(
        days=float(m["d"] or 0),
        hours=float(m["h"] or 0),
        minutes=float(m["m"] or 0),
        seconds=float(m["s"] or 0),
    )
    return -value if m["sign"] else value


@dataclass
class _Tok:
    kind: str
    text: str
    pos: int


def tokenize(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ODataError(f"unexpected character {text[pos]!r} at position {pos}")
        kind = m.lastgroup or ""
        if kind != "ws":
            out.append(_Tok(kind, m.group(), pos))
        pos = m.end()
    return out


_SHOW = {"rparen": "')'", "lparen": "'('", "comma": "','"}


class _Parser:
    def __init__(self, text: str) -> None:
        if len(text) > MAX_LENGTH:
            raise ODataError(f"the expression is longer than {MAX_LENGTH} characters")
        self.text = text
        self.toks = tokenize(text)
        self.i = 0
        self.depth = 0
        self.operators = 0

    def binop(self, op: str, left: Node, right: Node) -> BinOp:
        self.operators += 1
        if self.operators > MAX_OPERATORS:
            raise ODataError(f"the expression has more than {MAX_OPERATORS} operators")
        return BinOp(op, left, right)

    def nested(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ODataError(f"the expression nests deeper than {MAX_DEPTH} levels")

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def next(self) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise ODataError("unexpected end of expression")
        self.i += 1
        return tok

    def accept_word(self, words: set[str]) -> str | None:
        tok = self.peek()
        if tok is not None and tok.kind == "name" and tok.text in words:
            self.i += 1
            return tok.text
        return None

    def expect(self, kind: str) -> _Tok:
        if self.peek() is None:
            raise ODataError(f"expected {_SHOW.get(kind, kind)} but the expression ended")
        tok = self.next()
        if tok.kind != kind:
            raise ODataError(f"expected {_SHOW.get(kind, kind)} at position {tok.pos}, found {tok.text!r}")
        return tok

    def parse(self) -> Node:
        node = self.or_expr()
        tok = self.peek()
        if tok is not None:
            raise ODataError(f"unexpected {tok.text!r} at position {tok.pos}")
        return node

    def or_expr(self) -> Node:
        node = self.and_expr()
        while self.accept_word({"or"}):
            node = self.binop("or", node, self.and_expr())
        return node

    def and_expr(self) -> Node:
        node = self.equality()
        while self.accept_word({"and"}):
            node = self.binop("and", node, self.equality())
        return node

    def equality(self) -> Node:
        node = self.relational()
        while op := self.accept_word({"eq", "ne"}):
            node = self.binop(op, node, self.relational())
        return node

    def relational(self) -> Node:
        node = self.additive()
        while op := self.accept_word({"gt", "ge", "lt", "le", "in"}):
            node = self.binop(op, node, self.in_list() if op == "in" else self.additive())
        return node

    def in_list(self) -> ListExpr:
        tok = self.peek()
        if tok is None or tok.kind != "lparen":
            where = f"at position {tok.pos}" if tok is not None else "at the end"
            raise ODataError(f"'in' needs a parenthesised list such as (1, 2) {where}")
        self.i += 1
        items: list[Node] = []
        while True:
            items.append(self.additive())
            sep = self.next()
            if sep.kind == "rparen":
                return ListExpr(tuple(items))
            if sep.kind != "comma":
                raise ODataError(f"expected ',' or ')' in the 'in' list at position {sep.pos}")

    def additive(self) -> Node:
        node = self.multiplicative()
        while op := self.accept_word({"add", "sub"}):
            node = self.binop(op, node, self.multiplicative())
        return node

    def multiplicative(self) -> Node:
        node = self.unary()
        while op := self.accept_word({"mul", "div", "mod"}):
            node = self.binop(op, node, self.unary())
        return node

    def unary(self) -> Node:
        self.nested()
        try:
            if self.accept_word({"not"}):
                return Unary("not", self.unary())
            tok = self.peek()
            if tok is not None and tok.kind == "minus":
                self.i += 1
                return Unary("neg", self.unary())
            return self.primary()
        finally:
            self.depth -= 1

    def primary(self) -> Node:
        tok = self.next()
        if tok.kind == "lparen":
            node = self.or_expr()
            self.expect("rparen")
            return node
        if tok.kind == "string":
            return Literal(tok.text[1:-1].replace("''", "'"), "string")
        if tok.kind == "number":
            t = tok.text
            return Literal(float(t) if any(c in t for c in ".eE") else int(t), "number")
        if tok.kind == "datetime":
            return Literal(parse_datetime(tok.text), "datetime", _offset_minutes(tok.text))
        if tok.kind == "interval":
            a, b = tok.text.split("/")
            return Literal((parse_datetime(a), parse_datetime(b)), "interval")
        if tok.kind == "date":
            try:
                return Literal(date.fromisoformat(tok.text), "date")
            except ValueError as exc:
                raise ODataError(f"invalid date {tok.text!r}") from exc
        if tok.kind == "time":
            try:
                return Literal(time.fromisoformat(tok.text), "time")
            except ValueError as exc:
                raise ODataError(f"invalid time {tok.text!r}") from exc
        if tok.kind == "typed":
            prefix, _, rest = tok.text.partition("'")
            body = rest[:-1].replace("''", "'")
            if prefix == "duration":
                return Literal(parse_duration(body), "duration")
            return Literal(_parse_wkt(body), "geography")
        if tok.kind == "name":
            word = tok.text
            if word == "true":
                return Literal(True, "bool")
            if word == "false":
                return Literal(False, "bool")
            if word == "null":
                return Literal(None, "null")
            if word in COMPARISON | ARITHMETIC | {"and", "or", "not", "in"}:
                raise ODataError(f"operator {word!r} at position {tok.pos} is missing its left operand")
            nxt = self.peek()
            if nxt is not None and nxt.kind == "lparen" and "/" not in word:
                return self.call(word.lower() if word.lower() in FUNCTIONS else word, tok)
            return Path(tuple(word.split("/")))
        raise ODataError(f"unexpected {tok.text!r} at position {tok.pos}")

    def call(self, name: str, tok: _Tok) -> Node:
        if name not in FUNCTIONS:
            raise ODataError(f"unknown function {name!r} at position {tok.pos}")
        self.expect("lparen")
        args: list[Node] = []
        nxt = self.peek()
        if nxt is not None and nxt.kind == "rparen":
            self.i += 1
        else:
            while True:
                args.append(self.or_expr())
                sep = self.next()
                if sep.kind == "rparen":
                    break
                if sep.kind != "comma":
                    raise ODataError(f"expected ',' or ')' at position {sep.pos}")
        lo, hi = FUNCTIONS[name]
        if not lo <= len(args) <= hi:
            raise ODataError(
                f"{name}() takes {lo if lo == hi else f'{lo} to {hi}'} argument(s), got {len(args)}"
            )
        return Call(name, tuple(args))


def _parse_wkt(text: str) -> Any:
    from shapely import wkt
    from shapely.errors import ShapelyError

    body = re.sub(r"^SRID=\d+;", "", text.strip(), flags=re.IGNORECASE)
    try:
        return wkt.loads(body)
    except (ShapelyError, ValueError) as exc:
        raise ODataError(f"invalid WKT geometry {text!r}") from exc


def parse_filter(text: str) -> Node:
    if not text.strip():
        raise ODataError("$filter is empty")
    return _Parser(text).parse()


# --- $orderby, $select, $expand -------------------------------------------------------------


@dataclass(frozen=True)
class OrderItem:
    expr: Node
    descending: bool


def _split_top_level(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside parentheses and quotes."""
    parts: list[str] = []
    depth = 0
    quoted = False
    start = 0
    for i, ch in enumerate(text):
        if ch == "'":
            quoted = not quoted
        elif quoted:
            continue
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise ODataError(f"unbalanced ')' in {text!r}")
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if depth != 0 or quoted:
        raise ODataError(f"unbalanced parentheses or quotes in {text!r}")
    parts.append(text[start:])
    return parts


def parse_orderby(text: str) -> list[OrderItem]:
    items: list[OrderItem] = []
    for part in _split_top_level(text, ","):
        part = part.strip()
        if not part:
            raise ODataError("empty item in $orderby")
        desc = False
        m = re.match(r"^(.*?)\s+(asc|desc)$", part, flags=re.IGNORECASE)
        if m:
            part, desc = m.group(1), m.group(2).lower() == "desc"
        items.append(OrderItem(parse_filter(part), desc))
    return items


def parse_select(text: str) -> list[str]:
    out = []
    for part in text.split(","):
        name = part.strip()
        if not re.fullmatch(r"[A-Za-z_@][A-Za-z0-9_.@/]*", name):
            raise ODataError(f"invalid $select item {name!r}")
        out.append(name)
    return out


@dataclass
class QueryOptions:
    filter: Node | None = None
    orderby: list[OrderItem] = field(default_factory=list)
    select: list[str] | None = None
    expand: list[ExpandItem] = field(default_factory=list)
    top: int | None = None
    skip: int = 0
    count: bool = False
    result_format: str | None = None
    raw: dict[str, str] = field(default_factory=dict)  # the options as given, for nextLinks


@dataclass
class ExpandItem:
    path: tuple[str, ...]
    options: QueryOptions


def _parse_int(name: str, value: str) -> int:
    if not re.fullmatch(r"\d+", value.strip()):
        raise ODataError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


MAX_EXPAND_DEPTH = 8


def parse_options(params: dict[str, str], *, nested: bool = False, depth: int = 0) -> QueryOptions:
    """Build :class:`QueryOptions` from ``$name → value`` pairs (unknown ``$`` options are an error)."""
    opts = QueryOptions(raw={k: v for k, v in params.items() if k.startswith("$")})
    for key, value in params.items():
        if key == "$filter":
            opts.filter = parse_filter(value)
        elif key == "$orderby":
            opts.orderby = parse_orderby(value)
        elif key == "$select":
            opts.select = parse_select(value)
        elif key == "$expand":
            opts.expand = parse_expand(value, depth=depth + 1)
        elif key == "$top":
            opts.top = _parse_int(key, value)
        elif key == "$skip":
            opts.skip = _parse_int(key, value)
        elif key == "$count":
            if value not in {"true", "false"}:
                raise ODataError("$count must be true or false")
            opts.count = value == "true"
        elif key == "$resultFormat" and not nested:
            opts.result_format = value
        elif key.startswith("$"):
            raise ODataError(f"unknown or misplaced query option {key!r}")
    return opts


def parse_expand(text: str, *, depth: int = 1) -> list[ExpandItem]:
    if depth > MAX_EXPAND_DEPTH:
        raise ODataError(f"$expand nests deeper than {MAX_EXPAND_DEPTH} levels")
    items: list[ExpandItem] = []
    for part in _split_top_level(text, ","):
        part = part.strip()
        if not part:
            raise ODataError("empty item in $expand")
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_/]*)\s*(?:\((.*)\))?", part, flags=re.DOTALL)
        if not m:
            raise ODataError(f"invalid $expand item {part!r}")
        path = tuple(m.group(1).split("/"))
        params: dict[str, str] = {}
        if m.group(2) is not None:
            for opt in _split_top_level(m.group(2), ";"):
                opt = opt.strip()
                if not opt:
                    continue
                key, eq, value = opt.partition("=")
                if not eq or not key.strip().startswith("$"):
                    raise ODataError(f"invalid option {opt!r} in $expand")
                params[key.strip()] = value.strip()
        options = parse_options(params, nested=True, depth=depth)
        if len(m.group(1).split("/")) + depth > MAX_EXPAND_DEPTH + 1:
            raise ODataError(f"$expand nests deeper than {MAX_EXPAND_DEPTH} levels")
        # Items/With/Paths: Things/Datastreams/Observations expands each level.
        node = ExpandItem((path[-1],), options)
        for seg in reversed(path[:-1]):
            node = ExpandItem((seg,), QueryOptions(expand=[node]))
        items.append(node)
    return _merge_expands(items)


def _merge_expands(items: list[ExpandItem]) -> list[ExpandItem]:
    merged: dict[str, ExpandItem] = {}
    for item in items:
        key = item.path[0]
        if key in merged:
            merged[key].options.expand = _merge_expands(merged[key].options.expand + item.options.expand)
        else:
            merged[key] = item
    return list(merged.values())
