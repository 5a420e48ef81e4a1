"""Inserting a batch on SQLite: ``executemany`` with ``ON CONFLICT DO NOTHING`` under this process's writer
lock, binding only the columns that vary; the ids found without reading the rows back when they can be.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from cityops.db import writer_lock
from cityops.sensing.ingest.batch import Batch
from cityops.sensing.ingest.encoding import stored_columns

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


def insert_sqlite(session: Session, batch: Batch) -> tuple[list[int], list[bool] | None]:
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
    names, values = stored_columns(batch, json_as_text=True)
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
