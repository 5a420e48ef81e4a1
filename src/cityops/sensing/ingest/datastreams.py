"""What a batch changes on its Datastreams: phenomenon and result time ranges, the latest value (the
cache the native API and the IOC read instead of the observations), and the observed area (OGC 18-088).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, literal, or_, select, update
from sqlalchemy.orm import Session

from cityops.db import UTCDateTime
from cityops.sensing.ingest.batch import Batch, text_time
from cityops.sensing.models import (
    Datastream,
    FeatureOfInterest,
)


def update_datastreams(session: Session, batch: Batch, ids: list[int], series: dict[int, list[int]]) -> None:
    """Each Datastream's time ranges and latest value, from its new rows (one UPDATE per datastream)."""
    t = Datastream.__table__.c
    text = batch.text
    ends = batch.optional.get("phenomenon_time_end")
    result_times = batch.optional.get("result_time")
    for ds_id, idx in series.items():
        last = idx[-1]
        pt_max = max((ends[i] or text[i]) for i in idx) if ends is not None else text[last]
        values: dict[str, Any] = {
            "phenomenon_time_start": _least(t.phenomenon_time_start, text_time(text[idx[0]])),
            "phenomenon_time_end": _greatest(t.phenomenon_time_end, text_time(pt_max)),
        }
        rts = [rt for i in idx if (rt := result_times[i]) is not None] if result_times is not None else []
        if rts:
            values["result_time_start"] = _least(t.result_time_start, text_time(min(rts)))
            values["result_time_end"] = _greatest(t.result_time_end, text_time(max(rts)))
        last_time = literal(text_time(text[last]), UTCDateTime())
        newer = or_(t.last_phenomenon_time.is_(None), t.last_phenomenon_time <= last_time)
        number = batch.number[last]
        last_json = batch.other[last] if batch.other is not None and number is None else None
        values["last_phenomenon_time"] = case((newer, last_time), else_=t.last_phenomenon_time)
        values["last_value"] = case((newer, literal(number)), else_=t.last_value)
        values["last_observation_id"] = case((newer, literal(ids[last])), else_=t.last_observation_id)
        values["last_result"] = case((newer, literal(last_json, t.last_result.type)), else_=t.last_result)
        session.execute(update(Datastream).where(Datastream.id == ds_id).values(**values))


def envelope(points: Sequence[tuple[float, float]]) -> dict[str, Any] | None:
    """GeoJSON of the bounding box of (lon, lat) points: a Point for one position, else a Polygon."""
    if not points:
        return None
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    x1, x2, y1, y2 = min(xs), max(xs), min(ys), max(ys)
    if x1 == x2 and y1 == y2:
        return {"type": "Point", "coordinates": [x1, y1]}
    return {"type": "Polygon", "coordinates": [[[x1, y1], [x2, y1], [x2, y2], [x1, y2], [x1, y1]]]}


def _corners(area: Any) -> list[tuple[float, float]]:
    if not isinstance(area, dict):
        return []
    coords = area.get("coordinates")
    if area.get("type") == "Point" and isinstance(coords, list) and len(coords) >= 2:
        return [(float(coords[0]), float(coords[1]))]
    if area.get("type") == "Polygon" and isinstance(coords, list) and coords:
        return [(float(c[0]), float(c[1])) for c in coords[0]]
    return []


def update_observed_areas(session: Session, pairs: set[tuple[int, int | None]]) -> None:
    """Grow each Datastream's observedArea to the bounding box of its Observations' features (OGC 18-088)."""
    if not pairs:
        return
    foi_ids = {f for _, f in pairs}
    where: dict[int, tuple[float, float]] = dict(
        (r[0], (float(r[1] or 0), float(r[2] or 0)))
        for r in session.execute(
            select(FeatureOfInterest.id, FeatureOfInterest.lon, FeatureOfInterest.lat).where(
                FeatureOfInterest.id.in_(foi_ids),
                FeatureOfInterest.lon.is_not(None),
                FeatureOfInterest.lat.is_not(None),
            )
        ).all()
    )
    by_ds: dict[int, list[tuple[float, float]]] = {}
    for ds_id, foi in pairs:
        if foi in where:
            by_ds.setdefault(ds_id, []).append(where[foi])
    for ds_id, points in by_ds.items():
        current = session.execute(select(Datastream.observed_area).where(Datastream.id == ds_id)).scalar_one()
        old = _corners(current)
        area = envelope(old + points)
        if area != current:
            session.execute(update(Datastream).where(Datastream.id == ds_id).values(observed_area=area))


def _least(col: Any, value: datetime) -> ColumnElement[Any]:
    v = literal(value, UTCDateTime())
    return case((or_(col.is_(None), col > v), v), else_=col)


def _greatest(col: Any, value: datetime) -> ColumnElement[Any]:
    v = literal(value, UTCDateTime())
    return case((or_(col.is_(None), col < v), v), else_=col)
