"""Per-minute/hour/day roll-ups of numeric observations: computed per batch from the sorted time texts
(one upsert per bucket), rebuilt for a datastream, or refreshed around edited or deleted observations.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, literal, select, update
from sqlalchemy.orm import Session

from cityops.db import UTCDateTime
from cityops.sensing.ingest.batch import Batch, by_datastream, time_text
from cityops.sensing.ingest.datastreams import update_datastreams
from cityops.sensing.models import (
    Datastream,
    Observation,
    ObservationRollup,
)
from cityops.sensing.quality import UNFIT

INTERVALS: dict[str, timedelta] = {
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
}


def bucket_start(moment: datetime, interval: str) -> datetime:
    if interval == "minute":
        return moment.replace(second=0, microsecond=0)
    if interval == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


# Roll-up buckets from the canonical time text: (interval, characters kept, text completing the start).
_BUCKETS = (("minute", 16, ":00.000000"), ("hour", 13, ":00:00.000000"), ("day", 10, " 00:00:00.000000"))


_ROLLUP_SET = (
    '"count" = observation_rollups."count" + excluded."count", '
    '"sum" = observation_rollups."sum" + excluded."sum", '
    '"min" = {least}(coalesce(observation_rollups."min", excluded."min"), excluded."min"), '
    '"max" = {greatest}(coalesce(observation_rollups."max", excluded."max"), excluded."max"), '
    '"last" = CASE WHEN observation_rollups.last_time IS NULL OR excluded.last_time >= observation_rollups.last_time '
    'THEN excluded."last" ELSE observation_rollups."last" END, '
    "last_time = CASE WHEN observation_rollups.last_time IS NULL OR excluded.last_time >= observation_rollups.last_time "
    "THEN excluded.last_time ELSE observation_rollups.last_time END"
)


def rollup_rows(ds_id: int, texts: list[str], values: list[float]) -> list[tuple[Any, ...]]:
    """Roll-up rows ``(datastream, interval, bucket start text, count, sum, min, max, last, last time
    text)`` of points sorted by time (unique times). A bucket is a run of texts sharing a prefix, found by
    bisection, so the work per point is C code (slicing, ``sum``/``min``/``max``)."""
    out: list[tuple[Any, ...]] = []
    m = len(texts)
    for interval, cut, pad in _BUCKETS:
        i = 0
        while i < m:
            prefix = texts[i][:cut]
            j = bisect_right(texts, prefix + "\x7f", i)  # canonical texts are ASCII below 0x7f
            seg = values[i:j]
            out.append(
                (ds_id, interval, prefix + pad, j - i, sum(seg), min(seg), max(seg), seg[-1], texts[j - 1])
            )
            i = j
    return out


def upsert_rollups(session: Session, batch: Batch, series: dict[int, list[int]]) -> None:
    """Roll-ups of the batch's numeric rows; rows with an UNFIT quality flag are left out, so a RANGE-flagged
    999 g/L never becomes a KPI's maximum (#22)."""
    rows: list[tuple[Any, ...]] = []
    flags = batch.flags
    for ds_id, all_idx in series.items():
        idx = (
            all_idx
            if not any(flags[i] & UNFIT for i in all_idx)
            else [i for i in all_idx if not flags[i] & UNFIT]
        )
        if batch.other is None:
            texts = [batch.text[i] for i in idx]
            values = [batch.number[i] for i in idx]
        else:
            numeric = [i for i in idx if batch.number[i] is not None]
            texts = [batch.text[i] for i in numeric]
            values = [batch.number[i] for i in numeric]
        if texts:
            rows += rollup_rows(ds_id, texts, values)  # type: ignore[arg-type]
    if rows:
        _write_rollups(session, rows)


def _write_rollups(session: Session, rows: list[tuple[Any, ...]]) -> None:
    raw = session.connection().connection.driver_connection
    assert raw is not None
    cols = 'datastream_id, "interval", bucket_start, "count", "sum", "min", "max", "last", last_time'
    conflict = 'ON CONFLICT (datastream_id, "interval", bucket_start) DO UPDATE SET '
    if session.get_bind().dialect.name == "postgresql":
        # One statement over arrays (one bucket per row: a statement may not update a row twice), not one
        # execution per bucket.
        sql = (
            f"INSERT INTO observation_rollups ({cols}) "
            "SELECT d, i, (b || '+00')::timestamptz, c, s, lo, hi, l, (lt || '+00')::timestamptz "
            "FROM unnest(%s::int8[], %s::text[], %s::text[], %s::int8[], %s::float8[], %s::float8[], "
            "%s::float8[], %s::float8[], %s::text[]) AS r(d, i, b, c, s, lo, hi, l, lt) "
            + conflict
            + _ROLLUP_SET.format(least="least", greatest="greatest")
        )
        with raw.cursor() as cur:
            cur.execute(sql, [list(column) for column in zip(*rows, strict=True)])
        return
    sql = f"INSERT INTO observation_rollups ({cols}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) " + conflict
    cur = raw.cursor()
    try:
        cur.executemany(sql + _ROLLUP_SET.format(least="min", greatest="max"), rows)
    finally:
        cur.close()


def rebuild_rollups(session: Session, datastream_id: int) -> None:
    """Recompute a datastream's roll-ups and latest value from its observations (after deletes or edits)."""
    session.execute(delete(ObservationRollup).where(ObservationRollup.datastream_id == datastream_id))
    session.execute(
        update(Datastream)
        .where(Datastream.id == datastream_id)
        .values(
            last_value=None,
            last_result=None,
            last_phenomenon_time=None,
            last_observation_id=None,
            phenomenon_time_start=None,
            phenomenon_time_end=None,
            result_time_start=None,
            result_time_end=None,
        )
    )
    offset_id = 0
    while True:
        chunk = session.execute(
            select(Observation)
            .where(and_(Observation.datastream_id == datastream_id, Observation.id > offset_id))
            .order_by(Observation.id)
            .limit(5000)
        ).scalars()
        obs = list(chunk)
        if not obs:
            break
        offset_id = obs[-1].id
        other = [o.result_json if o.result_number is None else None for o in obs]
        ends = [o.phenomenon_time_end for o in obs]
        rts = [o.result_time for o in obs]
        batch = Batch(
            ds=[datastream_id] * len(obs),
            text=[time_text(o.phenomenon_time) for o in obs],
            number=[o.result_number for o in obs],
            other=other if any(v is not None for v in other) else None,
            foi=[o.feature_of_interest_id for o in obs],
            flags=[o.quality_flags or 0 for o in obs],
            optional={
                "phenomenon_time_end": [None if t is None else time_text(t) for t in ends],
                "result_time": [None if t is None else time_text(t) for t in rts],
            },
        )
        ids = [o.id for o in obs]
        series = by_datastream(batch, list(range(len(obs))))
        update_datastreams(session, batch, ids, series)
        upsert_rollups(session, batch, series)


def refresh_after_change(session: Session, datastream_id: int, times: Sequence[datetime]) -> None:
    """Recompute the roll-up buckets around ``times`` and the datastream's ranges and latest value.

    Called after an observation of the datastream was edited or deleted (rare; ingest is append-only).
    """
    obs = Observation.__table__.c
    for interval, width in INTERVALS.items():
        for start in sorted({bucket_start(t, interval) for t in times}):
            end = start + width
            in_bucket = and_(
                obs.datastream_id == datastream_id,
                obs.phenomenon_time >= literal(start, UTCDateTime()),
                obs.phenomenon_time < literal(end, UTCDateTime()),
                obs.result_number.is_not(None),
            )
            agg = session.execute(
                select(
                    func.count(),
                    func.sum(obs.result_number),
                    func.min(obs.result_number),
                    func.max(obs.result_number),
                ).where(in_bucket)
            ).one()
            session.execute(
                delete(ObservationRollup).where(
                    ObservationRollup.datastream_id == datastream_id,
                    ObservationRollup.interval == interval,
                    ObservationRollup.bucket_start == start,
                )
            )
            if agg[0]:
                last = session.execute(
                    select(obs.result_number, obs.phenomenon_time)
                    .where(in_bucket)
                    .order_by(obs.phenomenon_time.desc())
                    .limit(1)
                ).one()
                session.add(
                    ObservationRollup(
                        datastream_id=datastream_id,
                        interval=interval,
                        bucket_start=start,
                        count=agg[0],
                        sum=agg[1],
                        min=agg[2],
                        max=agg[3],
                        last=last[0],
                        last_time=last[1],
                    )
                )
    mine = obs.datastream_id == datastream_id
    ranges = session.execute(
        select(
            func.min(obs.phenomenon_time),
            func.max(func.coalesce(obs.phenomenon_time_end, obs.phenomenon_time)),
            func.min(obs.result_time),
            func.max(obs.result_time),
        ).where(mine)
    ).one()
    last_row = session.execute(
        select(obs.id, obs.result_number, obs.result_json, obs.phenomenon_time)
        .where(mine)
        .order_by(obs.phenomenon_time.desc())
        .limit(1)
    ).first()
    session.execute(
        update(Datastream)
        .where(Datastream.id == datastream_id)
        .values(
            phenomenon_time_start=ranges[0],
            phenomenon_time_end=ranges[1],
            result_time_start=ranges[2],
            result_time_end=ranges[3],
            last_observation_id=last_row[0] if last_row else None,
            last_value=last_row[1] if last_row else None,
            last_result=(last_row[2] if last_row and last_row[1] is None else None),
            last_phenomenon_time=last_row[3] if last_row else None,
        )
    )
    session.flush()
