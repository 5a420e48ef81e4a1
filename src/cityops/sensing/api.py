"""Native sensing endpoints under ``/api/v1/sensing``: what STA makes slow or impossible.

- ``GET /api/v1/sensing/latest``: the latest value of every datastream (one indexed read of the
  ``last_*`` columns maintained on ingest), optionally within a ``bbox`` or an administrative area.
- ``GET /api/v1/sensing/datastreams/{id}/aggregate``: avg/min/max/count/last per minute, hour or day,
  read from the incrementally maintained ``observation_rollups``.
Reads are public, like the SensorThings API.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import APIRouter, Query, Response
from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    Float,
    Pool,
    String,
    Text,
    TypeDecorator,
    case,
    cast,
    event,
    func,
    literal_column,
    select,
    text,
    type_coerce,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from cityops.clock import ensure_utc
from cityops.db import UTCDateTime
from cityops.deps import ReadSessionDep, SessionDep
from cityops.errors import Invalid, NotFound
from cityops.sensing.api_schemas import AggregateOut, LatestPage
from cityops.sensing.ingest.batch import join_result
from cityops.sensing.ingest.rollups import INTERVALS
from cityops.sensing.models import (
    Datastream,
    Location,
    ObservationRollup,
    ObservedProperty,
    Thing,
    thing_locations,
)
from cityops.sensing.sta_entities import iso

router = APIRouter(prefix="/api/v1/sensing", tags=["sensing"])

AGGREGATES = ("avg", "min", "max", "count", "sum", "last")
MAX_BUCKETS = 50_000


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    try:
        parts = [float(p) for p in text.split(",")]
    except ValueError:
        raise Invalid("bbox must be min_lon,min_lat,max_lon,max_lat", details={"field": "bbox"}) from None
    if len(parts) != 4 or parts[0] > parts[2] or parts[1] > parts[3]:
        raise Invalid("bbox must be min_lon,min_lat,max_lon,max_lat", details={"field": "bbox"})
    return parts[0], parts[1], parts[2], parts[3]


class _ChangeMarker:
    """A value that changes whenever any transaction commits to the database, read without a table scan.

    The first key of the cached latest-values body, so a cache hit is never older than the last commit,
    whichever process made it. PostgreSQL: the current snapshot (``xmin:xmax:xip``); equal snapshots see
    the same committed transactions. SQLite: ``PRAGMA data_version`` of a connection kept for this and
    nothing else; it changes when any other connection (this process's pool or another process) commits.
    Any write moves it, not only writes to the sensing tables: :class:`_SensingFingerprint` then tells
    whether the commits touched what the body shows.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sqlite: dict[str, sqlite3.Connection] = {}

    def read(self, session: Session) -> str | None:
        bind = session.get_bind()
        if bind.dialect.name == "postgresql":
            return str(session.execute(text("SELECT pg_current_snapshot()::text")).scalar_one())
        path = bind.engine.url.database
        if bind.dialect.name != "sqlite" or not path or path == ":memory:":
            return None
        with self._lock:
            conn = self._sqlite.get(path)
            if conn is None:
                # autocommit, never written through: each PRAGMA sees the latest commit of the WAL
                conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
                self._sqlite[path] = conn
            version = conn.execute("PRAGMA data_version").fetchone()[0]
        return f"{path}:{version}"


# The tables the latest-values body is made of.
_SHOWN_TABLES = (
    "sta_datastreams",
    "sta_things",
    "sta_locations",
    "sta_thing_locations",
    "sta_observed_properties",
)
# What a tracked writer may touch: the shown tables, and the observations and roll-ups the aggregates read.
_WATCHED_TABLES = (*_SHOWN_TABLES, "sta_observations", "observation_rollups")
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "WITH")


class _SensingWrites:
    """This process's writes to the sensing tables (:data:`_WATCHED_TABLES`): a generation bumped when
    such a writer ends, and whether one is under way.

    A connection that runs an INSERT/UPDATE/DELETE naming one of them is marked in its pool record
    until it goes back to the pool (after its commit or rollback); only then does the generation move. A
    body read while no such writer was under way, with the generation unchanged from start to end, holds
    every commit of this process before it. Listens on every engine and pool (class-level events,
    registered on import, before any engine exists).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.generation = 0
        self.open = 0  # marked connections not yet back in the pool

    def statement(self, conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip()[:7].upper().startswith(_WRITES) and any(
            t in statement for t in _WATCHED_TABLES
        ):
            info = conn.info
            if not info.get(_WRITER_MARK):
                info[_WRITER_MARK] = True
                with self._lock:
                    self.open += 1

    def checkin(self, _dbapi_conn: Any, record: Any) -> None:
        info = getattr(record, "info", None)
        if info and info.pop(_WRITER_MARK, False):
            with self._lock:
                self.open -= 1
                self.generation += 1

    def state(self) -> tuple[int, bool]:
        """(generation, whether no marked writer is under way)."""
        with self._lock:
            return self.generation, self.open == 0


_WRITER_MARK = "cityops_latest_writer"
_writes = _SensingWrites()
event.listen(Engine, "before_cursor_execute", _writes.statement)
event.listen(Pool, "checkin", _writes.checkin)


def _fingerprint_sql(dialect: str) -> str | None:
    """One row that changes with any committed change to the shown tables.

    PostgreSQL: per table the row count and a sum of hashed ``xmin`` (every inserted or updated row version
    has its writer's transaction id), so any committed insert, update or delete from any process moves it.
    SQLite has no row versions and no cheap hash: counts, and sums of the latest observation ids and values
    (any ingest from any process sets a new ``last_observation_id``; creating or deleting a row moves a
    count), a few milliseconds for 10,000 datastreams; every edit by this process's writers, names and
    positions included, is caught by :class:`_SensingWrites`. An edit of a name or unit by *another*
    process is not seen until the next sensing change (migration 0003 may add a trigger-kept counter).
    """
    if dialect == "postgresql":
        parts = [
            f"(SELECT count(*)::text || ':' || coalesce(sum(hashint8(xmin::text::bigint)), 0)::text FROM {t})"
            for t in _SHOWN_TABLES
        ]
        return "SELECT " + ", ".join(parts)
    if dialect == "sqlite":
        # total() (a float, never an overflow error) where a sum only has to move; the latest observation
        # id summed modulo a prime, exactly, as one new id is what every ingest sets
        return (
            "SELECT * FROM (SELECT count(*), total(id), sum(last_observation_id % 2147483647),"
            " max(last_observation_id), total(last_value) FROM sta_datastreams),"
            " (SELECT count(*), total(id) FROM sta_things),"
            " (SELECT count(*), total(lat), total(lon) FROM sta_locations),"
            " (SELECT count(*), total(thing_id * location_id) FROM sta_thing_locations),"
            " (SELECT count(*), total(id) FROM sta_observed_properties)"
        )
    return None


_B = TypeVar("_B")


@dataclass(frozen=True)
class _Cached(Generic[_B]):
    """A response body (or what a body is made from) of this process and what it was read under."""

    marker: str
    fingerprint: tuple[Any, ...] | None  # None: only the marker vouches for it
    generation: int
    body: _B
    rows: dict[int, tuple[tuple[Any, ...], bytes]]  # latest values: datastream id -> (row, its encoded item)


@dataclass
class _Lookup(Generic[_B]):
    """What a read found: the cached body if still true, else the keys to store the new one under."""

    body: _B | None
    previous: _Cached[_B] | None
    marker: str | None
    fingerprint: tuple[Any, ...] | None
    generation: int
    row: tuple[Any, ...] | None = None  # the fingerprint as read, also when it may not vouch


class BodyCache(Generic[_B]):
    """Bodies kept per process while what they show has not changed, checked cheapest first.

    The database change marker (nothing committed since: the same body); else the fingerprint of the rows
    the body was made of (a query given per entry, see :func:`_fingerprint_sql`) and, on SQLite, this
    process's writers of sensing tables (:class:`_SensingWrites`): commits that touched none of them (an SLA
    sweep, the outbox relay) keep the body. Every key is read before the data, so a commit in between makes
    the next read miss rather than hit stale. Without a fingerprint query, only the marker vouches (the
    IOC summary's counts).
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._entries: dict[tuple[Any, ...], _Cached[_B]] = {}

    def lookup(self, session: Session, key: tuple[Any, ...], fingerprint: Executable | None) -> _Lookup[_B]:
        sqlite_ = session.get_bind().dialect.name == "sqlite"
        generation, quiet = _writes.state()
        marker = _marker.read(session)
        with self._lock:
            cached = self._entries.get(key) if marker is not None else None
        if marker is None or (cached is not None and cached.marker == marker):
            return _Lookup(cached.body if cached is not None else None, cached, marker, None, generation)
        if fingerprint is None:
            return _Lookup(None, cached, marker, None, generation)
        found = tuple(session.connection().execute(fingerprint).one())
        # SQLite: no writer of this process may have ended since the cached body was read, nor be under
        # way now (it may have committed already), as the fingerprint does not see every edit there
        unchanged = not sqlite_ or (cached is not None and _writes.state() == (cached.generation, True))
        if cached is not None and unchanged and cached.fingerprint == found:
            self._put(key, replace(cached, marker=marker))
            return _Lookup(cached.body, cached, marker, found, generation, found)
        # a writer of this process under way: only the marker may vouch for what is read now
        return _Lookup(None, cached, marker, found if quiet or not sqlite_ else None, generation, found)

    def store(
        self, session: Session, key: tuple[Any, ...], found: _Lookup[_B], body: _B, rows: dict[int, Any]
    ) -> None:
        if found.marker is None:
            return
        fingerprint = found.fingerprint
        if session.get_bind().dialect.name == "sqlite" and _writes.state() != (found.generation, True):
            fingerprint = None  # a writer of this process started or ended meanwhile
        self._put(key, _Cached(found.marker, fingerprint, found.generation, body, rows))

    def _put(self, key: tuple[Any, ...], entry: _Cached[_B]) -> None:
        with self._lock:
            self._entries.pop(key, None)
            self._entries[key] = entry  # most recently used last
            while len(self._entries) > self._size:
                del self._entries[next(iter(self._entries))]


_marker = _ChangeMarker()
_latest_cache: BodyCache[bytes] = BodyCache(4)  # one body per database
_aggregate_cache: BodyCache[bytes] = BodyCache(16)


def _iso_reader(session: Session, column: Any) -> tuple[Any, Callable[[Any], str | None]]:
    """A UTC timestamp column to select and the function giving its ``iso`` text (``...Z``), fast on SQLite.

    SQLite holds the UTC time as text (``YYYY-MM-DD HH:MM:SS.ffffff``): slicing it gives the same text as
    parsing, attaching the zone and formatting again; PostgreSQL formats it with ``to_char``. Either is a
    fraction of the per-row Python cost for thousands of rows.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        return type_coerce(column, String), _iso_of_sqlite_text
    if dialect == "postgresql":
        utc = func.timezone("UTC", column)
        text_expr = case(
            (func.date_trunc("second", utc) == utc, func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS"Z"')),
            else_=func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),  # MS truncates, like iso()
        )
        return text_expr, _same_text
    return column, iso


def _iso_text(session: Session, column: Any, *, whole_seconds: bool) -> Any:
    """SQL giving a UTC timestamp column's ``iso`` text (``...Z``, milliseconds only when there is a
    fraction of a second), so rows need no Python per value; ``whole_seconds`` when it never has one.

    SQLite holds the time as text (``YYYY-MM-DD HH:MM:SS.ffffff``), sliced; PostgreSQL formats it with
    ``to_char``; another dialect gets the same text through :func:`iso` (a type that formats on load).
    """
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        raw = type_coerce(column, String)
        seconds = func.substr(raw, 1, 10) + "T" + func.substr(raw, 12, 8)
        if whole_seconds:
            return seconds + "Z"
        fraction = func.substr(raw, 21, 6)
        return case(
            (func.rtrim(fraction, "0") != "", seconds + "." + func.substr(fraction + "000", 1, 3) + "Z"),
            else_=seconds + "Z",
        )
    if dialect == "postgresql":
        utc = func.timezone("UTC", column)
        text_expr = func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
        if whole_seconds:
            return text_expr
        return case(
            (func.date_trunc("second", utc) == utc, text_expr),
            else_=func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),  # MS truncates, like iso()
        )
    return type_coerce(column, _IsoText())


class _IsoText(TypeDecorator[Any]):
    """A UTC timestamp read as its ``iso`` text (for dialects without an SQL formatting above)."""

    impl = UTCDateTime
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Any) -> str | None:
        return iso(value)


def _same_text(value: str | None) -> str | None:
    return value


def _iso_of_sqlite_text(value: str | None) -> str | None:
    if value is None:
        return None
    fraction = value[20:26]
    if fraction.strip("0"):  # as iso(): milliseconds when there is a fraction of a second, else seconds
        return f"{value[:10]}T{value[11:19]}.{fraction.ljust(6, '0')[:3]}Z"
    return f"{value[:10]}T{value[11:19]}Z"


def _json_fragment(raw: str | None) -> orjson.Fragment | None:
    """A JSON column read as its stored text, embedded in the response without a parse/serialise trip."""
    return None if raw is None or raw == "null" else orjson.Fragment(raw)


def _latest_stmt(session: Session) -> tuple[Any, Callable[[Any], str | None]]:
    """The latest-values query (needed columns only, no ORM objects) and the ``iso`` text of its time."""
    # A station's position is its first Location (lowest id), as the STA Thing/Location link table holds it.
    first_loc = (
        select(func.min(thing_locations.c.location_id))
        .where(thing_locations.c.thing_id == Datastream.__table__.c.thing_id)
        .scalar_subquery()
    )
    ds = Datastream.__table__.c
    last_time_col, last_time_iso = _iso_reader(session, ds.last_phenomenon_time)
    stmt = (
        select(
            ds.id,
            ds.name,
            ds.thing_id,
            Thing.name,
            ObservedProperty.id,
            ObservedProperty.name,
            cast(ds.unit_of_measurement, Text),
            ds.last_value,
            cast(ds.last_result, Text),
            last_time_col,
            ds.last_observation_id,
            Location.lat,
            Location.lon,
        )
        .join(Thing, Thing.id == ds.thing_id)
        .join(ObservedProperty, ObservedProperty.id == ds.observed_property_id)
        .outerjoin(Location, Location.id == first_loc)
        .order_by(ds.id)
    )
    return stmt, last_time_iso


def _encode_item(row: Sequence[Any], last_time_iso: Callable[[Any], str | None]) -> bytes:
    (ds_id, name, thing_id, thing_name, op_id, op_name, unit, last_value, last_result, last_time, last_obs,
     lat, lon) = row  # fmt: skip
    return orjson.dumps(
        {
            "datastream_id": ds_id,
            "name": name,
            "thing_id": thing_id,
            "thing_name": thing_name,
            "observed_property_id": op_id,
            "observed_property": op_name,
            "unit": _json_fragment(unit),
            "result": join_result(last_value, None)
            if last_value is not None
            else _json_fragment(last_result),
            "phenomenon_time": last_time_iso(last_time),
            "observation_id": last_obs,
            "lat": lat,
            "lon": lon,
        }
    )


def _body(items: list[bytes]) -> bytes:
    """``{"items": [...], "count": n}`` from encoded items: the bytes ``orjson.dumps`` gives for the whole."""
    return b'{"items":[' + b",".join(items) + b'],"count":' + str(len(items)).encode() + b"}"


@router.get("/latest", response_class=Response, responses={200: {"model": LatestPage}})
def latest_values(
    session: ReadSessionDep,
    bbox: Annotated[str | None, Query(description="min_lon,min_lat,max_lon,max_lat (WGS 84)")] = None,
    area_id: Annotated[int | None, Query(description="Only stations inside this area's boundary")] = None,
    observed_property_id: Annotated[int | None, Query()] = None,
) -> Response:
    """The latest observation of every datastream, with its station and position.

    One Core query of the needed columns (no ORM objects), JSON columns passed through as stored text,
    each item encoded by orjson. The unfiltered body (the dashboard's and the map's) is kept per process
    and served again while nothing it shows has changed: see :func:`_unfiltered`.
    """
    if bbox is None and area_id is None and observed_property_id is None:
        return Response(_unfiltered(session), media_type="application/json")
    stmt, last_time_iso = _latest_stmt(session)
    ds = Datastream.__table__.c
    if observed_property_id is not None:
        stmt = stmt.where(ds.observed_property_id == observed_property_id)
    covers: Callable[[float | None, float | None], bool] | None = None
    if area_id is not None:
        shape = _area_shape(session, area_id)
        minx, miny, maxx, maxy = shape.bounds
        stmt = stmt.where(
            Location.lon >= minx, Location.lon <= maxx, Location.lat >= miny, Location.lat <= maxy
        )
        from shapely import prepared
        from shapely.geometry import Point

        prepared_shape = prepared.prep(shape)

        def inside(lat: float | None, lon: float | None) -> bool:
            return lat is not None and lon is not None and bool(prepared_shape.covers(Point(lon, lat)))

        covers = inside

    if bbox is not None:
        x1, y1, x2, y2 = parse_bbox(bbox)
        stmt = stmt.where(Location.lon >= x1, Location.lon <= x2, Location.lat >= y1, Location.lat <= y2)
    items = [
        _encode_item(row, last_time_iso)
        for row in session.connection().execute(stmt).all()
        if covers is None or covers(row[11], row[12])
    ]
    return Response(_body(items), media_type="application/json")


def _unfiltered(session: Session) -> bytes:
    """The body of every datastream's latest value, from the process's cache while still true
    (:class:`BodyCache`); else the rows are read again and only the items whose row changed are encoded
    again."""
    bind = session.get_bind()
    key = (str(bind.engine.url),)
    sql = _fingerprint_sql(bind.dialect.name)
    found = _latest_cache.lookup(session, key, text(sql) if sql else None)
    if found.body is not None:
        return found.body
    stmt, last_time_iso = _latest_stmt(session)
    old_rows = found.previous.rows if found.previous is not None else {}
    rows: dict[int, tuple[tuple[Any, ...], bytes]] = {}
    items = []
    for row in session.connection().execute(stmt).all():
        row_key = tuple(row)
        known = old_rows.get(row_key[0])
        encoded = (
            known[1] if known is not None and known[0] == row_key else _encode_item(row_key, last_time_iso)
        )
        rows[row_key[0]] = (row_key, encoded)
        items.append(encoded)
    body = _body(items)
    _latest_cache.store(session, key, found, body, rows)
    return body


def _area_shape(session: SessionDep, area_id: int) -> Any:
    from shapely.geometry import shape

    from cityops.areas.models import Area

    area = session.get(Area, area_id)
    if area is None:
        raise NotFound(f"No area with id {area_id}")
    if not area.geometry:
        raise Invalid("This area has no boundary", details={"field": "area_id"})
    return shape(area.geometry)


@router.get(
    "/datastreams/{datastream_id}/aggregate",
    response_class=Response,
    responses={200: {"model": AggregateOut}},
)
def aggregate(
    datastream_id: int,
    session: ReadSessionDep,
    start: Annotated[datetime, Query(alias="from", description="Start (inclusive); naive means local time")],
    end: Annotated[datetime, Query(alias="to", description="End (exclusive); naive means local time")],
    interval: Annotated[str, Query(description="minute, hour or day (UTC buckets)")] = "hour",
    fn: Annotated[
        str, Query(description="Comma-separated: avg,min,max,count,sum,last")
    ] = "avg,min,max,count,last",
) -> Response:
    """Aggregates per bucket from the roll-ups; buckets without observations are left out.

    A Core query of the roll-up columns over the primary key range, each row ready to encode, serialised
    by orjson: a year of hourly buckets (8,760 rows) without ORM objects or Python per value. The body is
    kept per process (:class:`BodyCache`, keyed by the request) while the range's fingerprint
    (:func:`_range_fingerprint`) is unchanged.
    """
    unit = session.execute(
        select(cast(Datastream.unit_of_measurement, Text)).where(Datastream.id == datastream_id)
    ).first()
    if unit is None:
        raise NotFound(f"No datastream with id {datastream_id}")
    if interval not in INTERVALS:
        raise Invalid("interval must be minute, hour or day", details={"field": "interval"})
    fns = [f.strip() for f in fn.split(",") if f.strip()]
    unknown = [f for f in fns if f not in AGGREGATES]
    if unknown or not fns:
        raise Invalid(
            f"fn must be a list of {', '.join(AGGREGATES)}", details={"field": "fn", "unknown": unknown}
        )
    start, end = ensure_utc(start), ensure_utc(end)
    if end <= start:
        raise Invalid("'to' must be after 'from'", details={"field": "to"})
    if (end - start) / INTERVALS[interval] > MAX_BUCKETS:
        raise Invalid(
            f"at most {MAX_BUCKETS} buckets per request; use a coarser interval",
            details={"field": "interval"},
        )
    r = ObservationRollup.__table__.c
    in_range = (
        r.datastream_id == datastream_id,
        r.interval == interval,
        r.bucket_start >= start,
        r.bucket_start < end,
    )
    key = (str(session.get_bind().engine.url), datastream_id, interval, start, end, tuple(fns))
    found = _aggregate_cache.lookup(session, key, _range_fingerprint(session, datastream_id, in_range))
    if found.body is not None:
        return Response(found.body, media_type="application/json")
    # the unit is part of the body: read after the cache keys, with the fingerprint when there is one
    unit_text: str | None = (
        found.row[-1]
        if found.row is not None
        else session.execute(
            select(cast(Datastream.unit_of_measurement, Text)).where(Datastream.id == datastream_id)
        ).scalar()
    )
    if unit_text is None:
        raise NotFound(f"No datastream with id {datastream_id}")
    # Every output column comes out of the database ready to encode (ISO text, the average divided there,
    # IEEE division as Python's), so a row becomes its item by dict(zip()) with no Python per value.
    columns: dict[str, Any] = {"start": _iso_text(session, r.bucket_start, whole_seconds=True)}
    for f in fns:
        if f == "avg":
            columns["avg"] = case((r.count > 0, r.sum / cast(r.count, Float)), else_=None)
        elif f == "last":
            columns["last"] = r.last
            columns["last_time"] = _iso_text(session, r.last_time, whole_seconds=False)
        else:
            columns[f] = {"min": r.min, "max": r.max, "count": r.count, "sum": r.sum}[f]
    keys = tuple(columns)
    rows = (
        session.connection()
        .execute(select(*columns.values()).where(*in_range).order_by(r.bucket_start))
        .all()
    )
    body = orjson.dumps(
        {
            "datastream_id": datastream_id,
            "interval": interval,
            "from": iso(start),
            "to": iso(end),
            "unit": _json_fragment(unit_text),
            "buckets": [dict(zip(keys, row)) for row in rows],  # noqa: B905 (as many as the columns)
        }
    )
    _aggregate_cache.store(session, key, found, body, {})
    return Response(body, media_type="application/json")


def _range_fingerprint(session: Session, datastream_id: int, in_range: tuple[Any, ...]) -> Executable | None:
    """One row that changes with any committed change to a roll-up range or its datastream's unit.

    PostgreSQL: the rows' count and a sum of their hashed ``xmin`` (an index range, no values read), and the
    datastream row's. SQLite: the count, the sum of the observation counts (every stored or deleted
    observation moves it, whichever process) and sums of the values; other edits by this process are seen
    by :class:`_SensingWrites`. The last column is the datastream's unit, which the body shows.
    """
    r = ObservationRollup.__table__.c
    ds = Datastream.__table__.c
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        xmin = func.hashint8(cast(cast(literal_column("xmin"), Text), BigInteger))
        row_version = (
            select(cast(literal_column("xmin"), Text)).where(ds.id == datastream_id).scalar_subquery()
        )
        unit = select(cast(ds.unit_of_measurement, Text)).where(ds.id == datastream_id).scalar_subquery()
        return select(func.count(), func.coalesce(func.sum(xmin), 0), row_version, unit).where(*in_range)
    if dialect == "sqlite":
        unit = select(cast(ds.unit_of_measurement, Text)).where(ds.id == datastream_id).scalar_subquery()
        return select(
            func.count(),
            func.sum(r.count),
            func.total(r.sum),
            func.total(r.min),
            func.total(r.max),
            func.total(r.last),
            func.max(r.last_time),
            unit,
        ).where(*in_range)
    return None
