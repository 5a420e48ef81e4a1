"""A batch of observations as the write path carries it: rows (:class:`ObservationIn`) or columns
(:class:`ObservationColumns`), results split into a numeric and a JSON column, times as canonical UTC texts
(:func:`time_text`, what SQLite stores, which sort like the times), and the :class:`Batch` of unique,
normalised rows the other ingest modules work on. Also how a stored result reads back (:func:`join_result`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cityops.errors import ApiError
from cityops.sensing import quality


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
OPTIONAL = (
    ("phenomenon_time_end", "time"),
    ("result_time", "time"),
    ("result_quality", "json"),
    ("valid_time_start", "time"),
    ("valid_time_end", "time"),
    ("parameters", "json"),
)


@dataclass(slots=True)
class Batch:
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


def by_datastream(batch: Batch, rows: list[int]) -> dict[int, list[int]]:
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


def result_views(numbers: list[float | None], others: list[Any] | None) -> list[Any]:
    """:func:`join_result` over columns."""
    if others is None:
        return [int(v) if v.is_integer() and abs(v) < 2**53 else v for v in numbers]  # type: ignore[union-attr, arg-type]
    return [join_result(v, o) for v, o in zip(numbers, others, strict=True)]
