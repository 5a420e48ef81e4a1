"""Inserting a batch on PostgreSQL: a large batch reads which of its rows are stored already and ``COPY``s the
others (falling back to the upsert if another writer got there first); a small one is one ``INSERT ... ON
CONFLICT DO NOTHING`` statement with the rows as one JSON parameter.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from sqlalchemy.orm import Session

from cityops.sensing.ingest.batch import Batch, time_text
from cityops.sensing.ingest.encoding import KINDS, json_text, stored_columns


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


def insert_postgres(session: Session, batch: Batch) -> tuple[list[int], list[bool] | None]:
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
        return [r"\N" if (t := json_text(v)) is None else t.replace("\\", "\\\\") for v in column]
    if None in column:
        return [r"\N" if v is None else (repr(v) if kind == "float" else str(v)) for v in column]
    return list(map(repr if kind == "float" else str, column))


def _copy_postgres(raw: Any, batch: Batch, sequence: str) -> tuple[list[int], list[bool] | None] | None:
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
            names, values = stored_columns(batch, json_as_text=False)
            fields = [[str(v) for v in drawn]]
            for name, column in zip(names, values, strict=True):
                picked = column if new is None else [column[i] for i in rows]
                first = picked[0]
                if (first is None or type(first) is int) and picked.count(first) == k:
                    fields.append([r"\N" if first is None else str(first)] * k)  # one value: no per-row work
                else:
                    fields.append(_copy_text(KINDS[name], picked))
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


def _upsert_postgres(raw: Any, batch: Batch, sequence: str) -> tuple[list[int], list[bool] | None]:
    """One statement: the rows as one JSON parameter, unpacked by PostgreSQL with an id drawn for each,
    inserted with ``ON CONFLICT DO NOTHING``; back come the drawn ids in row order and the ids inserted,
    as two JSON arrays (a row whose id was not inserted is already stored: its id is looked up).

    No per-row work in Python beyond the JSON encoding, and no join between the rows and what was
    inserted (PostgreSQL cannot estimate either side and would pick a nested loop).
    """
    names, values = stored_columns(batch, json_as_text=False)
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
            exprs.append(f"{_pg_expr(KINDS[name], len(sent))} AS {name}")
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
