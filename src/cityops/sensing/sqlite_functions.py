"""SQL functions SQLite lacks, registered on every SQLite connection (PostgreSQL has its own).

``cityops_lower``/``cityops_upper``: Unicode case mapping (SQLite's ``lower``/``upper`` only fold ASCII,
so ``tolower(name) eq 'bến lức'`` would miss Vietnamese names).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import Engine, event


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def register(dbapi_conn: Any, _record: Any = None) -> None:
    if isinstance(dbapi_conn, sqlite3.Connection):
        dbapi_conn.create_function("cityops_lower", 1, _lower, deterministic=True)
        dbapi_conn.create_function("cityops_upper", 1, _upper, deterministic=True)


if not event.contains(Engine, "connect", register):
    event.listen(Engine, "connect", register)
