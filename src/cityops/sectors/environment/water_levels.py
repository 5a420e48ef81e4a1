"""Water levels against the alarm levels I/II/III, and the day's tide peaks, per water station.

The alarm levels are the Thing's ``alarm_levels`` property (metres in the station's datum, as the alert
template ``env.water-level-alarm`` reads them; the province declares them per station). A level is at alarm
``III`` when it reaches level III, else ``II``, else ``I``, else none.

Tide peaks of the local day (Asia/Ho_Chi_Minh) come from the hourly roll-ups: a high water is an hour whose
maximum is above both neighbours' (the first and last hour need one neighbour lower and are skipped when the
day is still running), a low water likewise with minima. Semi-diurnal tides give two of each a day; the hour
is the roll-up's, so a peak's time is good to the hour.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.clock import LOCAL_TZ, to_local
from cityops.sensing.models import (
    Datastream,
    Location,
    ObservationRollup,
    ObservedProperty,
    Thing,
    thing_locations,
)

ORDER = ("I", "II", "III")


def alarm_of(level: float | None, levels: Mapping[str, float] | None) -> str | None:
    """The highest alarm level ``level`` reaches ("I", "II", "III"), or None."""
    if level is None or not levels:
        return None
    reached = [name for name in ORDER if name in levels and level >= float(levels[name])]
    return reached[-1] if reached else None


def peaks(
    hours: Sequence[tuple[datetime, float, float]],
) -> tuple[list[tuple[datetime, float]], list[tuple[datetime, float]]]:
    """High and low waters from (hour, max, min) rows in time order."""
    highs, lows = [], []
    for i in range(1, len(hours) - 1):
        (_, hi_prev, lo_prev), (t, hi, lo), (_, hi_next, lo_next) = hours[i - 1], hours[i], hours[i + 1]
        if hi > hi_prev and hi >= hi_next:
            highs.append((t, hi))
        if lo < lo_prev and lo <= lo_next:
            lows.append((t, lo))
    return highs, lows


@dataclass(slots=True)
class StationLevel:
    thing_id: int
    code: str
    name: str
    lat: float | None
    lon: float | None
    level: float | None
    time: datetime | None
    alarm_levels: dict[str, float]
    alarm: str | None
    highs: list[tuple[datetime, float]] = field(default_factory=list)
    lows: list[tuple[datetime, float]] = field(default_factory=list)


def station_levels(session: Session, now: datetime) -> list[StationLevel]:
    """Every water station with a water level: latest value, alarm, today's peaks (a fixed number of statements)."""
    things = [
        t
        for t in session.scalars(select(Thing).order_by(Thing.id)).all()
        if (t.properties or {}).get("station_code") and (t.properties or {}).get("kind") == "water"
    ]
    if not things:
        return []
    ids = [t.id for t in things]
    codes = {
        op.id: (op.properties or {}).get("code") for op in session.scalars(select(ObservedProperty)).all()
    }
    streams = {
        ds.thing_id: ds
        for ds in session.scalars(select(Datastream).where(Datastream.thing_id.in_(ids)))
        if codes.get(ds.observed_property_id) == "water_level"
    }
    where: dict[int, tuple[float, float]] = {}
    for thing_id, lat, lon in session.execute(
        select(thing_locations.c.thing_id, Location.lat, Location.lon)
        .join(Location, Location.id == thing_locations.c.location_id)
        .where(thing_locations.c.thing_id.in_(ids))
    ):
        where.setdefault(thing_id, (lat, lon))
    day_start = datetime.combine(to_local(now).date(), time(0), tzinfo=LOCAL_TZ)
    hours: dict[int, list[tuple[datetime, float, float]]] = {}
    by_ds = {ds.id: thing_id for thing_id, ds in streams.items()}
    if by_ds:
        for r in session.scalars(
            select(ObservationRollup)
            .where(
                ObservationRollup.datastream_id.in_(by_ds),
                ObservationRollup.interval == "hour",
                ObservationRollup.bucket_start >= day_start - timedelta(hours=1),
                ObservationRollup.bucket_start < day_start + timedelta(hours=25),
            )
            .order_by(ObservationRollup.bucket_start)
        ):
            if r.max is not None and r.min is not None:
                hours.setdefault(by_ds[r.datastream_id], []).append((r.bucket_start, r.max, r.min))
    out = []
    for t in things:
        ds = streams.get(t.id)
        if ds is None:
            continue
        props: dict[str, Any] = t.properties or {}
        levels = {k: float(v) for k, v in (props.get("alarm_levels") or {}).items()}
        highs, lows = peaks(hours.get(t.id, []))
        today = day_start.date()
        lat, lon = where.get(t.id, (None, None))
        out.append(
            StationLevel(
                thing_id=t.id,
                code=str(props["station_code"]),
                name=t.name,
                lat=lat,
                lon=lon,
                level=ds.last_value,
                time=ds.last_phenomenon_time,
                alarm_levels=levels,
                alarm=alarm_of(ds.last_value, levels),
                highs=[(h, v) for h, v in highs if to_local(h).date() == today],
                lows=[(h, v) for h, v in lows if to_local(h).date() == today],
            )
        )
    return out
