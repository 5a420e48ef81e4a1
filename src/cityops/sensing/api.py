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
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Response
from sqlalchemy import String, Text, case, cast, func, select, text, type_coerce
from sqlalchemy.orm import Session

from cityops.clock import ensure_utc
from cityops.deps import SessionDep
from cityops.errors import Invalid, NotFound
from cityops.sensing.models import (
    Datastream,
    Location,
    ObservationRollup,
    ObservedProperty,
    Thing,
    thing_locations,
)
from cityops.sensing.sta_entities import iso
from cityops.sensing.storage import INTERVALS, join_result

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

    Keys the cached latest-values body, so a cache hit is never older than the last commit, whichever
    process made it. PostgreSQL: the current snapshot (``xmin:xmax:xip``); equal snapshots see the same
    committed transactions. SQLite: ``PRAGMA data_version`` of a connection kept for this and nothing else;
    it changes when any other connection (this process's pool or another process) commits. Any write
    invalidates, not only writes to the sensing tables: correct first, and free while nobody writes.
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


_marker = _ChangeMarker()
# (database url, change marker, body) of the last unfiltered latest-values response of this process
_latest_cache: tuple[str, str, bytes] | None = None


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


@router.get("/latest", response_class=Response, responses={200: {"content": {"application/json": {}}}})
def latest_values(
    session: SessionDep,
    bbox: Annotated[str | None, Query(description="min_lon,min_lat,max_lon,max_lat (WGS 84)")] = None,
    area_id: Annotated[int | None, Query(description="Only stations inside this area's boundary")] = None,
    observed_property_id: Annotated[int | None, Query()] = None,
) -> Response:
    """The latest observation of every datastream, with its station and position.

    One Core query of the needed columns (no ORM objects), JSON columns passed through as stored text,
    the body serialised by orjson. The unfiltered body (the dashboard's and the map's) is kept per process
    under a database change marker (:class:`_ChangeMarker`) and served again until anything commits.
    """
    global _latest_cache
    unfiltered = bbox is None and area_id is None and observed_property_id is None
    marker, url = None, str(session.get_bind().engine.url)
    if unfiltered:
        # read before the data, so a commit in between makes the next read miss rather than hit stale
        marker = _marker.read(session)
        cached = _latest_cache
        if marker is not None and cached is not None and cached[:2] == (url, marker):
            return Response(cached[2], media_type="application/json")
    # A station's position is its first Location (lowest id), as the STA Thing/Location link table holds it.
    first_loc = (
        select(thing_locations.c.thing_id, func.min(thing_locations.c.location_id).label("location_id"))
        .group_by(thing_locations.c.thing_id)
        .subquery()
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
        .outerjoin(first_loc, first_loc.c.thing_id == ds.thing_id)
        .outerjoin(Location, Location.id == first_loc.c.location_id)
        .order_by(ds.id)
    )
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
        for (
            ds_id,
            name,
            thing_id,
            thing_name,
            op_id,
            op_name,
            unit,
            last_value,
            last_result,
            last_time,
            last_obs,
            lat,
            lon,
        ) in session.connection().execute(stmt).all()
        if covers is None or covers(lat, lon)
    ]
    body = orjson.dumps({"items": items, "count": len(items)})
    if unfiltered and marker is not None:
        _latest_cache = (url, marker, body)
    return Response(body, media_type="application/json")


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
    responses={200: {"content": {"application/json": {}}}},
)
def aggregate(
    datastream_id: int,
    session: SessionDep,
    start: Annotated[datetime, Query(alias="from", description="Start (inclusive); naive means local time")],
    end: Annotated[datetime, Query(alias="to", description="End (exclusive); naive means local time")],
    interval: Annotated[str, Query(description="minute, hour or day (UTC buckets)")] = "hour",
    fn: Annotated[
        str, Query(description="Comma-separated: avg,min,max,count,sum,last")
    ] = "avg,min,max,count,last",
) -> Response:
    """Aggregates per bucket from the roll-ups; buckets without observations are left out.

    A Core query of the roll-up columns over the primary key range, serialised by orjson: a year of
    hourly buckets (8,760 rows) without ORM objects.
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
    bucket_col, bucket_iso = _iso_reader(session, r.bucket_start)
    last_time_col, last_time_iso = _iso_reader(session, r.last_time)
    rows = (
        session.connection()
        .execute(
            select(bucket_col, r.count, r.sum, r.min, r.max, r.last, last_time_col)
            .where(
                r.datastream_id == datastream_id,
                r.interval == interval,
                r.bucket_start >= start,
                r.bucket_start < end,
            )
            .order_by(r.bucket_start)
        )
        .all()
    )
    buckets = []
    for bucket_start, count, total, low, high, last, last_time in rows:
        item: dict[str, Any] = {"start": bucket_iso(bucket_start)}
        for f in fns:
            if f == "avg":
                item["avg"] = total / count if count else None
            elif f == "min":
                item["min"] = low
            elif f == "max":
                item["max"] = high
            elif f == "count":
                item["count"] = count
            elif f == "sum":
                item["sum"] = total
            else:
                item["last"] = last
                item["last_time"] = last_time_iso(last_time)
        buckets.append(item)
    body = {
        "datastream_id": datastream_id,
        "interval": interval,
        "from": iso(start),
        "to": iso(end),
        "unit": _json_fragment(unit[0]),
        "buckets": buckets,
    }
    return Response(orjson.dumps(body), media_type="application/json")
