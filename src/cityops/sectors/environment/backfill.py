"""Backfilling the demo stations with simulated history, so a fresh demo looks alive.

``cityops demo`` stores the last 24 hours of the simulator's series for every demo datastream, ending at
now: the IOC shows current values, the roll-ups exist, and the staleness rules see stations that have just
reported. The values are generated in-process (:func:`cityops.sensing.simulator.readings`) and stored an
hour at a time through :func:`cityops.sensing.storage.ingest_observations`, without the
``observations.created`` events: history is not news for live subscribers (MQTT publishing). What
those events would drive is done here instead, in time order: the hourly VN_AQI of the air stations and
the alert rules of every datastream (so a dry-season salinity alert is open right after loading, as it
would be had the stations been reporting all along).

Stored points are never replaced (the store keeps the first value), so running it again only adds the
points that are new since the last run.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.alerts.service import process_observations
from cityops.sectors.environment.air_quality import HOUR, INPUTS, aqi_datastream, publish_aqi_hours
from cityops.sensing.models import Datastream, ObservedProperty, Thing
from cityops.sensing.simulator import StationSpec, readings
from cityops.sensing.storage import ObservationIn, ingest_observations

DEFAULT_HOURS = 24.0
BATCH = timedelta(hours=6)  # simulated time per stored batch


@dataclass(slots=True)
class BackfillResult:
    """What a backfill stored: observations (new ones), AQI hours published and alert changes."""

    inserted: int = 0
    duplicates: int = 0
    aqi_hours: int = 0
    alert_changes: int = 0


def datastream_index(session: Session) -> dict[tuple[str, str], Datastream]:
    """(station_code, property code) → Datastream, over every Thing that has a ``station_code``."""
    rows = session.execute(
        select(Datastream, Thing.properties, ObservedProperty.properties)
        .join(Thing, Thing.id == Datastream.thing_id)
        .join(ObservedProperty, ObservedProperty.id == Datastream.observed_property_id)
    ).all()
    out: dict[tuple[str, str], Datastream] = {}
    for ds, thing_props, op_props in rows:
        station = (thing_props or {}).get("station_code")
        code = (op_props or {}).get("code")
        if station and code:
            out[(str(station), str(code))] = ds
    return out


def backfill(
    session: Session,
    stations: Sequence[StationSpec],
    *,
    end: datetime,
    hours: float = DEFAULT_HOURS,
    seed: int = 0,
    batch: timedelta = BATCH,
) -> BackfillResult:
    """Store the simulated readings of ``stations`` in [end - hours, end), then run AQI and rules on them.

    ``end`` must be timezone-aware; the caller commits. Stations or properties without a datastream are
    skipped.
    """
    index = datastream_index(session)
    result = BackfillResult()
    start = end - timedelta(hours=hours)
    points: dict[int, list[tuple[datetime, float]]] = defaultdict(list)
    aqi_things: set[int] = set()
    window = start
    while window < end:
        upper = min(window + batch, end)
        rows: list[ObservationIn] = []
        for r in readings(stations, window, upper, seed=seed):
            ds = index.get((r.station, r.property))
            if ds is None:
                continue
            rows.append(ObservationIn(datastream_id=ds.id, phenomenon_time=r.time, result=r.value))
            points[ds.id].append((r.time, r.value))
            if r.property in INPUTS:
                aqi_things.add(ds.thing_id)
        stored = ingest_observations(session, rows, emit_event=False)
        result.inserted += stored.inserted
        result.duplicates += stored.duplicates
        window = upper
    result.aqi_hours = _publish_aqi(session, aqi_things, start, end, points)
    for ds_id in sorted(points):
        result.alert_changes += len(process_observations(session, ds_id, points[ds_id], now=end))
    session.flush()
    return result


def _publish_aqi(
    session: Session,
    thing_ids: set[int],
    start: datetime,
    end: datetime,
    points: dict[int, list[tuple[datetime, float]]],
) -> int:
    """Publish the VN_AQI of every complete hour of the window; its points join ``points`` for the rules."""
    first = start.replace(minute=0, second=0, microsecond=0)
    if first < start:  # a partial first hour would give a skewed mean
        first += HOUR
    hours = [first + i * HOUR for i in range(int((end - first) / HOUR))]
    published = 0
    for thing_id in sorted(thing_ids):
        ds_id = aqi_datastream(session, thing_id).id
        new = publish_aqi_hours(session, thing_id, hours, emit_event=False)
        points[ds_id] += [(hour, float(value)) for hour, value in sorted(new.items())]
        published += len(new)
    return published
