"""What a batch changes on its Datastreams: phenomenon and result time ranges, the latest value (the
cache the native API and the IOC read instead of the observations), and the observed area (OGC 18-088).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, Update, and_, bindparam, case, or_, select, update
from sqlalchemy.orm import Session

from cityops.db import UTCDateTime
from cityops.sensing.ingest.batch import Batch, text_time
from cityops.sensing.models import (
    Datastream,
    FeatureOfInterest,
)
from cityops.sensing.quality import UNFIT


@functools.cache
def _update_statement() -> Update:
    """One UPDATE for every Datastream of a batch (executed once with a parameter set per Datastream), so a
    request of 10 Datastreams costs one statement, compiled once per process, not 10 built and compiled."""
    t = Datastream.__table__.c

    def at(name: str) -> BindParameter[Any]:
        return bindparam(name, type_=UTCDateTime())

    newer = and_(
        at("b_last").is_not(None),
        or_(t.last_phenomenon_time.is_(None), t.last_phenomenon_time <= at("b_last")),
    )
    return (
        update(Datastream)
        .where(t.id == bindparam("b_id"))
        .values(
            phenomenon_time_start=_least(t.phenomenon_time_start, at("b_pts")),
            phenomenon_time_end=_greatest(t.phenomenon_time_end, at("b_pte")),
            result_time_start=_least(t.result_time_start, at("b_rts")),
            result_time_end=_greatest(t.result_time_end, at("b_rte")),
            last_phenomenon_time=case((newer, at("b_last")), else_=t.last_phenomenon_time),
            last_value=case((newer, bindparam("b_value", type_=t.last_value.type)), else_=t.last_value),
            last_observation_id=case(
                (newer, bindparam("b_obs", type_=t.last_observation_id.type)), else_=t.last_observation_id
            ),
            last_result=case((newer, bindparam("b_result", type_=t.last_result.type)), else_=t.last_result),
        )
    )


def update_datastreams(session: Session, batch: Batch, ids: list[int], series: dict[int, list[int]]) -> None:
    """Each Datastream's time ranges and latest value, from its new rows: one statement for the batch.

    The latest value is the newest row without an :data:`UNFIT` flag: a RANGE-flagged 999 g/L is stored
    and counted in the time range, but the latest value (what the API, the IOC and the panels show)
    stays the last plausible one."""
    text = batch.text
    flags = batch.flags
    ends = batch.optional.get("phenomenon_time_end")
    result_times = batch.optional.get("result_time")
    params: list[dict[str, Any]] = []
    for ds_id, idx in series.items():
        pt_max = max((ends[i] or text[i]) for i in idx) if ends is not None else text[idx[-1]]
        rts = [rt for i in idx if (rt := result_times[i]) is not None] if result_times is not None else []
        last = next((i for i in reversed(idx) if not flags[i] & UNFIT), None)
        number = batch.number[last] if last is not None else None
        params.append(
            {
                "b_id": ds_id,
                "b_pts": text_time(text[idx[0]]),
                "b_pte": text_time(pt_max),
                "b_rts": text_time(min(rts)) if rts else None,
                "b_rte": text_time(max(rts)) if rts else None,
                "b_last": text_time(text[last]) if last is not None else None,
                "b_value": number,
                "b_obs": ids[last] if last is not None else None,
                "b_result": batch.other[last]
                if last is not None and batch.other is not None and number is None
                else None,
            }
        )
    session.connection().execute(_update_statement(), params)


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
    if not by_ds:
        return
    areas: dict[int, Any] = dict(
        session.execute(select(Datastream.id, Datastream.observed_area).where(Datastream.id.in_(by_ds))).all()
    )
    for ds_id, points in by_ds.items():
        current = areas.get(ds_id)
        old = _corners(current)
        area = envelope(old + points)
        if area != current:
            session.execute(update(Datastream).where(Datastream.id == ds_id).values(observed_area=area))


def _least(col: Any, v: BindParameter[Any]) -> ColumnElement[Any]:
    """``v`` when it is earlier than ``col`` (or ``col`` is null); ``col`` when ``v`` is null."""
    return case((v.is_(None), col), (or_(col.is_(None), col > v), v), else_=col)


def _greatest(col: Any, v: BindParameter[Any]) -> ColumnElement[Any]:
    return case((v.is_(None), col), (or_(col.is_(None), col < v), v), else_=col)
