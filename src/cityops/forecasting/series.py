"""Regular series read from the store: hourly means from the observation roll-ups (one query a datastream)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.forecasting.methods import Array
from cityops.sensing.models import ObservationRollup

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def hours_of(moment: datetime) -> float:
    return (moment - EPOCH).total_seconds() / 3600.0


def time_of(hours: float) -> datetime:
    return EPOCH + timedelta(hours=round(float(hours) * 3600) / 3600)


def hourly_series(
    session: Session, datastream_id: int, start: datetime, end: datetime
) -> tuple[Array, Array]:
    """Hourly means of ``datastream_id`` over [start, end) on a whole-hour grid (NaN where no reading)."""
    first = start.replace(minute=0, second=0, microsecond=0)
    times = np.arange(hours_of(first), hours_of(end), 1.0)
    values = np.full(len(times), np.nan)
    rows = session.execute(
        select(ObservationRollup.bucket_start, ObservationRollup.sum, ObservationRollup.count).where(
            ObservationRollup.datastream_id == datastream_id,
            ObservationRollup.interval == "hour",
            ObservationRollup.bucket_start >= first,
            ObservationRollup.bucket_start < end,
        )
    ).all()
    base = hours_of(first)
    for bucket, total, count in rows:
        i = round(hours_of(bucket) - base)
        if 0 <= i < len(values) and count:
            values[i] = total / count
    return times, values


def trim(times: Array, values: Array) -> tuple[Array, Array]:
    """The series up to its last reading (a forecast starts from what was last observed)."""
    ok = np.flatnonzero(np.isfinite(values))
    if not ok.size:
        return times[:0], values[:0]
    return times[: ok[-1] + 1], values[: ok[-1] + 1]
