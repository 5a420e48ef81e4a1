"""The observation write path: batched, idempotent, with incremental roll-ups and latest values.

Every ingest path (STA POST, ``CreateObservations``, MQTT, the simulator) goes through
:func:`ingest_observations` (rows) or :func:`ingest_columns` (the same batch as columns, which the
dataArray path builds without an object per row). One call is one batch, stored with ``INSERT ... ON
CONFLICT (datastream, phenomenon time) DO NOTHING`` — SQLite: ``executemany`` binding only the columns
that vary; PostgreSQL: a large batch reads which of its rows are stored already and ``COPY``s the others
(falling back to the upsert if another writer got there first), a small one is one statement with the
rows as one JSON parameter — so a re-sent row (QoS 1 redelivery, a retrying logger) is not a second row
and answers with the stored row's id, while late and out-of-order rows are accepted; inside a batch the
first of repeated rows wins.
Only rows that were really inserted update the datastream's time ranges and latest value and the
per-minute/hour/day roll-ups (computed per batch from the sorted time texts, one upsert per bucket);
one ``observations.created`` event is emitted per batch (per chunk of a huge one).
Numeric results get data-quality flags (:mod:`cityops.sensing.quality`: range, spike, stuck, gap) judged
against a few stored observations before them, fetched once per datastream per batch; a stored point that
the new ones reveal as a spike or part of a stuck run is re-flagged.
Times travel as canonical UTC texts (:func:`time_text`, what SQLite stores), which sort like the times.
The caller owns the transaction (commit after the call, so the event and the rows commit together).
"""

from __future__ import annotations

import importlib
import json
import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import ColumnElement, and_, case, delete, event, func, literal, or_, select, update
from sqlalchemy.orm import Session, SessionTransaction

from cityops.db import UTCDateTime, writer_lock
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
from cityops.sensing.observation_events import SUBJECT, CreatedObservations, created_payload

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


def generated_feature_id(session: Session, datastream_id: int) -> int | None:
    """The FeatureOfInterest generated from the Location of the datastream's Thing (created once)."""
    # One query of two ids (every batch asks): the Thing's newest Location and its generated feature.
    found = session.execute(
        select(Location.id, FeatureOfInterest.id)
        .join(thing_locations, thing_locations.c.location_id == Location.id)
        .join(Datastream, Datastream.thing_id == thing_locations.c.thing_id)
        .outerjoin(FeatureOfInterest, FeatureOfInterest.source_location_id == Location.id)
        .where(Datastream.id == datastream_id)
        .order_by(Location.id.desc(), FeatureOfInterest.id)
        .limit(1)
    ).first()
    if found is None:
        return None
    location_id, feature_id = found[0], found._mapping[FeatureOfInterest.id]  # None without a feature yet
    if feature_id is not None:
        return int(feature_id)
    loc = session.get(Location, location_id)
    assert loc is not None
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


def time_text(value: datetime) -> str:
    """The canonical text of an aware time: naive UTC with microseconds, as SQLite stores it
    (``2026-03-01 10:00:00.000000``). Texts of one format sort like the times they name."""
    if value.tzinfo is None:
        raise IngestError("observation times must carry a time zone")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def text_time(text: str) -> datetime:
    """The aware UTC datetime of a canonical time text."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def iso_z(texts: Sequence[str]) -> list[str]:
    """Canonical texts as ISO 8601 with ``Z`` (``2026-03-01T10:00:00Z``, microseconds only when not zero),
    as orjson writes datetimes; string operations over the whole column instead of one call per row."""
    if not texts:
        return []
    joined = "\n".join(texts) + "\n"
    return joined.replace(" ", "T").replace(".000000\n", "\n").replace("\n", "Z\n").split("\n")[:-1]


@dataclass(slots=True)
class ObservationColumns:
    """A batch of observations as columns: one list per field, all of the same length.

    Times are canonical UTC texts (:func:`time_text`). An optional column left ``None`` is absent (all
    nulls; ``quality_flags`` all 0). This is what :func:`ingest_columns` stores without building an
    object per row; :meth:`from_rows` converts :class:`ObservationIn` rows.
    """

    datastream_id: list[int]
    phenomenon_time: list[str]
    result: list[Any]
    phenomenon_time_end: list[str | None] | None = None
    result_time: list[str | None] | None = None
    result_quality: list[Any] | None = None
    valid_time_start: list[str | None] | None = None
    valid_time_end: list[str | None] | None = None
    parameters: list[Any] | None = None
    feature_of_interest_id: list[int | None] | None = None
    quality_flags: list[int] | None = None

    @classmethod
    def from_rows(cls, rows: Sequence[ObservationIn]) -> ObservationColumns:
        def opt(values: list[Any]) -> list[Any] | None:
            return values if any(v is not None for v in values) else None

        def opt_time(values: list[datetime | None]) -> list[str | None] | None:
            if all(v is None for v in values):
                return None
            return [None if v is None else time_text(v) for v in values]

        return cls(
            datastream_id=[r.datastream_id for r in rows],
            phenomenon_time=[time_text(r.phenomenon_time) for r in rows],
            result=[r.result for r in rows],
            phenomenon_time_end=opt_time([r.phenomenon_time_end for r in rows]),
            result_time=opt_time([r.result_time for r in rows]),
            result_quality=opt([r.result_quality for r in rows]),
            valid_time_start=opt_time([r.valid_time_start for r in rows]),
            valid_time_end=opt_time([r.valid_time_end for r in rows]),
            parameters=opt([r.parameters for r in rows]),
            feature_of_interest_id=opt([r.feature_of_interest_id for r in rows]),
            quality_flags=[r.quality_flags for r in rows] if any(r.quality_flags for r in rows) else None,
        )


# Optional columns: (column name, kind); kinds: "time" (canonical text), "json".
_OPTIONAL = (
    ("phenomenon_time_end", "time"),
    ("result_time", "time"),
    ("result_quality", "json"),
    ("valid_time_start", "time"),
    ("valid_time_end", "time"),
    ("parameters", "json"),
)


@dataclass(slots=True)
class _Batch:
    """The unique rows of a batch, normalised: numeric/other results split, features and flags set."""

    ds: list[int]
    text: list[str]
    number: list[float | None]
    other: list[Any] | None  # result_json; None when every result is a number
    foi: list[int | None]
    flags: list[int]
    optional: dict[str, list[Any]]  # present optional columns only


def split_results(results: list[Any]) -> tuple[list[float | None], list[Any] | None]:
    """:func:`split_result` over a column; plain finite floats (every JSON number) skip the per-row call."""
    if all(type(v) is float for v in results) and all(map(math.isfinite, results)):
        return results, None
    numbers: list[float | None] = []
    others: list[Any] = []
    for v in results:
        number, other = split_result(v)
        numbers.append(number)
        others.append(other)
    return numbers, (others if any(o is not None for o in others) else None)


def ingest_observations(
    session: Session, rows: Sequence[ObservationIn], *, emit_event: bool = True
) -> IngestResult:
    """Store a batch of observations idempotently; the caller commits. See the module docstring."""
    if not rows:
        return IngestResult()
    return ingest_columns(session, ObservationColumns.from_rows(rows), emit_event=emit_event)


def ingest_columns(session: Session, cols: ObservationColumns, *, emit_event: bool = True) -> IngestResult:
    """:func:`ingest_observations` for a batch already in columns (the dataArray path); the caller commits."""
    out = IngestResult()
    n = len(cols.datastream_id)
    if not n:
        return out
    ds_col = cols.datastream_id
    for name in ("phenomenon_time", "result", "quality_flags", "feature_of_interest_id", *dict(_OPTIONAL)):
        column = getattr(cols, name)
        if column is not None and len(column) != n:
            raise ValueError(f"column {name} has {len(column)} values for {n} rows")
    ds_ids = sorted(set(ds_col))
    # FOR KEY SHARE (PostgreSQL; SQLite leaves it out): the lock a foreign-key check takes per row, taken
    # once per batch, so a Datastream deleted meanwhile waits for this transaction and cascades to its rows.
    known = set(
        session.scalars(
            select(Datastream.id).where(Datastream.id.in_(ds_ids)).with_for_update(read=True, key_share=True)
        )
    )
    missing = [i for i in ds_ids if i not in known]
    if missing:
        raise IngestError(f"unknown Datastream id(s): {', '.join(map(str, missing))}")
    if cols.feature_of_interest_id is not None:
        foi_ids = set(cols.feature_of_interest_id) - {None}
        found = set(
            session.scalars(
                select(FeatureOfInterest.id)
                .where(FeatureOfInterest.id.in_(foi_ids))
                .with_for_update(read=True, key_share=True)
            )
        )
        if foi_ids - found:
            unknown = ", ".join(map(str, sorted(i for i in foi_ids - found if i is not None)))
            raise IngestError(f"unknown FeatureOfInterest id(s): {unknown}")
    # Repeated (datastream, time) inside the batch: the first row wins (reversed, so the first is kept).
    keys: list[Any] = (
        cols.phenomenon_time if len(ds_ids) == 1 else list(zip(ds_col, cols.phenomenon_time, strict=True))
    )
    first = dict(zip(reversed(keys), range(n - 1, -1, -1), strict=True))
    keep: list[int] | None = None
    positions: list[int] | None = None
    if len(first) < n:
        keep = sorted(first.values())
        slot = {i: u for u, i in enumerate(keep)}
        positions = [slot[first[k]] for k in keys]

    def pick(values: list[Any]) -> list[Any]:
        return values if keep is None else [values[i] for i in keep]

    ds = pick(ds_col)
    number, other = split_results(pick(cols.result))
    u = len(ds)
    features: dict[int, int | None] = {}
    foi_col = pick(cols.feature_of_interest_id) if cols.feature_of_interest_id is not None else None
    if foi_col is None or None in foi_col:
        for d in ds_ids:
            features[d] = generated_feature_id(session, d)
    if foi_col is None:
        foi: list[int | None] = [features[ds[0]]] * u if len(ds_ids) == 1 else [features[d] for d in ds]
    else:
        foi = [f if f is not None else features[d] for f, d in zip(foi_col, ds, strict=True)]
    generated = {f for f in features.values() if f is not None}
    if generated and session.get_bind().dialect.name == "postgresql":
        session.execute(
            select(FeatureOfInterest.id)
            .where(FeatureOfInterest.id.in_(generated))
            .with_for_update(read=True, key_share=True)
        )
    batch = _Batch(
        ds=ds,
        text=pick(cols.phenomenon_time),
        number=number,
        other=other,
        foi=foi,
        flags=list(pick(cols.quality_flags)) if cols.quality_flags is not None else [0] * u,
        optional={
            name: pick(values) for name, _kind in _OPTIONAL if (values := getattr(cols, name)) is not None
        },
    )
    _set_quality_flags(session, batch)
    if session.get_bind().dialect.name == "postgresql":
        ids, new = _insert_postgres(session, batch)
    else:
        ids, new = _insert_sqlite(session, batch)
    new_idx: list[int] = list(range(u)) if new is None else [i for i in range(u) if new[i]]
    out.inserted = len(new_idx)
    out.duplicates = n - out.inserted
    out.ids = ids if positions is None else [ids[p] for p in positions]
    if positions is not None or new is not None:
        seen: set[int] = set()
        for i in range(n):
            p = i if positions is None else positions[i]
            if (new is None or new[p]) and p not in seen:
                seen.add(p)
            else:
                out.duplicate_indexes.append(i)
    if new_idx:
        series = _series(batch, new_idx)
        _update_datastreams(session, batch, ids, series)
        pairs = (
            set(zip(batch.ds, batch.foi, strict=True))
            if new is None
            else {(batch.ds[i], batch.foi[i]) for i in new_idx}
        )
        _update_observed_areas(session, {(d, f) for d, f in pairs if f})
        _upsert_rollups(session, batch, series)
        if emit_event:
            _emit(session, batch, ids, new_idx)
    return out


def _series(batch: _Batch, rows: list[int]) -> dict[int, list[int]]:
    """Row indexes per datastream, sorted by phenomenon time."""
    by_ds: dict[int, list[int]] = {}
    if len(set(batch.ds)) == 1:
        by_ds[batch.ds[0]] = rows
    else:
        for i in rows:
            by_ds.setdefault(batch.ds[i], []).append(i)
    text = batch.text
    for ds_id, idx in by_ds.items():
        times = [text[i] for i in idx]
        if times != sorted(times):
            by_ds[ds_id] = sorted(idx, key=text.__getitem__)
    return by_ds


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


def _has_checks(config: quality.QualityConfig) -> bool:
    return any(
        v is not None
        for v in (config.low, config.high, config.spike_threshold, config.stuck_run, config.expected_interval)
    )


def _set_quality_flags(session: Session, batch: _Batch) -> None:
    """OR the quality flags of numeric rows into ``batch.flags`` (before insert)."""
    by_ds: dict[int, list[int]] = {}
    if batch.other is None and len(set(batch.ds)) == 1:
        by_ds[batch.ds[0]] = list(range(len(batch.ds)))
    else:
        for i, (d, v) in enumerate(zip(batch.ds, batch.number, strict=True)):
            if v is not None:
                by_ds.setdefault(d, []).append(i)
    if not by_ds:
        return
    configs = quality_config(session, sorted(by_ds))
    obs = Observation.__table__.c
    text, number = batch.text, batch.number
    for ds_id, items in by_ds.items():
        config = configs.get(ds_id)
        if config is None or not _has_checks(config):
            continue
        items.sort(key=text.__getitem__)
        need = _lookback(config)
        history: list[tuple[int, datetime, float, int]] = []
        if need:
            first = literal(text_time(text[items[0]]), UTCDateTime())
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
        points = [(h[1], h[2]) for h in history]
        points += [(text_time(text[i]), float(number[i] or 0.0)) for i in items]
        flags = quality.assess(points, config)
        for h, flag in zip(history, flags, strict=False):
            gained = int(flag & _RETRO_FLAGS) & ~h[3]
            if gained:
                session.execute(
                    update(Observation)
                    .where(Observation.id == h[0], Observation.datastream_id == ds_id)
                    .values(quality_flags=Observation.quality_flags.op("|")(gained))
                )
        for i, flag in zip(items, flags[len(history) :], strict=True):
            batch.flags[i] |= int(flag)


def _json_text(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # what orjson refuses (integers beyond 64 bits, ...) the standard encoder writes
        return json.dumps(value, ensure_ascii=False)


# Kind of each stored column: how SQLite and PostgreSQL receive it.
_KINDS = {
    "datastream_id": "int",
    "phenomenon_time": "time",
    "result_number": "float",
    "result_json": "json",
    "quality_flags": "int",
    "feature_of_interest_id": "int",
    **dict(_OPTIONAL),
}


def _columns(batch: _Batch, *, json_as_text: bool) -> tuple[list[str], list[list[Any]]]:
    """The stored columns of the batch (absent ones left to their NULL default) and their values."""
    names = ["datastream_id", "phenomenon_time", "result_number", "quality_flags", "feature_of_interest_id"]
    values: list[list[Any]] = [batch.ds, batch.text, batch.number, batch.flags, batch.foi]
    extra = dict(batch.optional)
    if batch.other is not None:
        extra["result_json"] = batch.other
    for name, column in extra.items():
        names.append(name)
        values.append([_json_text(v) for v in column] if json_as_text and _KINDS[name] == "json" else column)
    return names, values


# SQLite has one writer at a time. Ingest requests take this process's writer lock (shared with the other
# writers that take turns, ``cityops.db.writer_lock``), held from ``BEGIN IMMEDIATE`` until the transaction
# ends, so the next one starts as soon as the lock is free instead of polling in SQLite's busy handler
# (which sleeps up to 100 ms between tries).
_WRITER_KEY = "cityops.sensing.sqlite_writer"
WRITER_LOCK_WAIT_S = 10.0  # as SQLite's busy timeout; past it, SQLite's own locking decides


def _take_writer_lock(session: Session) -> None:
    """Take this database's ingest lock for the session's transaction (released when it ends)."""
    if _WRITER_KEY in session.info:
        return
    lock = writer_lock(session.get_bind().engine)
    if lock.acquire(timeout=WRITER_LOCK_WAIT_S):
        session.info[_WRITER_KEY] = lock


@event.listens_for(Session, "after_transaction_end")
def _release_writer_lock(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        lock = session.info.pop(_WRITER_KEY, None)
        if lock is not None:
            lock.release()


def _insert_sqlite(session: Session, batch: _Batch) -> tuple[list[int], list[bool] | None]:
    """``executemany`` of the rows (``ON CONFLICT DO NOTHING``) inside a write transaction; returns the id
    of each row and whether it is new (``None``: all are).

    The write lock is taken before reading the largest id (``BEGIN IMMEDIATE`` unless a write
    transaction is open), so every id above it after the insert is one of this batch's rows; when all rows
    went in and their ids are consecutive, they are ids ``lo..hi`` in insert order, found without
    reading the rows back.
    """
    raw = session.connection().connection.driver_connection
    assert raw is not None
    if not raw.in_transaction:
        _take_writer_lock(session)
        raw.execute("BEGIN IMMEDIATE")
    names, values = _columns(batch, json_as_text=True)
    u = len(batch.ds)
    # In a large batch, a column with one integer (or null) for every row is written into the statement:
    # fewer values to bind per row is most of what executemany costs in Python. (Small batches keep one
    # statement text, so SQLite's statement cache serves them.)
    slots: list[str] = []
    bound: list[list[Any]] = []
    for column in values:
        first = column[0]
        if u > 16 and (first is None or type(first) is int) and column.count(first) == u:
            slots.append("NULL" if first is None else str(int(first)))
        else:
            slots.append("?")
            bound.append(column)
    cur = raw.cursor()
    try:
        prev = cur.execute("SELECT max(id) FROM sta_observations").fetchone()[0] or 0
        cur.executemany(
            f"INSERT INTO sta_observations ({', '.join(names)}) VALUES ({', '.join(slots)}) "
            "ON CONFLICT (datastream_id, phenomenon_time) DO NOTHING",
            zip(*bound, strict=True),
        )
        if cur.rowcount == u:
            count, lo, hi = cur.execute(
                "SELECT count(*), min(id), max(id) FROM sta_observations WHERE id > ?", (prev,)
            ).fetchone()
            if count == u and hi - lo + 1 == u:
                return list(range(lo, hi + 1)), None
        ids = [0] * u
        for ds_id in set(batch.ds):
            rows = [i for i in range(u) if batch.ds[i] == ds_id]
            found = dict(
                cur.execute(
                    "SELECT phenomenon_time, id FROM sta_observations WHERE datastream_id = ? "
                    "AND phenomenon_time IN (SELECT value FROM json_each(?))",
                    (ds_id, orjson.dumps([batch.text[i] for i in rows]).decode()),
                ).fetchall()
            )
            for i in rows:
                ids[i] = int(found.get(batch.text[i], 0))
        return ids, [i > prev for i in ids]
    finally:
        cur.close()


def _pg_expr(kind: str, k: int) -> str:
    if kind == "int":
        return f"(e->>{k})::int8"
    if kind == "float":
        return f"(e->>{k})::float8"
    if kind == "time":
        return f"((e->>{k}) || '+00')::timestamptz"
    return f"CASE WHEN json_typeof(e->{k}) = 'null' THEN NULL ELSE (e->{k})::jsonb END"


def _json_rows(rows: list[Any]) -> str:
    try:
        return orjson.dumps(rows).decode()
    except TypeError:
        return json.dumps(rows, ensure_ascii=False)


_PG_ID_SEQUENCES: dict[str, str] = {}


def _pg_id_sequence(raw: Any, url: str) -> str:
    sequence = _PG_ID_SEQUENCES.get(url)
    if sequence is None:
        with raw.cursor() as cur:
            cur.execute("SELECT pg_get_serial_sequence('sta_observations', 'id')")
            sequence = str(cur.fetchone()[0])
        _PG_ID_SEQUENCES[url] = sequence
    return sequence


# Batches of at least this many rows take the COPY path on PostgreSQL (see :func:`_copy_postgres`);
# smaller ones (an MQTT message, a single POST) the one-statement upsert, which is one round trip.
PG_COPY_MIN_ROWS = 32
_COPY_SAVEPOINT = "cityops_ingest_copy"


def _insert_postgres(session: Session, batch: _Batch) -> tuple[list[int], list[bool] | None]:
    """The rows of the batch stored on PostgreSQL; returns the id of each and whether it is new (``None``:
    all are). Large batches are copied (:func:`_copy_postgres`); small ones, and a large one that raced
    with another writer of the same rows, go through the one-statement upsert (:func:`_upsert_postgres`)."""
    raw = session.connection().connection.driver_connection
    assert raw is not None
    sequence = _pg_id_sequence(raw, str(session.get_bind().engine.url))
    if len(batch.ds) >= PG_COPY_MIN_ROWS:
        copied = _copy_postgres(raw, batch, sequence)
        if copied is not None:
            return copied
    return _upsert_postgres(raw, batch, sequence)


def _copy_text(kind: str, column: list[Any]) -> list[str]:
    """One stored column as COPY text fields (``\\N`` for null)."""
    if kind == "time":
        return [r"\N" if v is None else v + "+00" for v in column]
    if kind == "json":
        # orjson (and the json fallback) escape control characters; COPY's own escape is the backslash.
        return [r"\N" if (t := _json_text(v)) is None else t.replace("\\", "\\\\") for v in column]
    if None in column:
        return [r"\N" if v is None else (repr(v) if kind == "float" else str(v)) for v in column]
    return list(map(repr if kind == "float" else str, column))


def _copy_postgres(raw: Any, batch: _Batch, sequence: str) -> tuple[list[int], list[bool] | None] | None:
    """Store a large batch with ``COPY``: the rows already stored are found first (one index range read per
    datastream), the new ones get ids drawn from the sequence and are copied in, inside a savepoint.

    ``COPY`` has no ``ON CONFLICT``: a row stored by another transaction after the read (a concurrent
    writer of the same datastream and times) makes the copy fail with a unique violation; the savepoint is
    then rolled back and ``None`` returned, so the caller stores the batch with the upsert instead. ``None``
    too when a datastream's time range holds many more stored rows than the batch (a sparse batch over
    dense history), which the upsert handles without reading them.
    """
    import psycopg

    u = len(batch.ds)
    text = batch.text
    single = len(set(batch.ds)) == 1
    bounds: dict[int, list[str]] = {}
    if single:
        bounds[batch.ds[0]] = [min(text), max(text)]
    else:
        for d, t in zip(batch.ds, text, strict=True):
            b = bounds.get(d)
            if b is None:
                bounds[d] = [t, t]
            elif t < b[0]:
                b[0] = t
            elif t > b[1]:
                b[1] = t
    cap = 2 * u + 64  # stored rows read per datastream at most
    stored: dict[Any, int] = {}
    with raw.cursor() as cur:
        cur.execute(
            "SELECT r.ds, s.phenomenon_time, s.id FROM unnest(%s::int8[], %s::text[], %s::text[]) AS r(ds, lo, hi) "
            "CROSS JOIN LATERAL (SELECT o.phenomenon_time, o.id FROM sta_observations o "
            "WHERE o.datastream_id = r.ds AND o.phenomenon_time >= (r.lo || '+00')::timestamptz "
            "AND o.phenomenon_time <= (r.hi || '+00')::timestamptz LIMIT %s) AS s",
            (list(bounds), [b[0] for b in bounds.values()], [b[1] for b in bounds.values()], cap),
        )
        found = cur.fetchall()
        if found:
            per_ds: dict[int, int] = {}
            for d, when, obs_id in found:
                per_ds[d] = per_ds.get(d, 0) + 1
                stored[when if single else (d, when)] = obs_id
            if max(per_ds.values()) >= cap:
                return None
            stored = {(time_text(k) if single else (k[0], time_text(k[1]))): v for k, v in stored.items()}
        keys: list[Any] = text if single else list(zip(batch.ds, text, strict=True))
        new: list[bool] | None = None
        rows = range(u)
        if stored:
            new = [k not in stored for k in keys]
            rows = [i for i in range(u) if new[i]]  # type: ignore[assignment]
        k = len(rows)
        ids = [0] * u
        if k:
            cur.execute(  # one array of k ids, drawn in order
                "SELECT array_agg(nextval(%s::regclass) ORDER BY g) FROM generate_series(1, %s) AS g",
                (sequence, k),
                binary=True,
            )
            drawn: list[int] = cur.fetchone()[0]
            if new is None:
                ids = drawn
            else:
                for i, obs_id in zip(rows, drawn, strict=True):
                    ids[i] = obs_id
            names, values = _columns(batch, json_as_text=False)
            fields = [[str(v) for v in drawn]]
            for name, column in zip(names, values, strict=True):
                picked = column if new is None else [column[i] for i in rows]
                first = picked[0]
                if (first is None or type(first) is int) and picked.count(first) == k:
                    fields.append([r"\N" if first is None else str(first)] * k)  # one value: no per-row work
                else:
                    fields.append(_copy_text(_KINDS[name], picked))
            body = "\n".join(map("\t".join, zip(*fields, strict=True))) + "\n"
            cur.execute(f"SAVEPOINT {_COPY_SAVEPOINT}")
            try:
                with cur.copy(f"COPY sta_observations (id, {', '.join(names)}) FROM STDIN") as copy:
                    copy.write(body)
            except psycopg.errors.UniqueViolation:
                cur.execute(f"ROLLBACK TO SAVEPOINT {_COPY_SAVEPOINT}")
                return None
            cur.execute(f"RELEASE SAVEPOINT {_COPY_SAVEPOINT}")
        if new is not None:
            for i in range(u):
                if not new[i]:
                    ids[i] = stored[keys[i]]
    return ids, new


def _upsert_postgres(raw: Any, batch: _Batch, sequence: str) -> tuple[list[int], list[bool] | None]:
    """One statement: the rows as one JSON parameter, unpacked by PostgreSQL with an id drawn for each,
    inserted with ``ON CONFLICT DO NOTHING``; back come the drawn ids in row order and the ids inserted,
    as two JSON arrays (a row whose id was not inserted is already stored: its id is looked up).

    No per-row work in Python beyond the JSON encoding, and no join between the rows and what was
    inserted (PostgreSQL cannot estimate either side and would pick a nested loop).
    """
    names, values = _columns(batch, json_as_text=False)
    cols = ", ".join(names)
    u = len(batch.ds)
    exprs: list[str] = []
    sent: list[list[Any]] = []
    for name, column in zip(names, values, strict=True):
        first = column[0]
        if u > 16 and (first is None or type(first) is int) and column.count(first) == u:
            # One integer (or null) for every row: written into the statement, not sent per row.
            literal_value = "NULL" if first is None else str(int(first))
            exprs.append(f"{literal_value}::{'int4' if name == 'quality_flags' else 'int8'} AS {name}")
        else:
            exprs.append(f"{_pg_expr(_KINDS[name], len(sent))} AS {name}")
            sent.append(column)
    src = ", ".join(exprs)
    with raw.cursor() as cur:
        cur.execute(
            f"WITH src AS MATERIALIZED (SELECT a.o AS n, nextval(%s::regclass) AS id, {src} "
            "FROM json_array_elements(%s::json) WITH ORDINALITY AS a(e, o)), "
            f"ins AS (INSERT INTO sta_observations (id, {cols}) SELECT id, {cols} FROM src ORDER BY n "
            "ON CONFLICT (datastream_id, phenomenon_time) DO NOTHING RETURNING id) "
            "SELECT (SELECT json_agg(id ORDER BY n) FROM src)::text, (SELECT json_agg(id) FROM ins)::text",
            (sequence, _json_rows(list(zip(*sent, strict=True)))),
        )
        row = cur.fetchone()
        ids: list[int] = orjson.loads(row[0]) if row and row[0] else []
        inserted: list[int] = orjson.loads(row[1]) if row and row[1] else []
        if len(inserted) == u:
            return ids, None
        got = set(inserted)
        new = [i in got for i in ids]
        missing = [k for k in range(u) if not new[k]]
        cur.execute(
            "SELECT a.o, s.id FROM json_array_elements(%s::json) WITH ORDINALITY AS a(e, o) "
            "JOIN sta_observations s ON s.datastream_id = (a.e->>0)::int8 "
            "AND s.phenomenon_time = ((a.e->>1) || '+00')::timestamptz",
            (_json_rows([[batch.ds[k], batch.text[k]] for k in missing]),),
        )
        for o, obs_id in cur.fetchall():
            ids[missing[o - 1]] = obs_id
    return ids, new


def _update_datastreams(
    session: Session, batch: _Batch, ids: list[int], series: dict[int, list[int]]
) -> None:
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


def _update_observed_areas(session: Session, pairs: set[tuple[int, int | None]]) -> None:
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


def _upsert_rollups(session: Session, batch: _Batch, series: dict[int, list[int]]) -> None:
    rows: list[tuple[Any, ...]] = []
    for ds_id, idx in series.items():
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


# Observations per event: keeps payloads under the outbox's size limit (768 KiB). A numeric observation
# takes at most ~150 bytes of JSON; other results may be large objects, so those batches use smaller chunks.
EVENT_CHUNK = 2000
EVENT_CHUNK_NUMERIC = 5000


def result_views(numbers: list[float | None], others: list[Any] | None) -> list[Any]:
    """:func:`join_result` over columns."""
    if others is None:
        return [int(v) if v.is_integer() and abs(v) < 2**53 else v for v in numbers]  # type: ignore[union-attr, arg-type]
    return [join_result(v, o) for v, o in zip(numbers, others, strict=True)]


def _emit(session: Session, batch: _Batch, ids: list[int], rows: list[int]) -> None:
    """One ``observations.created`` event per batch (per chunk of EVENT_CHUNK rows for huge batches)."""
    try:
        outbox = importlib.import_module("cityops.events.outbox")
    except ImportError:
        return
    if len(rows) == len(ids):
        obs_ids, ds, texts, numbers, flags = ids, batch.ds, batch.text, batch.number, batch.flags
        others = batch.other
    else:
        obs_ids = [ids[i] for i in rows]
        ds = [batch.ds[i] for i in rows]
        texts = [batch.text[i] for i in rows]
        numbers = [batch.number[i] for i in rows]
        flags = [batch.flags[i] for i in rows]
        others = [batch.other[i] for i in rows] if batch.other is not None else None
    # Columns, not one object per observation: several times cheaper to build, store, relay and read.
    times, results = iso_z(texts), result_views(numbers, others)
    size = EVENT_CHUNK_NUMERIC if others is None else EVENT_CHUNK
    starts = range(0, len(obs_ids), size)
    for n, start in enumerate(starts):
        end = start + size
        chunk = CreatedObservations(
            obs_ids[start:end], ds[start:end], times[start:end], results[start:end], flags[start:end]
        )
        outbox.emit(session, SUBJECT, created_payload(chunk, chunk=n, chunks=len(starts)))


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
        batch = _Batch(
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
        series = _series(batch, list(range(len(obs))))
        _update_datastreams(session, batch, ids, series)
        _upsert_rollups(session, batch, series)


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
