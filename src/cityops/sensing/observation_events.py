"""The payload of ``observations.created`` events: written by the store, read by the consumers.

Version 2 (``"v": 2``, since #6) is columnar, one list per field, all of the same length::

    {"v": 2, "count": 3, "chunk": 0, "chunks": 1, "datastream_ids": [7, 9],
     "ids": [101, 102, 103], "datastreams": [7, 7, 9],
     "phenomenon_times": ["2026-03-01T10:00:00Z", ...], "results": [1.5, 2, "text"],
     "quality_flags": [0, 0, 0]}

``datastream_ids`` is the sorted set of datastreams of the event; ``datastreams[i]`` is the datastream of
observation ``ids[i]``. One list per field instead of one object per observation makes the event several
times cheaper to build, store, relay and read for a 5,000-row batch.

Version 1 (no ``v``) had ``observations``, a list of ``{"id", "datastream_id", "phenomenon_time",
"result", "quality_flags"}`` objects. :func:`read_created` accepts both, so events written before an upgrade
(still pending in the outbox, or kept for a durable consumer by JetStream) are handled the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cityops.sensing.quality import UNFIT

SUBJECT = "observations.created"
VERSION = 2


@dataclass(frozen=True, slots=True)
class CreatedObservations:
    """The observations of one ``observations.created`` event, as columns of the same length."""

    ids: Sequence[int | None]  # None only in version 1 entries that had no id
    datastreams: Sequence[int]
    phenomenon_times: Sequence[str | None]  # None only in version 1 entries that had no time
    results: Sequence[Any]
    quality_flags: Sequence[int | None]

    def __len__(self) -> int:
        return len(self.ids)


def created_payload(obs: CreatedObservations, *, chunk: int = 0, chunks: int = 1) -> dict[str, Any]:
    """The version 2 payload of ``obs`` (one chunk of a batch)."""
    return {
        "v": VERSION,
        "count": len(obs.ids),
        "chunk": chunk,
        "chunks": chunks,
        "datastream_ids": sorted(set(obs.datastreams)),
        "ids": obs.ids,
        "datastreams": obs.datastreams,
        "phenomenon_times": obs.phenomenon_times,
        "results": obs.results,
        "quality_flags": obs.quality_flags,
    }


def read_created(payload: Mapping[str, Any], *, flagged: bool = False) -> CreatedObservations:
    """The observations of an ``observations.created`` payload of version 2 or 1.

    Rows with a :data:`~cityops.sensing.quality.UNFIT` quality flag are left out unless ``flagged`` (#22:
    a RANGE-flagged 999 g/L must not open an alert or move a KPI; the STA publisher asks for every row).
    A version 1 entry without ``datastream_id`` is skipped, one without ``id`` has ``None`` there."""
    obs = _read(payload)
    if flagged or not any(f and f & UNFIT for f in obs.quality_flags):
        return obs
    keep = [i for i, f in enumerate(obs.quality_flags) if not (f and f & UNFIT)]
    return CreatedObservations(
        [obs.ids[i] for i in keep],
        [obs.datastreams[i] for i in keep],
        [obs.phenomenon_times[i] for i in keep],
        [obs.results[i] for i in keep],
        [obs.quality_flags[i] for i in keep],
    )


def _read(payload: Mapping[str, Any]) -> CreatedObservations:
    if payload.get("v") == VERSION:
        ids = payload.get("ids") or []
        columns: list[Sequence[Any]] = [
            payload.get(key) or [None] * len(ids)
            for key in ("datastreams", "phenomenon_times", "results", "quality_flags")
        ]
        if any(len(c) != len(ids) for c in columns):
            raise ValueError("observations.created v2: columns of different lengths")
        return CreatedObservations(ids, *columns)
    rows = [
        o
        for o in payload.get("observations") or []
        if isinstance(o, Mapping) and o.get("datastream_id") is not None
    ]
    return CreatedObservations(
        ids=[o.get("id") for o in rows],
        datastreams=[o["datastream_id"] for o in rows],
        phenomenon_times=[o.get("phenomenon_time") for o in rows],
        results=[o.get("result") for o in rows],
        quality_flags=[o.get("quality_flags", 0) for o in rows],
    )
