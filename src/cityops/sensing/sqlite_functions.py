"""SQL functions SQLite lacks, registered on every SQLite connection (PostgreSQL has its own).

``cityops_lower``/``cityops_upper``: Unicode case mapping (SQLite's ``lower``/``upper`` only fold ASCII,
so ``tolower(name) eq 'bến lức'`` would miss Vietnamese names).
``cityops_mod``: OData ``mod`` of real numbers, sign of the dividend, NULL for a zero divisor (SQLite's
``%`` truncates its operands to integers).
``cityops_map_number(token, id)``: ``values[id]`` of an id -> number map the query compiler published
with :func:`publish` (``geo.distance``/``geo.length`` used in arithmetic or ``$orderby``). Passing a short
token keeps each row's cost to a dictionary lookup; a JSON document bound as a parameter would be handed
to Python (copied and hashed) or re-parsed by ``json_extract`` once per row.
"""

from __future__ import annotations

import math
import sqlite3
import uuid
import weakref
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


class ValueMap(dict[int, float]):
    """An id -> number map readable from SQL while the object is alive (the compiler holds it)."""


_MAPS: weakref.WeakValueDictionary[str, ValueMap] = weakref.WeakValueDictionary()


def publish(values: dict[int, float]) -> tuple[str, ValueMap]:
    """Make ``values`` readable as ``cityops_map_number(token, id)``; keep the returned map alive while
    statements using the token run."""
    mapping = ValueMap(values)
    token = uuid.uuid4().hex
    _MAPS[token] = mapping
    return token, mapping


def _map_number(token: Any, key: Any) -> Any:
    mapping = _MAPS.get(token) if isinstance(token, str) else None
    if mapping is None or not isinstance(key, int):
        return None
    return mapping.get(key)


def register(dbapi_conn: Any, _record: Any = None) -> None:
    if isinstance(dbapi_conn, sqlite3.Connection):
        dbapi_conn.create_function("cityops_lower", 1, _lower, deterministic=True)
        dbapi_conn.create_function("cityops_upper", 1, _upper, deterministic=True)
        dbapi_conn.create_function("cityops_map_number", 2, _map_number, deterministic=True)
        dbapi_conn.create_function("cityops_mod", 2, _mod, deterministic=True)


if not event.contains(Engine, "connect", register):
    event.listen(Engine, "connect", register)
