"""Native sensing endpoints under ``/api/v1/sensing``: what STA makes slow or impossible.

- ``GET /api/v1/sensing/latest``: the latest value of every datastream (one indexed read of the
  ``last_*`` columns maintained on ingest), optionally within a ``bbox`` or an administrative area.
- ``GET /api/v1/sensing/datastreams/{id}/aggregate``: avg/min/max/count/last per minute, hour or day,
  read from the incrementally maintained ``observation_rollups``.
Reads are public, like the SensorThings API.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

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


@router.get("/latest")
def latest_values(
    session: SessionDep,
    bbox: Annotated[str | None, Query(description="min_lon,min_lat,max_lon,max_lat (WGS 84)")] = None,
    area_id: Annotated[int | None, Query(description="Only stations inside this area's boundary")] = None,
    observed_property_id: Annotated[int | None, Query()] = None,
) -> dict[str, Any]:
    """The latest observation of every datastream, with its station and position."""
    first_loc = (
        select(thing_locations.c.thing_id, func.min(thing_locations.c.location_id).label("location_id"))
        .group_by(thing_locations.c.thing_id)
        .subquery()
    )
    loc = aliased(Location)
    stmt = (
        select(Datastream, Thing.name, ObservedProperty.name, ObservedProperty.id, loc.lat, loc.lon)
        .join(Thing, Thing.id == Datastream.thing_id)
        .join(ObservedProperty, ObservedProperty.id == Datastream.observed_property_id)
        .outerjoin(first_loc, first_loc.c.thing_id == Thing.id)
        .outerjoin(loc, loc.id == first_loc.c.location_id)
        .order_by(Datastream.id)
    )
    if observed_property_id is not None:
        stmt = stmt.where(Datastream.observed_property_id == observed_property_id)
    shape = None
    if area_id is not None:
        shape = _area_shape(session, area_id)
        minx, miny, maxx, maxy = shape.bounds
        stmt = stmt.where(loc.lon >= minx, loc.lon <= maxx, loc.lat >= miny, loc.lat <= maxy)
    if bbox is not None:
        x1, y1, x2, y2 = parse_bbox(bbox)
        stmt = stmt.where(loc.lon >= x1, loc.lon <= x2, loc.lat >= y1, loc.lat <= y2)
    items = []
    for ds, thing_name, op_name, op_id, lat, lon in session.execute(stmt).all():
        if shape is not None:
            from shapely.geometry import Point

            if lat is None or lon is None or not shape.covers(Point(lon, lat)):
                continue
        items.append(
            {
                "datastream_id": ds.id,
                "name": ds.name,
                "thing_id": ds.thing_id,
                "thing_name": thing_name,
                "observed_property_id": op_id,
                "observed_property": op_name,
                "unit": ds.unit_of_measurement,
                "result": join_result(ds.last_value, ds.last_result),
                "phenomenon_time": iso(ds.last_phenomenon_time),
                "observation_id": ds.last_observation_id,
                "lat": lat,
                "lon": lon,
            }
        )
    return {"items": items, "count": len(items)}


def _area_shape(session: SessionDep, area_id: int) -> Any:
    from shapely.geometry import shape

    from cityops.areas.models import Area

    area = session.get(Area, area_id)
    if area is None:
        raise NotFound(f"No area with id {area_id}")
    if not area.geometry:
        raise Invalid("This area has no boundary", details={"field": "area_id"})
    return shape(area.geometry)


@router.get("/datastreams/{datastream_id}/aggregate")
def aggregate(
    datastream_id: int,
    session: SessionDep,
    start: Annotated[datetime, Query(alias="from", description="Start (inclusive); naive means local time")],
    end: Annotated[datetime, Query(alias="to", description="End (exclusive); naive means local time")],
    interval: Annotated[str, Query(description="minute, hour or day (UTC buckets)")] = "hour",
    fn: Annotated[
        str, Query(description="Comma-separated: avg,min,max,count,sum,last")
    ] = "avg,min,max,count,last",
) -> dict[str, Any]:
    """Aggregates per bucket from the roll-ups; buckets without observations are left out."""
    ds = session.get(Datastream, datastream_id)
    if ds is None:
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
    rows = session.execute(
        select(ObservationRollup)
        .where(
            ObservationRollup.datastream_id == datastream_id,
            ObservationRollup.interval == interval,
            ObservationRollup.bucket_start >= start,
            ObservationRollup.bucket_start < end,
        )
        .order_by(ObservationRollup.bucket_start)
    ).scalars()
    buckets = []
    for r in rows:
        item: dict[str, Any] = {"start": iso(r.bucket_start)}
        for f in fns:
            if f == "avg":
                item["avg"] = r.sum / r.count if r.count else None
            elif f == "last":
                item["last"] = r.last
                item["last_time"] = iso(r.last_time)
            else:
                item[f] = getattr(r, f)
        buckets.append(item)
    return {
        "datastream_id": datastream_id,
        "interval": interval,
        "from": iso(start),
        "to": iso(end),
        "unit": ds.unit_of_measurement,
        "buckets": buckets,
    }
