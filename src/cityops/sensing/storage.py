"""The observation write path: batched, idempotent, with incremental roll-ups and latest values.

Every ingest path (STA POST, ``CreateObservations``, MQTT, the simulator) goes through
:func:`ingest_observations`. One call is one batch: rows go in with ``INSERT ... ON CONFLICT DO NOTHING``
as multi-row VALUES (SQLAlchemy's insertmanyvalues, on SQLite and PostgreSQL alike), so a re-sent row
(QoS 1 redelivery, a retrying logger) is not a second row, while late and out-of-order rows are accepted.
Only rows that were really inserted update the datastream's time ranges and latest value and the
per-minute/hour/day roll-ups; one ``observations.created`` event is emitted per batch.
Numeric results get data-quality flags (:mod:`cityops.sensing.quality`: range, spike, stuck, gap) judged
against a few stored observations before them, fetched once per datastream per batch; a stored point that
the new ones reveal as a spike or part of a stuck run is re-flagged.
The caller owns the transaction (commit after the call, so the event and the rows commit together).
"""

from __future__ import annotations

import importlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, delete, func, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from cityops.db import UTCDateTime
from cityops.errors import ApiError
from cityops.sensing import quality
from cityops.sensing.models import (
    Datastream,
    FeatureOfInterest,
    Location,
    Observation,
    ObservationRollup,
    ObservedProperty,
    Thing,
    thing_locations,
)

INTERVALS: dict[str, timedelta] = {
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
}


class IngestError(ApiError):
    """A batch that cannot be stored (unknown datastream, naive time); nothing of the batch is written."""

    def __init__(self, message: str) -> None:
        super().__init__(400, message, code="bad_request")


@dataclass(frozen=True, slots=True)
class ObservationIn:
    """One observation to store. Times must be timezone-aware."""

    datastream_id: int
    phenomenon_time: datetime
    result: Any
    phenomenon_time_end: datetime | None = None
    result_time: datetime | None = None
    result_quality: Any = None
    valid_time_start: datetime | None = None
    valid_time_end: datetime | None = None
    parameters: dict[str, Any] | None = None
    quality_flags: int = 0
    feature_of_interest_id: int | None = None


@dataclass(slots=True)
class IngestResult:
    """What a batch did. ``ids[i]`` is the id of row ``i`` (the existing row's id for a duplicate)."""

    inserted: int = 0
    duplicates: int = 0
    ids: list[int] = field(default_factory=list)
    duplicate_indexes: list[int] = field(default_factory=list)


def split_result(result: Any) -> tuple[float | None, Any]:
    """(numeric column, JSON column) for a result: plain finite numbers go to the numeric column."""
    if isinstance(result, bool) or result is None:
        return None, result
    if isinstance(result, int | float):
        value = float(result)
        if math.isfinite(value):
            return value, None
    return None, result


def join_result(number: float | None, other: Any) -> Any:
    if number is None:
        return other
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def result_quality_view(result_quality: Any, quality_flags: int | None) -> Any:
    """The Observation's STA ``resultQuality``: what the client sent, else the automatic quality flags as
    ``{"flags": ["RANGE", ...], "code": <bitmask>}`` when a check failed, else nothing (left out)."""
    if result_quality is not None or not quality_flags:
        return result_quality
    return {"flags": quality.describe(quality_flags), "code": quality_flags}


def bucket_start(moment: datetime, interval: str) -> datetime:
    if interval == "minute":
        return moment.replace(second=0, microsecond=0)
    if interval == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _dialect_insert(session: Session, table: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def generated_feature_id(session: Session, datastream_id: int) -> int | None:
    """The FeatureOfInterest generated from the Location of the datastream's Thing (created once)."""
    loc = session.execute(
        select(Location)
        .join(thing_locations, thing_locations.c.location_id == Location.id)
        .join(Datastream, Datastream.thing_id == thing_locations.c.thing_id)
        .where(Datastream.id == datastream_id)
        .order_by(Location.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if loc is None:
        return None
    existing = session.execute(
        select(FeatureOfInterest.id).where(FeatureOfInterest.source_location_id == loc.id).limit(1)
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    foi = FeatureOfInterest(
        name=loc.name,
        description=loc.description,
        encoding_type=loc.encoding_type,
        feature=loc.location,
        lat=loc.lat,
        lon=loc.lon,
        source_location_id=loc.id,
    )
    session.add(foi)
    session.flush()
    return foi.id


def ingest_observations(
    session: Session, rows: Sequence[ObservationIn], *, emit_event: bool = True
) -> IngestResult:
    """Store a batch of observations idempotently; the caller commits. See the module docstring."""
    out = IngestResult()
    if not rows:
        return out
    ds_ids = sorted({r.datastream_id for r in rows})
    known = set(session.execute(select(Datastream.id).where(Datastream.id.in_(ds_ids))).scalars())
    missing = [i for i in ds_ids if i not in known]
    if missing:
        raise IngestError(f"unknown Datastream id(s): {', '.join(map(str, missing))}")
    foi_ids = {r.feature_of_interest_id for r in rows if r.feature_of_interest_id is not None}
    if foi_ids:
        found = set(session.scalars(select(FeatureOfInterest.id).where(FeatureOfInterest.id.in_(foi_ids))))
        if foi_ids - found:
            unknown = ", ".join(map(str, sorted(foi_ids - found)))
            raise IngestError(f"unknown FeatureOfInterest id(s): {unknown}")
    for r in rows:
        for t in (r.phenomenon_time, r.phenomenon_time_end, r.result_time):
            if t is not None and t.tzinfo is None:
                raise IngestError("observation times must carry a time zone")
    features: dict[int, int | None] = {}
    params: list[dict[str, Any]] = []
    first_index: dict[tuple[int, datetime], int] = {}
    positions: list[int] = []
    for r in rows:
        key = (r.datastream_id, r.phenomenon_time)
        if key in first_index:  # repeated inside the batch: the first one wins
            positions.append(first_index[key])
            continue
        first_index[key] = len(params)
        positions.append(len(params))
        foi = r.feature_of_interest_id
        if foi is None:
            if r.datastream_id not in features:
                features[r.datastream_id] = generated_feature_id(session, r.datastream_id)
            foi = features[r.datastream_id]
        number, other = split_result(r.result)
        params.append(
            {
                "datastream_id": r.datastream_id,
                "multi_datastream_id": None,
                "phenomenon_time": r.phenomenon_time,
                "phenomenon_time_end": r.phenomenon_time_end,
                "result_time": r.result_time,
                "result_number": number,
                "result_json": other,
                "result_quality": r.result_quality,
                "valid_time_start": r.valid_time_start,
                "valid_time_end": r.valid_time_end,
                "quality_flags": r.quality_flags,
                "parameters": r.parameters,
                "feature_of_interest_id": foi,
            }
        )
    _set_quality_flags(session, params)
    if session.get_bind().dialect.name == "postgresql":
        inserted_ids, existing = _insert_postgres(session, params)
    else:
        inserted_ids, existing = _insert_sqlite(session, params)
    unique_ids: list[int | None] = [
        inserted_ids.get((p["datastream_id"], p["phenomenon_time"])) for p in params
    ]
    for i, p in enumerate(params):
        if unique_ids[i] is None:
            unique_ids[i] = existing.get((p["datastream_id"], p["phenomenon_time"]), 0)
    new_rows = [p for p in params if (p["datastream_id"], p["phenomenon_time"]) in inserted_ids]
    out.inserted = len(new_rows)
    out.duplicates = len(rows) - out.inserted
    out.ids = [int(unique_ids[pos] or 0) for pos in positions]
    seen_new: set[tuple[int, datetime]] = set()
    for i, r in enumerate(rows):
        key = (r.datastream_id, r.phenomenon_time)
        if key in inserted_ids and key not in seen_new:
            seen_new.add(key)
        else:
            out.duplicate_indexes.append(i)
    if new_rows:
        for p in new_rows:
            p["id"] = inserted_ids[(p["datastream_id"], p["phenomenon_time"])]
        _update_datastreams(session, new_rows)
        _update_observed_areas(session, new_rows)
        _upsert_rollups(session, new_rows)
        if emit_event:
            _emit(session, new_rows)
    return out


QUALITY_LOOKBACK_MAX = 64  # stored points read per datastream and batch, at most
_RETRO_FLAGS = quality.QualityFlag.SPIKE | quality.QualityFlag.STUCK


def quality_config(session: Session, ds_ids: Sequence[int]) -> dict[int, quality.QualityConfig]:
    """The quality checks of each datastream: its property's range and defaults, its own
    ``properties["quality"]``, and the expected reporting interval (``expected_interval_s`` of the
    datastream, else of its Thing; no GAP check without one). One query for all datastreams."""
    rows = session.execute(
        select(Datastream.id, Datastream.properties, ObservedProperty.properties, Thing.properties)
        .join(ObservedProperty, ObservedProperty.id == Datastream.observed_property_id)
        .join(Thing, Thing.id == Datastream.thing_id)
        .where(Datastream.id.in_(ds_ids))
    ).all()
    out: dict[int, quality.QualityConfig] = {}
    for ds_id, ds_props, op_props, thing_props in rows:
        code = (op_props or {}).get("code")
        seconds = (thing_props or {}).get("expected_interval_s")
        interval = (
            timedelta(seconds=float(seconds))
            if isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds > 0
            else None
        )
        own = ds_props or {}
        if own.get("expected_interval_s") or (
            isinstance(own.get("quality"), dict) and own["quality"].get("expected_interval_s")
        ):
            interval = None  # the datastream's own interval wins (config_for reads it)
        out[ds_id] = quality.config_for(code if isinstance(code, str) else None, own, interval)
    return out


def _lookback(config: quality.QualityConfig) -> int:
    """How many stored points the checks need: neighbours for spikes, a whole run for stuck values."""
    if config.stuck_run is not None:
        return min(max(config.stuck_run, 2), QUALITY_LOOKBACK_MAX)
    if config.spike_threshold is not None or config.expected_interval is not None:
        return 2
    return 0


def _set_quality_flags(session: Session, params: list[dict[str, Any]]) -> None:
    """OR the quality flags of numeric rows into ``params[i]["quality_flags"]`` (before insert)."""
    by_ds: dict[int, list[dict[str, Any]]] = {}
    for p in params:
        if p["result_number"] is not None:
            by_ds.setdefault(p["datastream_id"], []).append(p)
    if not by_ds:
        return
    configs = quality_config(session, sorted(by_ds))
    obs = Observation.__table__.c
    for ds_id, items in by_ds.items():
        config = configs.get(ds_id)
        if config is None:
            continue
        items.sort(key=lambda p: p["phenomenon_time"])
        need = _lookback(config)
        history: list[tuple[int, datetime, float, int]] = []
        if need:
            first = literal(items[0]["phenomenon_time"], UTCDateTime())
            stored = session.execute(
                select(obs.id, obs.phenomenon_time, obs.result_number, obs.quality_flags)
                .where(
                    obs.datastream_id == ds_id,
                    obs.phenomenon_time < first,
                    obs.result_number.is_not(None),
                )
                .order_by(obs.phenomenon_time.desc())
                .limit(need)
            ).all()
            history = [(r[0], r[1], float(r[2]), int(r[3] or 0)) for r in reversed(stored)]
        points = [(h[1], h[2]) for h in history] + [(p["phenomenon_time"], p["result_number"]) for p in items]
        flags = quality.assess(points, config)
        for h, flag in zip(history, flags, strict=False):
            gained = int(flag & _RETRO_FLAGS) & ~h[3]
            if gained:
                session.execute(
                    update(Observation)
                    .where(Observation.id == h[0], Observation.datastream_id == ds_id)
                    .values(quality_flags=Observation.quality_flags.op("|")(gained))
                )
        for p, flag in zip(items, flags[len(history) :], strict=True):
            p["quality_flags"] = int(p["quality_flags"] or 0) | int(flag)


_COPY_COLUMNS = (
    "datastream_id", "multi_datastream_id", "phenomenon_time", "phenomenon_time_end", "result_time",
    "result_number", "result_json", "result_quality", "valid_time_start", "valid_time_end", "quality_flags",
    "parameters", "feature_of_interest_id",
)  # fmt: skip
_COPY_TYPES = (
    "int8", "int8", "timestamptz", "timestamptz", "timestamptz", "float8", "jsonb", "jsonb", "timestamptz",
    "timestamptz", "int4", "jsonb", "int8",
)  # fmt: skip
_JSON_COLUMNS = {"result_json", "result_quality", "parameters"}

Key = tuple[int, datetime]


def _sqlite_time(value: datetime | None) -> str | None:
    """The text SQLAlchemy's SQLite DateTime stores (naive UTC), so raw and ORM rows compare equal."""
    if value is None:
        return None
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _insert_sqlite(session: Session, params: list[dict[str, Any]]) -> tuple[dict[Key, int], dict[Key, int]]:
    """executemany into a temporary table, then one ``INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING``.

    Raw sqlite3 executemany skips per-row statement building; the temporary table is per connection.
    """
    raw = session.connection().connection.driver_connection
    assert raw is not None
    cols = ", ".join(_COPY_COLUMNS)
    times = {"phenomenon_time", "phenomenon_time_end", "result_time", "valid_time_start", "valid_time_end"}
    cur = raw.cursor()
    try:
        cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS _sta_observations_in ({cols})")
        cur.execute("DELETE FROM _sta_observations_in")
        dumps = json.dumps
        cur.executemany(
            f"INSERT INTO _sta_observations_in ({cols}) VALUES ({', '.join('?' * len(_COPY_COLUMNS))})",
            [
                tuple(
                    _sqlite_time(p[c])
                    if c in times
                    else (dumps(p[c], ensure_ascii=False) if p[c] is not None else None)
                    if c in _JSON_COLUMNS
                    else p[c]
                    for c in _COPY_COLUMNS
                )
                for p in params
            ],
        )
        cur.execute(
            f"INSERT INTO sta_observations ({cols}) SELECT {cols} FROM _sta_observations_in WHERE true "
            "ON CONFLICT (datastream_id, phenomenon_time) DO NOTHING "
            "RETURNING id, datastream_id, phenomenon_time"
        )
        inserted: dict[Key, int] = {
            (r[1], datetime.fromisoformat(r[2]).replace(tzinfo=UTC)): r[0] for r in cur.fetchall()
        }
        existing: dict[Key, int] = {}
        if len(inserted) < len(params):
            cur.execute(
                "SELECT o.id, o.datastream_id, o.phenomenon_time FROM _sta_observations_in i "
                "JOIN sta_observations o ON o.datastream_id = i.datastream_id "
                "AND o.phenomenon_time = i.phenomenon_time"
            )
            existing = {
                (r[1], datetime.fromisoformat(r[2]).replace(tzinfo=UTC)): r[0] for r in cur.fetchall()
            }
        cur.execute("DELETE FROM _sta_observations_in")
    finally:
        cur.close()
    return inserted, existing


def _insert_postgres(session: Session, params: list[dict[str, Any]]) -> tuple[dict[Key, int], dict[Key, int]]:
    """COPY the batch into a temporary table, then one ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``.

    COPY avoids building statements with tens of thousands of placeholders; the temporary table lives
    for the session and is emptied per batch.
    """
    from psycopg.types.json import Jsonb

    raw = session.connection().connection.driver_connection
    assert raw is not None
    cols = ", ".join(_COPY_COLUMNS)
    with raw.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS _sta_observations_in ("
            + ", ".join(f"{c} {t}" for c, t in zip(_COPY_COLUMNS, _COPY_TYPES, strict=True))
            + ") ON COMMIT DELETE ROWS"
        )
        cur.execute("TRUNCATE _sta_observations_in")
        with cur.copy(f"COPY _sta_observations_in ({cols}) FROM STDIN") as copy:
            copy.set_types(list(_COPY_TYPES))
            for p in params:
                copy.write_row(
                    [
                        (Jsonb(p[c]) if p[c] is not None else None) if c in _JSON_COLUMNS else p[c]
                        for c in _COPY_COLUMNS
                    ]
                )
        cur.execute(
            f"INSERT INTO sta_observations ({cols}) SELECT {cols} FROM _sta_observations_in "
            "ON CONFLICT (datastream_id, phenomenon_time) DO NOTHING "
            "RETURNING id, datastream_id, phenomenon_time"
        )
        inserted: dict[Key, int] = {(r[1], r[2].astimezone(UTC)): r[0] for r in cur.fetchall()}
        existing: dict[Key, int] = {}
        if len(inserted) < len(params):
            cur.execute(
                "SELECT o.id, o.datastream_id, o.phenomenon_time FROM _sta_observations_in i "
                "JOIN sta_observations o ON o.datastream_id = i.datastream_id "
                "AND o.phenomenon_time = i.phenomenon_time"
            )
            existing = {(r[1], r[2].astimezone(UTC)): r[0] for r in cur.fetchall()}
        cur.execute("TRUNCATE _sta_observations_in")
    return inserted, existing


def _update_datastreams(session: Session, new_rows: list[dict[str, Any]]) -> None:
    by_ds: dict[int, list[dict[str, Any]]] = {}
    for p in new_rows:
        by_ds.setdefault(p["datastream_id"], []).append(p)
    t = Datastream.__table__.c
    for ds_id, items in by_ds.items():
        pt_min = min(p["phenomenon_time"] for p in items)
        pt_max = max((p["phenomenon_time_end"] or p["phenomenon_time"]) for p in items)
        rts = [p["result_time"] for p in items if p["result_time"] is not None]
        last = max(items, key=lambda p: p["phenomenon_time"])
        values: dict[str, Any] = {
            "phenomenon_time_start": _least(t.phenomenon_time_start, pt_min),
            "phenomenon_time_end": _greatest(t.phenomenon_time_end, pt_max),
        }
        if rts:
            values["result_time_start"] = _least(t.result_time_start, min(rts))
            values["result_time_end"] = _greatest(t.result_time_end, max(rts))
        newer = or_(
            t.last_phenomenon_time.is_(None),
            t.last_phenomenon_time <= literal(last["phenomenon_time"], UTCDateTime()),
        )
        values["last_phenomenon_time"] = case(
            (newer, literal(last["phenomenon_time"], UTCDateTime())), else_=t.last_phenomenon_time
        )
        values["last_value"] = case((newer, literal(last["result_number"])), else_=t.last_value)
        values["last_observation_id"] = case((newer, literal(last["id"])), else_=t.last_observation_id)
        last_json = last["result_json"] if last["result_number"] is None else None
        values["last_result"] = case(
            (newer, literal(last_json, Datastream.__table__.c.last_result.type)), else_=t.last_result
        )
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


def _update_observed_areas(session: Session, new_rows: list[dict[str, Any]]) -> None:
    """Grow each Datastream's observedArea to the bounding box of its Observations' features (OGC 18-088)."""
    pairs = {
        (p["datastream_id"], p["feature_of_interest_id"]) for p in new_rows if p["feature_of_interest_id"]
    }
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


_WIDTH_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def _upsert_rollups(session: Session, new_rows: list[dict[str, Any]]) -> None:
    # Buckets keyed by epoch seconds (UTC buckets), turned into datetimes once per bucket.
    raw_acc: dict[tuple[int, str, int], list[Any]] = {}
    for p in new_rows:
        value = p["result_number"]
        if value is None:
            continue
        moment: datetime = p["phenomenon_time"]
        epoch = moment.timestamp()
        ds_id = p["datastream_id"]
        for interval, width in _WIDTH_SECONDS.items():
            key = (ds_id, interval, int(epoch // width) * width)
            a = raw_acc.get(key)
            if a is None:
                raw_acc[key] = [1, value, value, value, value, moment]
            else:
                a[0] += 1
                a[1] += value
                if value < a[2]:
                    a[2] = value
                if value > a[3]:
                    a[3] = value
                if moment >= a[5]:
                    a[4], a[5] = value, moment
    acc = {(k[0], k[1], datetime.fromtimestamp(k[2], UTC)): a for k, a in raw_acc.items()}
    if not acc:
        return
    table = ObservationRollup.__table__
    pg = session.get_bind().dialect.name == "postgresql"
    ins = _dialect_insert(session, table)
    ex = ins.excluded
    c = table.c
    least = func.least if pg else func.min
    greatest = func.greatest if pg else func.max
    newer = or_(c.last_time.is_(None), ex.last_time >= c.last_time)
    stmt = ins.on_conflict_do_update(
        index_elements=["datastream_id", "interval", "bucket_start"],
        set_={
            "count": c.count + ex["count"],
            "sum": c.sum + ex.sum,
            "min": least(func.coalesce(c.min, ex.min), ex.min),
            "max": greatest(func.coalesce(c.max, ex.max), ex.max),
            "last": case((newer, ex["last"]), else_=c["last"]),
            "last_time": case((newer, ex.last_time), else_=c.last_time),
        },
    )
    session.execute(
        stmt,
        [
            {
                "datastream_id": k[0],
                "interval": k[1],
                "bucket_start": k[2],
                "count": a[0],
                "sum": a[1],
                "min": a[2],
                "max": a[3],
                "last": a[4],
                "last_time": a[5],
            }
            for k, a in sorted(acc.items())
        ],
    )


EVENT_CHUNK = 2000  # observations per event: keeps payloads well under the outbox's size limit


def _emit(session: Session, new_rows: list[dict[str, Any]]) -> None:
    """One ``observations.created`` event per batch (per chunk of EVENT_CHUNK rows for huge batches)."""
    try:
        outbox = importlib.import_module("cityops.events.outbox")
    except ImportError:
        return
    chunks = [new_rows[i : i + EVENT_CHUNK] for i in range(0, len(new_rows), EVENT_CHUNK)]
    for n, chunk in enumerate(chunks):
        payload = {
            "count": len(chunk),
            "chunk": n,
            "chunks": len(chunks),
            "datastream_ids": sorted({p["datastream_id"] for p in chunk}),
            "observations": [
                {
                    "id": p["id"],
                    "datastream_id": p["datastream_id"],
                    "phenomenon_time": p["phenomenon_time"],
                    "result": join_result(p["result_number"], p["result_json"]),
                    "quality_flags": p["quality_flags"],
                }
                for p in chunk
            ],
        }
        outbox.emit(session, "observations.created", payload)


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
        rows = [
            {
                "id": o.id,
                "datastream_id": o.datastream_id,
                "phenomenon_time": o.phenomenon_time,
                "phenomenon_time_end": o.phenomenon_time_end,
                "result_time": o.result_time,
                "result_number": o.result_number,
                "result_json": o.result_json,
            }
            for o in chunk
        ]
        if not rows:
            break
        offset_id = rows[-1]["id"]
        _update_datastreams(session, rows)
        _upsert_rollups(session, rows)


def postgres_partition_ddl(*, months_back: int = 1, months_ahead: int = 3) -> list[str]:
    """Statements creating the default and monthly partitions of ``sta_observations`` on PostgreSQL.

    For the Alembic migration, after ``op.create_table("sta_observations", ...)`` (which is compiled
    as a partitioned table, see :mod:`cityops.sensing.partitioning`): ``for s in postgres_partition_ddl():
    op.execute(s)``. The plugin's startup keeps creating the months ahead.
    """
    from cityops.sensing.partitioning import partition_ddl

    return partition_ddl(months_back=months_back, months_ahead=months_ahead)


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
