"""The rows of ``CreateObservations`` (OGC 18-088 §14.3, dataArray) as observation columns.

A dataArray group names its components once and sends each observation as an array of values. The rows
go straight into :class:`~cityops.sensing.ingest.ObservationColumns` (one list per field) without an
object per row: the common shape — every row an array of the right length, times in one UTC ISO 8601
form such as ``2026-03-01T10:00:00Z`` — is checked and converted with operations over whole columns;
any other row (intervals, offsets, other components, bad values) takes the per-row path, where a bad row
becomes an ``"error"`` entry of the answer instead of failing the request.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime
from operator import itemgetter
from typing import Any

from cityops.clock import utcnow
from cityops.errors import ApiError
from cityops.sensing.ingest import ObservationColumns
from cityops.sensing.ingest.batch import time_text
from cityops.sensing.sta_write import bad, time_range

COMPONENTS = frozenset(
    {"id", "phenomenonTime", "resultTime", "result", "resultQuality", "validTime", "parameters",
     "FeatureOfInterest/id"}
)  # fmt: skip
_FAST_COMPONENTS = frozenset({"id", "phenomenonTime", "result"})
# Length of a UTC time ``YYYY-MM-DDTHH:MM:SS[.fff|.ffffff]Z`` -> what replaces its "Z" in the canonical text.
_UTC_FORMS = {20: ".000000", 24: "000", 27: ""}


def canonical_utc_times(values: list[Any]) -> list[str] | None:
    """Canonical time texts of a column of ``YYYY-MM-DDTHH:MM:SS[.fff|.ffffff]Z`` strings (all of one
    length), or ``None`` when the column has any other value (the caller then converts row by row).

    ``datetime.fromisoformat`` checks every value is a real time; the character counts pin the shape
    among the ISO forms it accepts: with one length, exactly two ``-`` and two ``:`` per value, one ``T``
    and one ``Z``, no ``W``, the date is ``YYYY-MM-DD``, the time ``HH:MM:SS`` (plus the fraction the
    length allows) and the offset zero. The conversion is then string replacement over the joined column.
    """
    if not values or set(map(type, values)) != {str}:
        return None
    lengths = set(map(len, values))
    if len(lengths) != 1:
        return None
    suffix = _UTC_FORMS.get(lengths.pop())
    if suffix is None:
        return None
    n = len(values)
    joined = "\n".join(values) + "\n"
    dots = 0 if suffix == ".000000" else n
    if (
        joined.count("-") != 2 * n
        or joined.count(":") != 2 * n
        or joined.count("T") != n
        or joined.count("Z\n") != n
        or joined.count(".") != dots
        or "W" in joined
    ):
        return None
    try:
        deque(map(datetime.fromisoformat, values), maxlen=0)
    except ValueError:
        return None
    return joined.replace("T", " ").replace("Z\n", suffix + "\n").split("\n")[:-1]


class DataArrayBatch:
    """The Datastream rows of one ``CreateObservations`` request, gathered as columns.

    :meth:`add` takes one group and answers, per row, its index in the batch or ``None`` for a row that
    is an error; :meth:`columns` gives what :func:`~cityops.sensing.ingest.ingest_columns` stores.
    """

    def __init__(self) -> None:
        self.datastream_id: list[int] = []
        self.phenomenon_time: list[str] = []
        self.result: list[Any] = []
        self.optional: dict[str, list[Any]] = {}  # a column appears with its first non-null value

    def __len__(self) -> int:
        return len(self.datastream_id)

    def _set(self, name: str, index: int, value: Any) -> None:
        column = self.optional.get(name)
        if column is None:
            column = self.optional[name] = [None] * len(self.datastream_id)
        column[index] = value

    def _grow(self, m: int) -> None:
        for column in self.optional.values():
            column.extend([None] * m)

    def add(self, datastream_id: int, components: list[str], rows: Any) -> list[int | None]:
        """Append one group's rows; per row, its index in the batch or ``None`` ("error")."""
        if not isinstance(rows, list):
            return []
        k = len(components)
        # Type and length checks and column extraction as C loops (map, itemgetter): no Python per row.
        if (
            set(components) <= _FAST_COMPONENTS
            and set(map(type, rows)) <= {list}
            and set(map(len, rows)) <= {k}
        ):
            results = list(map(itemgetter(components.index("result")), rows))
            if "phenomenonTime" in components:
                times = canonical_utc_times(list(map(itemgetter(components.index("phenomenonTime")), rows)))
            else:
                times = None
            if times is not None:
                start = len(self.datastream_id)
                self.datastream_id.extend([datastream_id] * len(rows))
                self.phenomenon_time.extend(times)
                self.result.extend(results)
                self._grow(len(rows))
                return list(range(start, start + len(rows)))
        return [self._add_row(datastream_id, components, row) for row in rows]

    def _add_row(self, datastream_id: int, components: list[str], row: Any) -> int | None:
        if not isinstance(row, list) or len(row) != len(components):
            return None
        values = dict(zip(components, row, strict=True))
        try:
            start, end = time_range("phenomenonTime", values.get("phenomenonTime"))
            foi = values.get("FeatureOfInterest/id")
            if foi is not None and (not isinstance(foi, int) or isinstance(foi, bool)):
                raise bad("FeatureOfInterest/id must be an integer")
            valid = time_range("validTime", values.get("validTime"))
            params = values.get("parameters")
            if params is not None and not isinstance(params, dict):
                raise bad("parameters must be an object")
            result_time = time_range("resultTime", values.get("resultTime"))[0]
        except ApiError:
            return None
        index = len(self.datastream_id)
        self.datastream_id.append(datastream_id)
        self.phenomenon_time.append(time_text(start or utcnow()))
        self.result.append(values["result"])
        self._grow(1)
        for name, value in (
            ("phenomenon_time_end", None if end is None else time_text(end)),
            ("result_time", None if result_time is None else time_text(result_time)),
            ("valid_time_start", None if valid[0] is None else time_text(valid[0])),
            ("valid_time_end", None if valid[1] is None else time_text(valid[1])),
            ("result_quality", values.get("resultQuality")),
            ("parameters", params),
            ("feature_of_interest_id", foi),
        ):
            if value is not None:
                self._set(name, index, value)
        return index

    def feature_ids(self) -> set[int]:
        """The FeatureOfInterest ids the rows name."""
        return {f for f in self.optional.get("feature_of_interest_id", []) if f is not None}

    def columns(
        self, unknown_features: set[int] | None = None
    ) -> tuple[ObservationColumns, list[int] | None]:
        """The batch as columns, without the rows naming a FeatureOfInterest in ``unknown_features``;
        and, when rows were left out, each row's index in the columns (-1 for a row left out)."""
        kept: list[int] | None = None
        remap: list[int] | None = None
        fois = self.optional.get("feature_of_interest_id")
        if unknown_features and fois is not None:
            kept = [i for i, f in enumerate(fois) if f not in unknown_features]
            remap = [-1] * len(fois)
            for new, old in enumerate(kept):
                remap[old] = new

        def pick(values: list[Any]) -> list[Any]:
            return values if kept is None else [values[i] for i in kept]

        opt = {name: pick(values) for name, values in self.optional.items()}
        return (
            ObservationColumns(
                datastream_id=pick(self.datastream_id),
                phenomenon_time=pick(self.phenomenon_time),
                result=pick(self.result),
                phenomenon_time_end=opt.get("phenomenon_time_end"),
                result_time=opt.get("result_time"),
                result_quality=opt.get("result_quality"),
                valid_time_start=opt.get("valid_time_start"),
                valid_time_end=opt.get("valid_time_end"),
                parameters=opt.get("parameters"),
                feature_of_interest_id=opt.get("feature_of_interest_id"),
            ),
            remap,
        )
