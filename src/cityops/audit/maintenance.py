"""The one way to delete audit rows on SQLite: for emptying a test database, never for an API.

Usage (``tests/conftest.py``, inside the transaction that empties the tables)::

    with audit_purge_allowed(conn):
        conn.execute(text('DELETE FROM "audit_log"'))
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Connection

from cityops.audit.models import PURGE_FUNCTION


@contextmanager
def audit_purge_allowed(conn: Connection) -> Iterator[None]:
    """Within the block, this SQLite connection may DELETE from ``audit_log``; outside it, not.

    On PostgreSQL this does nothing (empty the table with ``TRUNCATE`` there).
    """
    if conn.dialect.name != "sqlite":
        yield
        return
    raw = conn.connection.driver_connection
    assert raw is not None
    raw.create_function(PURGE_FUNCTION, 0, lambda: 1)
    try:
        yield
    finally:
        # Leave a function that says no, so the trigger reports "append-only" on this connection.
        raw.create_function(PURGE_FUNCTION, 0, lambda: 0)
