"""SQL functions SQLite lacks, registered on every SQLite connection (PostgreSQL has its own).

``cityops_lower``/``cityops_upper``: Unicode case mapping (SQLite's ``lower``/``upper`` only fold ASCII,
so ``tolower(name) eq 'bến lức'`` would miss Vietnamese names).
``cityops_mod``: OData ``mod`` of real numbers, sign of the dividend, NULL for a zero divisor (SQLite's
``%`` truncates its operands to integers).
``cityops_json_number(doc, key)``: the number under ``key`` in a JSON object bound once per query (the
id -> value map of ``geo.distance``/``geo.length``); the parsed object is cached, so each row costs a
dictionary lookup instead of re-parsing the JSON as ``json_extract`` would.
"""

from __future__ import annotations

import json
import math
import sqlite3
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, event


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def _mod(a: Any, b: Any) -> Any:
    if not isinstance(a, int | float) or not isinstance(b, int | float) or b == 0:
        return None
    if isinstance(a, int) and isinstance(b, int):
        rest = abs(a) % abs(b)  # exact for integers of any size
        return rest if a >= 0 else -rest
    return math.fmod(a, b)


@lru_cache(maxsize=8)
def _parsed(doc: str) -> dict[str, Any]:
    value = json.loads(doc)
    return value if isinstance(value, dict) else {}


def _json_number(doc: Any, key: Any) -> Any:
    if not isinstance(doc, str) or key is None:
        return None
    value = _parsed(doc).get(str(key))
    return value if isinstance(value, int | float) else None


def register(dbapi_conn: Any, _record: Any = None) -> None:
    if isinstance(dbapi_conn, sqlite3.Connection):
        dbapi_conn.create_function("cityops_lower", 1, _lower, deterministic=True)
        dbapi_conn.create_function("cityops_upper", 1, _upper, deterministic=True)
        dbapi_conn.create_function("cityops_json_number", 2, _json_number, deterministic=True)
        dbapi_conn.create_function("cityops_mod", 2, _mod, deterministic=True)


if not event.contains(Engine, "connect", register):
    event.listen(Engine, "connect", register)
