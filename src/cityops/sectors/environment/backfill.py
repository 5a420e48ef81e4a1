"""Backfilling the environment's demo stations with simulated history, so a fresh demo looks alive.

``cityops demo`` stores the last 24 hours of the simulator's series for every environment datastream, ending
at now (:func:`cityops.sensing.stations.store_history`, without ``observations.created`` events: history is
not news for live subscribers): the IOC shows current values, the roll-ups exist, and the staleness rules
see stations that have just reported. What those events would drive is done here instead, in time order:
the hourly VN_AQI of the air stations and the alert rules of every datastream (so a dry-season salinity
alert is open right after loading, as it would be had the stations been reporting all along).

Stored points are never replaced (the store keeps the first value), so running it again only adds the
points that are new since the last run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from cityops.alerts.service import process_observations
from cityops.sectors.environment.air_quality import HOUR, INPUTS, aqi_datastream, publish_aqi_hours
from cityops.sensing.stations import HISTORY_BATCH, store_history
from cityops.specs import StationSpec

DEFAULT_HOURS = 24.0
YEAR_DAYS = 365
HOURLY = 3600  # seconds between readings of the year's history


@dataclass(slots=True)
class BackfillResult:
    """What a backfill stored: observations (new ones), AQI hours published and alert changes."""

    inserted: int = 0
    duplicates: int = 0
    aqi_hours: int = 0
    alert_changes: int = 0


def backfill(
    session: Session,
    stations: Sequence[StationSpec],
    *,
    end: datetime,
    hours: float = DEFAULT_HOURS,
    seed: int = 0,
    batch: timedelta = HISTORY_BATCH,
) -> BackfillResult:
    """Store the simulated readings of ``stations`` in [end - hours, end), then run AQI and rules on them.

    ``end`` must be timezone-aware; the caller commits. Stations or properties without a datastream are
    skipped.
    """
    start = end - timedelta(hours=hours)
    history = store_history(session, stations, start=start, end=end, seed=seed, batch=batch)
    result = BackfillResult(inserted=history.inserted, duplicates=history.duplicates)
    points = history.points
    aqi_things = {thing_id for thing_id, code in history.streams.values() if code in INPUTS}
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
        points[ds_id] = points.get(ds_id, []) + [(hour, float(value)) for hour, value in sorted(new.items())]
        published += len(new)
    return published


def backfill_year(
    session: Session, stations: Sequence[StationSpec], *, end: datetime, days: int = YEAR_DAYS, seed: int = 0
) -> BackfillResult:
    """Hourly readings of ``stations`` over the ``days`` before ``end`` (the detailed last day excluded).

    A year of history is what the monthly and yearly indicators (days with good air, salinity exceedance days)
    and the forecasts are computed from; one reading an hour keeps it to ~9,000 points a datastream. It is
    history only: no hourly VN_AQI datastream points and no alert rules run over it (the last day, stored by
    :func:`backfill` at full rate, drives those). Stored points are never replaced, so a rerun adds nothing.
    """
    hourly = [replace(s, interval_s=HOURLY) for s in stations]
    last = end - timedelta(hours=DEFAULT_HOURS)
    history = store_history(
        session, hourly, start=last - timedelta(days=days), end=last, seed=seed, batch=timedelta(days=7)
    )
    session.flush()
    return BackfillResult(inserted=history.inserted, duplicates=history.duplicates)
