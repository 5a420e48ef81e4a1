"""Group commit of concurrent small ingest requests (#22): one transaction, one event, for many stations.

A station posts its few latest values; a province has thousands of them. Each request alone pays the
whole fixed cost of a write (the write turn, ``BEGIN``, a dozen set-based statements, the commit, and one
``observations.created`` event that every consumer handles). :func:`ingest_grouped` queues the request's
rows on the process's ``sensing.ingest`` group (:func:`cityops.db.group_commit`, as report submissions
do): one waiting thread, the leader, writes every queued request's rows as one batch through
:func:`~cityops.sensing.ingest.write.ingest_columns` and commits once; the consumers then see one event
for all of them. Each caller returns only after the transaction holding its rows committed, so an
acknowledged row is durable exactly as before.

A batch is all or nothing per request: when the merged batch is refused (:class:`IngestError`, such as a
future time or a Datastream deleted meanwhile) or one request's row conflicts with a stored value (a 409
for that request only), the merged transaction is rolled back and each request is written alone, in its own
transaction, answering as it would have without the group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy.orm import Session

from cityops import db
from cityops.sensing.ingest.batch import IngestError, IngestResult, ObservationColumns
from cityops.sensing.ingest.write import ingest_columns
from cityops.sensing.sta_results import conflicts

GROUP = "sensing.ingest"
# Requests with more rows than this are written alone (they already share their fixed costs over many
# rows, and a group should not wait behind them); it also bounds a merged batch (64 requests at most).
GROUP_MAX_ROWS = 500


@dataclass(frozen=True)
class Clash:
    """Outcome of a request whose rows at these indexes differ from the values stored (nothing stored)."""

    rows: list[int]


Outcome = IngestResult | Clash | IngestError


def merge(parts: Sequence[ObservationColumns]) -> ObservationColumns:
    """The rows of ``parts`` one after the other; an optional column absent from some part is padded
    with its absent value (``None``, or 0 for quality flags)."""
    out: dict[str, Any] = {}
    for f in fields(ObservationColumns):
        columns = [getattr(p, f.name) for p in parts]
        if all(c is None for c in columns):
            out[f.name] = None
            continue
        pad = 0 if f.name == "quality_flags" else None
        merged: list[Any] = []
        for part, column in zip(parts, columns, strict=True):
            merged.extend(column if column is not None else [pad] * len(part.datastream_id))
        out[f.name] = merged
    return ObservationColumns(**out)


def split(result: IngestResult, parts: Sequence[ObservationColumns]) -> list[IngestResult]:
    """Each part's share of the merged batch's result (its ids, its duplicate rows as its own indexes)."""
    out: list[IngestResult] = []
    start = 0
    duplicates = sorted(result.duplicate_indexes)
    for part in parts:
        n = len(part.datastream_id)
        mine = [i - start for i in duplicates if start <= i < start + n]
        out.append(IngestResult(n - len(mine), len(mine), result.ids[start : start + n], mine))
        start += n
    return out


def _alone(session: Session, cols: ObservationColumns) -> Outcome:
    """One request in its own transaction, committed unless refused."""
    try:
        done = ingest_columns(session, cols)
    except IngestError as exc:
        session.rollback()
        return exc
    clash = conflicts(session, cols.result, done.ids, done.duplicate_indexes)
    if clash:
        session.rollback()
        return Clash(clash)
    session.commit()
    return done


class _Separately(Exception):
    """The merged batch cannot be stored as one: write each request alone."""


def _write(session: Session, items: Sequence[ObservationColumns]) -> list[Outcome]:
    if len(items) == 1:
        return [_alone(session, items[0])]
    try:
        try:
            done = ingest_columns(session, merge(items))
        except IngestError as exc:
            raise _Separately from exc
        shares = split(done, items)
        for item, share in zip(items, shares, strict=True):
            if conflicts(session, item.result, share.ids, share.duplicate_indexes):
                raise _Separately
        session.commit()
        return list(shares)
    except _Separately:
        session.rollback()
        return [_alone(session, item) for item in items]
    except BaseException:
        session.rollback()
        raise


def ingest_grouped(session: Session, cols: ObservationColumns) -> Outcome:
    """Store ``cols`` committed, sharing the transaction with concurrent requests (see the module
    docstring); the caller's open transaction is ended first (it must hold no writes). A request larger
    than :data:`GROUP_MAX_ROWS` is written alone. Raises :class:`cityops.db.WriterBusy` (a 503) when no
    write turn came within the busy timeout, and whatever the database raised for the shared batch."""
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("ingest_grouped needs a session without pending writes")
    session.rollback()  # the read transaction ends: the connection goes back while this request waits
    if len(cols.datastream_id) > GROUP_MAX_ROWS:
        return _alone(session, cols)
    group = db.group_commit(session.get_bind().engine, GROUP)
    outcome: Outcome = group.run(cols, lambda items: _write(session, items), timeout=db.BUSY_TIMEOUT_SECONDS)
    return outcome
