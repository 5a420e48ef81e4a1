"""Run STA collection reads within a cost budget: the request's :class:`Context`, paging and its
:class:`QueryBudget`.

The pieces of a read live in their own modules: :mod:`cityops.sensing.sta_filter` compiles ``$filter`` and
``$orderby``, :mod:`cityops.sensing.sta_expand` loads what a page expands, :mod:`cityops.sensing.sta_render`
renders entities. One budget covers the whole read — every ``$expand`` level, not each level alone (#21:
nine nested levels of 100 rows each exhausted the server's memory) — in entities loaded and rendered,
bytes rendered and seconds, the database's own work included; going over answers 400 naming the limit.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy import exists, func, inspect, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, aliased

from cityops.errors import ApiError
from cityops.sensing.models import Datastream
from cityops.sensing.odata import BinOp, Literal, Node, Path, QueryOptions
from cityops.sensing.sta_entities import ENTITIES, EntityType, Nav, Prop
from cityops.sensing.sta_filter import Compiler

DEFAULT_TOP = 100
MAX_TOP = 10000
# Defaults of the budget (the settings sta_query_max_entities, sta_query_max_bytes, sta_query_seconds).
MAX_ENTITIES = 20_000
MAX_BYTES = 32 * 1024 * 1024
MAX_SECONDS = 10.0
SQLITE_CHECK_EVERY = 10_000  # SQLite virtual-machine steps between two looks at the clock
PG_QUERY_CANCELED = "57014"


@dataclass
class QueryBudget:
    """What one read (or the reads of one ``$batch``) may still cost; :meth:`take`, :meth:`rendered` and
    :meth:`wrote` raise :class:`ApiError` 400 with a code naming the limit once one is exceeded."""

    max_entities: int = MAX_ENTITIES
    max_bytes: int = MAX_BYTES
    seconds: float = MAX_SECONDS
    loaded: int = 0
    rendered_count: int = 0
    planned: int = 0
    bytes: int = 0
    started: float = field(default_factory=time.monotonic)

    @classmethod
    def from_settings(cls, settings: Any) -> QueryBudget:
        return cls(settings.sta_query_max_entities, settings.sta_query_max_bytes, settings.sta_query_seconds)

    @classmethod
    def unbounded(cls) -> QueryBudget:
        """No limit: for rendering the server itself drives (MQTT notifications of stored rows)."""
        return cls(max_entities=2**62, max_bytes=2**62, seconds=math.inf)

    def left(self) -> int:
        """Entities that may still be loaded (a query asks for one more to know it went over)."""
        return max(self.max_entities - self.loaded, 0)

    def take(self, n: int) -> None:
        """``n`` entities were loaded from the database."""
        self.loaded += n
        if self.loaded > self.max_entities:
            raise self._too_many()
        self.check_time()

    def plan(self, n: int) -> None:
        """``n`` more entities will be rendered (counted while expands are loaded, before rendering)."""
        self.planned += n
        if self.planned > self.max_entities:
            raise self._too_many()
        self.check_time()

    def rendered(self) -> None:
        """One entity was rendered (a shared to-one entity renders once under each parent)."""
        self.rendered_count += 1
        if self.rendered_count > self.max_entities:
            raise self._too_many()
        if not self.rendered_count % 256:
            self.check_time()

    def wrote(self, n: int) -> None:
        """``n`` bytes of the answer were rendered."""
        self.bytes += n
        if self.bytes > self.max_bytes:
            raise ApiError(
                400,
                f"the answer exceeds {self.max_bytes} bytes (sta_query_max_bytes); ask for a smaller "
                "$top, fewer $expand levels or a $select, and follow the @iot.nextLink",
                code="query_too_large",
            )

    def remaining_seconds(self) -> float:
        return self.seconds - (time.monotonic() - self.started)

    def check_time(self) -> None:
        if self.remaining_seconds() <= 0:
            raise self.too_slow()

    def too_slow(self) -> ApiError:
        return ApiError(
            400,
            f"the query takes longer than {self.seconds:g} s (sta_query_seconds); narrow the $filter, "
            "ask for a smaller $top or fewer $expand levels",
            code="query_too_slow",
        )

    def _too_many(self) -> ApiError:
        return ApiError(
            400,
            f"the query needs more than {self.max_entities} entities across the page and all $expand "
            "levels (sta_query_max_entities); ask for a smaller $top (also inside $expand) or fewer "
            "levels, and follow the @iot.nextLink",
            code="query_too_many_entities",
        )

    @contextlib.contextmanager
    def guard(self, session: Session) -> Iterator[None]:
        """Interrupt the database's own work when the time is up: ``statement_timeout`` for the
        transaction on PostgreSQL (restored after), a progress handler on SQLite. An interrupted
        statement answers :meth:`too_slow`."""
        if math.isinf(self.seconds):
            yield
            return
        conn = session.connection()
        dbapi: Any = conn.connection.driver_connection
        pg = conn.dialect.name == "postgresql"
        ms = max(int(self.remaining_seconds() * 1000), 1)
        previous = ""
        if pg:
            previous = conn.execute(text("SELECT current_setting('statement_timeout')")).scalar_one()
            conn.execute(text("SELECT set_config('statement_timeout', :v, true)"), {"v": f"{ms}ms"})
        elif isinstance(dbapi, sqlite3.Connection):
            deadline = self.started + self.seconds
            dbapi.set_progress_handler(lambda: time.monotonic() > deadline, SQLITE_CHECK_EVERY)
        try:
            yield
        except DBAPIError as exc:
            if _interrupted(exc):
                raise self.too_slow() from exc
            raise
        finally:
            if pg:
                with contextlib.suppress(DBAPIError):  # an interrupted transaction is rolled back anyway
                    conn.execute(text("SELECT set_config('statement_timeout', :v, true)"), {"v": previous})
            elif isinstance(dbapi, sqlite3.Connection):
                dbapi.set_progress_handler(None, 0)


def _interrupted(exc: DBAPIError) -> bool:
    """Whether the database stopped a statement because the budget's time was up."""
    orig = exc.orig
    if isinstance(orig, sqlite3.OperationalError):
        return "interrupted" in str(orig)
    return getattr(orig, "sqlstate", None) == PG_QUERY_CANCELED


@dataclass
class Context:
    """One read: its session, service root, budget and what its expands loaded for the page."""

    session: Session
    base: str  # service root URL, e.g. http://host/sta/v1.1
    budget: QueryBudget = field(default_factory=QueryBudget)
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


def page_size(opts: QueryOptions) -> int:
    """Rows of one page: ``$top`` (default :data:`DEFAULT_TOP`), at most :data:`MAX_TOP`."""
    return min(DEFAULT_TOP if opts.top is None else opts.top, MAX_TOP)


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
    top = page_size(opts)
    # Never more rows than the budget has left (plus one, to know it would go over).
    stmt = stmt.order_by(*order, alias.id.asc()).offset(opts.skip).limit(min(top, ctx.budget.left()) + 1)
    rows = list(ctx.session.execute(stmt).scalars())
    ctx.budget.take(min(len(rows), top))
    more = len(rows) > top
    return rows[:top], more


def next_link(url_path: str, params: dict[str, str], opts: QueryOptions, count: int) -> str:
    top = page_size(opts)
    new = {k: v for k, v in params.items() if k not in {"$skip", "$top"}}
    new["$top"] = str(top)
    new["$skip"] = str(opts.skip + count)
    return url_path + "?" + urlencode(new, quote_via=quote, safe="$(),'/:")


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


# Names this module had before the split (#12), for code that still imports them from here.
_MOVED = {
    "render": "sta_render",
    "check_select": "sta_render",
    "KEEP_NULL": "sta_render",
    "SELECT_EXTRA": "sta_render",
    "prefetch": "sta_expand",
    "GeoRef": "sta_values",
    "Val": "sta_values",
    "MIN_DT": "sta_filter",
    "MAX_DT": "sta_filter",
}


def __getattr__(name: str) -> Any:
    module = _MOVED.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"cityops.sensing.{module}"), name)
