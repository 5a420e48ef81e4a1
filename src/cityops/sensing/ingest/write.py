"""Storing a batch of observations: the entry points every ingest path calls (STA POST,
``CreateObservations``, MQTT, the simulator) and the order of the steps.

:func:`ingest_observations` (rows) or :func:`ingest_columns` (columns, which the dataArray path builds
without an object per row) check the Datastreams and FeaturesOfInterest, keep the first of repeated
(datastream, time) rows, fill generated features, flag quality (:mod:`.flags`), insert
(:mod:`.sqlite`, :mod:`.postgres`: a re-sent row is not a second row and answers with the stored row's id),
then, for the rows really inserted only, update the Datastreams' ranges, latest value and observed area
(:mod:`.datastreams`) and the roll-ups (:mod:`.rollups`), and emit one ``observations.created`` event per
batch (per chunk of a huge one). The caller owns the transaction: commit after the call, so the event and
the rows commit together.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.sensing.ingest.batch import (
    OPTIONAL,
    Batch,
    IngestError,
    IngestResult,
    ObservationColumns,
    ObservationIn,
    by_datastream,
    iso_z,
    result_views,
    split_results,
    time_text,
)
from cityops.sensing.ingest.datastreams import update_datastreams, update_observed_areas
from cityops.sensing.ingest.flags import set_quality_flags
from cityops.sensing.ingest.postgres import insert_postgres
from cityops.sensing.ingest.rollups import upsert_rollups
from cityops.sensing.ingest.sqlite import insert_sqlite
from cityops.sensing.models import (
    Datastream,
    FeatureOfInterest,
    Location,
    thing_locations,
)
from cityops.sensing.observation_events import SUBJECT, CreatedObservations, created_payload


def generated_feature_id(session: Session, datastream_id: int) -> int | None:
    """The FeatureOfInterest generated from the Location of the datastream's Thing (created once)."""
    return generated_feature_ids(session, [datastream_id]).get(datastream_id)


def generated_feature_ids(session: Session, datastream_ids: Sequence[int]) -> dict[int, int | None]:
    """:func:`generated_feature_id` of several datastreams: one query for all of them (a station's request
    names ten), then a feature created only for a Location that has none yet."""
    rows = session.execute(
        select(Datastream.id, Location.id, FeatureOfInterest.id)
        .join(thing_locations, thing_locations.c.thing_id == Datastream.thing_id)
        .join(Location, Location.id == thing_locations.c.location_id)
        .outerjoin(FeatureOfInterest, FeatureOfInterest.source_location_id == Location.id)
        .where(Datastream.id.in_(datastream_ids))
        .order_by(Datastream.id, Location.id.desc(), FeatureOfInterest.id)
    ).all()
    out: dict[int, int | None] = dict.fromkeys(datastream_ids)
    newest: dict[int, tuple[int, int | None]] = {}
    for ds_id, location_id, feature_id in rows:
        newest.setdefault(ds_id, (location_id, feature_id))  # the Thing's newest Location, first feature
    created: dict[int, int] = {}
    for ds_id, (location_id, found) in newest.items():
        if found is None and location_id not in created:
            created[location_id] = _feature_from(session, location_id)
        out[ds_id] = int(found) if found is not None else created[location_id]
    return out


def _feature_from(session: Session, location_id: int) -> int:
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
    for name in ("phenomenon_time", "result", "quality_flags", "feature_of_interest_id", *dict(OPTIONAL)):
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
    _refuse_implausible(session, ds_col, cols.phenomenon_time)
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
        features = generated_feature_ids(session, ds_ids)
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
    batch = Batch(
        ds=ds,
        text=pick(cols.phenomenon_time),
        number=number,
        other=other,
        foi=foi,
        flags=list(pick(cols.quality_flags)) if cols.quality_flags is not None else [0] * u,
        optional={
            name: pick(values) for name, _kind in OPTIONAL if (values := getattr(cols, name)) is not None
        },
    )
    set_quality_flags(session, batch)
    if session.get_bind().dialect.name == "postgresql":
        ids, new = insert_postgres(session, batch)
    else:
        ids, new = insert_sqlite(session, batch)
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
        series = by_datastream(batch, new_idx)
        update_datastreams(session, batch, ids, series)
        pairs = (
            set(zip(batch.ds, batch.foi, strict=True))
            if new is None
            else {(batch.ds[i], batch.foi[i]) for i in new_idx}
        )
        update_observed_areas(session, {(d, f) for d, f in pairs if f})
        upsert_rollups(session, batch, series)
        if emit_event:
            _emit(session, batch, ids, new_idx)
    return out


# How far ahead of the server's clock a phenomenon time may be (clock drift of a station's logger); beyond
# it the batch is refused (#22: rows ~40 minutes ahead were stored and opened an alert). A forecast Datastream
# (``properties.forecast``, issue #16) holds target times ahead of now by design and is exempt.
FUTURE_TOLERANCE = timedelta(minutes=5)

# The earliest plausible phenomenon time (#21): a logger whose clock was never set counts from the Unix epoch
# (1970-01-01) or the GPS epoch (1980-01-06); anything before the day after the GPS epoch is such a clock, not a
# reading. Archives from before it are not accepted through ingest (docs/sta.md says so).
EARLIEST_TIME = datetime(1980, 1, 7, tzinfo=UTC)


def _refuse_implausible(session: Session, ds_col: Sequence[int], texts: Sequence[str]) -> None:
    """IngestError (a 400, nothing stored) when a phenomenon time is before :data:`EARLIEST_TIME`, or beyond
    :data:`FUTURE_TOLERANCE` on a Datastream that is not a forecast (one query, only when such a row exists)."""
    floor = time_text(EARLIEST_TIME)
    early = [text for text in texts if text < floor]
    if early:
        raise IngestError(
            f"phenomenonTime {iso_z([min(early)])[0]} is before {iso_z([floor])[0]}: a station clock that was "
            "never set, not a reading"
        )
    limit = time_text(datetime.now(UTC) + FUTURE_TOLERANCE)
    ahead = [i for i, text in enumerate(texts) if text > limit]
    if not ahead:
        return
    ids = {ds_col[i] for i in ahead}
    forecasts = {
        ds_id
        for ds_id, props in session.execute(
            select(Datastream.id, Datastream.properties).where(Datastream.id.in_(ids))
        )
        if isinstance(props, dict) and props.get("forecast")
    }
    refused = [texts[i] for i in ahead if ds_col[i] not in forecasts]
    if refused:
        latest = max(refused)
        raise IngestError(
            f"phenomenonTime {iso_z([latest])[0]} is in the future (more than "
            f"{int(FUTURE_TOLERANCE.total_seconds() // 60)} minutes ahead of the server's clock); only a "
            "forecast Datastream (properties.forecast) may hold future times"
        )


# Observations per event: keeps payloads under the outbox's size limit (768 KiB). A numeric observation
# takes at most ~150 bytes of JSON; other results may be large objects, so those batches use smaller chunks.
EVENT_CHUNK = 2000


EVENT_CHUNK_NUMERIC = 5000


def _emit(session: Session, batch: Batch, ids: list[int], rows: list[int]) -> None:
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
