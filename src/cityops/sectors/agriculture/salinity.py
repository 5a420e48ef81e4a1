"""The salinity each water station saw and is forecast to see: what bulletins, gates and intrusion read.

Read through sensing's tables only (no other sector is imported): a station is a Thing with a
``station_code`` and ``kind == "water"``, carrying ``river`` and ``distance_to_sea_km`` (its river kilometre
from the mouth). *Observed* is the highest hourly maximum of its ``salinity`` Datastream over the last
:data:`OBSERVED_HOURS` (the day's peak at high tide, as provincial bulletins report); *hourly* its hourly
means over that day (the tide's shape, for the safe window). *Forecast* comes from the forecast Datastreams
of forecasting (#16) — those whose ``properties.forecast.of`` is the salinity Datastream — over the next
:data:`FORECAST_HOURS`: for each time the value of the shortest lead. No forecast: observed only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.sensing.models import (
    Datastream,
    Location,
    Observation,
    ObservationRollup,
    ObservedProperty,
    Thing,
    thing_locations,
)

OBSERVED_HOURS = 24
FORECAST_HOURS = 48


@dataclass(slots=True)
class StationSalinity:
    """One water station's salinity now and ahead (g/L)."""

    code: str
    name: str
    river: str
    km: float | None
    lat: float | None
    lon: float | None
    area_ids: list[int]
    observed_max: float | None = None
    observed_at: datetime | None = None
    hourly: list[tuple[datetime, float]] = field(default_factory=list)
    forecast: list[tuple[datetime, float]] = field(default_factory=list)
    datastream_id: int | None = None  # its salinity Datastream

    @property
    def forecast_max(self) -> float | None:
        return max((v for _t, v in self.forecast), default=None)

    def forecast_max_within(self, hours: float, now: datetime) -> float | None:
        return max((v for t, v in self.forecast if t <= now + timedelta(hours=hours)), default=None)


def _codes(session: Session) -> dict[int, str]:
    return {
        op.id: str((op.properties or {}).get("code"))
        for op in session.scalars(select(ObservedProperty)).all()
        if (op.properties or {}).get("code")
    }


def salinity_outlook(session: Session, now: datetime) -> dict[str, StationSalinity]:
    """Every water station's salinity by station code (a fixed number of statements)."""
    every = session.scalars(select(Thing).order_by(Thing.id)).all()
    things = [
        t
        for t in every
        if (t.properties or {}).get("station_code") and (t.properties or {}).get("kind") == "water"
    ]
    if not things:
        return {}
    ids = [t.id for t in things]
    # forecasting keeps a station's forecast Datastreams on a Thing of their own (properties.forecast_of_thing)
    forecast_things = [t.id for t in every if (t.properties or {}).get("forecast_of_thing") in ids]
    codes = _codes(session)
    salinity: dict[int, Datastream] = {}
    forecasts: list[Datastream] = []
    for ds in session.scalars(select(Datastream).where(Datastream.thing_id.in_(ids + forecast_things))):
        code = codes.get(ds.observed_property_id)
        if code == "salinity":
            salinity[ds.id] = ds
        elif code == "salinity_forecast":
            forecasts.append(ds)
    where: dict[int, tuple[float, float]] = {}
    for thing_id, lat, lon in session.execute(
        select(thing_locations.c.thing_id, Location.lat, Location.lon)
        .join(Location, Location.id == thing_locations.c.location_id)
        .where(thing_locations.c.thing_id.in_(ids))
    ):
        where.setdefault(thing_id, (lat, lon))
    out: dict[int, StationSalinity] = {}
    for t in things:
        props: dict[str, Any] = t.properties or {}
        km = props.get("river_km", props.get("distance_to_sea_km"))
        lat, lon = where.get(t.id, (None, None))
        out[t.id] = StationSalinity(
            code=str(props["station_code"]),
            name=t.name,
            river=str(props.get("river") or ""),
            km=float(km) if km is not None else None,
            lat=lat,
            lon=lon,
            area_ids=[int(a) for a in props.get("area_ids") or []],
        )
    for ds in salinity.values():
        out[ds.thing_id].datastream_id = ds.id
    _observed(session, salinity, out, now)
    _forecast(session, salinity, forecasts, out, now)
    return {s.code: s for s in out.values()}


def _observed(
    session: Session, salinity: dict[int, Datastream], out: dict[int, StationSalinity], now: datetime
) -> None:
    if not salinity:
        return
    rows = session.scalars(
        select(ObservationRollup)
        .where(
            ObservationRollup.datastream_id.in_(salinity),
            ObservationRollup.interval == "hour",
            ObservationRollup.bucket_start > now - timedelta(hours=OBSERVED_HOURS + 1),
            ObservationRollup.bucket_start <= now,
        )
        .order_by(ObservationRollup.bucket_start)
    ).all()
    for r in rows:
        station = out[salinity[r.datastream_id].thing_id]
        if r.count:
            station.hourly.append((r.bucket_start, r.sum / r.count))
        if r.max is not None and (station.observed_max is None or r.max > station.observed_max):
            station.observed_max = r.max
            station.observed_at = r.bucket_start


def _forecast(
    session: Session,
    salinity: dict[int, Datastream],
    forecasts: list[Datastream],
    out: dict[int, StationSalinity],
    now: datetime,
) -> None:
    lead: dict[int, tuple[int, float]] = {}  # forecast ds → (thing, horizon hours)
    for ds in forecasts:
        info = (ds.properties or {}).get("forecast")
        if isinstance(info, dict) and info.get("of") in salinity:
            lead[ds.id] = (salinity[int(info["of"])].thing_id, float(info.get("horizon_hours") or 0))
    if not lead:
        return
    best: dict[tuple[int, datetime], tuple[float, float]] = {}
    for ds_id, when, value in session.execute(
        select(Observation.datastream_id, Observation.phenomenon_time, Observation.result_number).where(
            Observation.datastream_id.in_(lead),
            Observation.phenomenon_time > now,
            Observation.phenomenon_time <= now + timedelta(hours=FORECAST_HOURS),
        )
    ):
        if value is None or ds_id is None or when is None:
            continue
        thing_id, horizon = lead[ds_id]
        key = (thing_id, when)
        if key not in best or horizon < best[key][0]:
            best[key] = (horizon, float(value))
    for (thing_id, when), (_h, value) in sorted(best.items(), key=lambda kv: kv[0][1]):
        out[thing_id].forecast.append((when, value))
