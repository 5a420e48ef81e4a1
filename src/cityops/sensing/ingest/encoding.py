"""How a batch's stored columns are handed to the database: which columns, of which kind, JSON as text."""

from __future__ import annotations

import json
from typing import Any

import orjson

from cityops.sensing.ingest.batch import OPTIONAL, Batch


def json_text(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # what orjson refuses (integers beyond 64 bits, ...) the standard encoder writes
        return json.dumps(value, ensure_ascii=False)


# Kind of each stored column: how SQLite and PostgreSQL receive it.
KINDS = {
    "datastream_id": "int",
    "phenomenon_time": "time",
    "result_number": "float",
    "result_json": "json",
    "quality_flags": "int",
    "feature_of_interest_id": "int",
    **dict(OPTIONAL),
}


def stored_columns(batch: Batch, *, json_as_text: bool) -> tuple[list[str], list[list[Any]]]:
    """The stored columns of the batch (absent ones left to their NULL default) and their values."""
    names = ["datastream_id", "phenomenon_time", "result_number", "quality_flags", "feature_of_interest_id"]
    values: list[list[Any]] = [batch.ds, batch.text, batch.number, batch.flags, batch.foi]
    extra = dict(batch.optional)
    if batch.other is not None:
        extra["result_json"] = batch.other
    for name, column in extra.items():
        names.append(name)
        values.append([json_text(v) for v in column] if json_as_text and KINDS[name] == "json" else column)
    return names, values
