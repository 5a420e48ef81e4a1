"""Native range partitioning of ``sta_observations`` by ``phenomenon_time`` on PostgreSQL (monthly).

The ORM model stays a plain table with ``id`` as primary key (so SQLite and the ORM are unchanged). On
PostgreSQL, ``CREATE TABLE sta_observations`` is compiled with ``PARTITION BY RANGE (phenomenon_time)``
and a primary key of ``(id, phenomenon_time)`` (PostgreSQL requires the partition key in every unique
constraint; ``id`` stays unique through its sequence). This applies to ``metadata.create_all`` and to
Alembic's ``op.create_table`` alike. Partitions: :func:`partition_ddl` gives the statements for a default
partition and monthly partitions around now; they run after the table is created (DDL event), from the
plugin's startup (months ahead), and the lead's migration can call
:func:`cityops.sensing.storage.postgres_partition_ddl`.
"""

from __future__ import annotations

import logging
import re
from datetime import date
from typing import Any

from sqlalchemy import Connection, Table, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateTable

from cityops.clock import utcnow

log = logging.getLogger(__name__)

TABLE = "sta_observations"
PARTITION_KEY = "phenomenon_time"


@compiles(CreateTable, "postgresql")
def _create_table(element: CreateTable, compiler: Any, **kw: Any) -> str:
    ddl: str = compiler.visit_create_table(element, **kw)
    if element.element.name != TABLE:
        return ddl
    ddl, n = re.subn(r"PRIMARY KEY \(id\)", f"PRIMARY KEY (id, {PARTITION_KEY})", ddl)
    if n != 1:
        raise RuntimeError(f"cannot make {TABLE} partitioned: primary key clause not found")
    return ddl.rstrip().rstrip(";") + f" PARTITION BY RANGE ({PARTITION_KEY})"


def _month_add(d: date, months: int) -> date:
    total = d.year * 12 + d.month - 1 + months
    return date(total // 12, total % 12 + 1, 1)


def partition_ddl(*, around: date | None = None, months_back: int = 1, months_ahead: int = 3) -> list[str]:
    """``CREATE TABLE IF NOT EXISTS`` statements: the default partition and one per month around ``around``."""
    today = around or utcnow().date()
    first = _month_add(today.replace(day=1), -months_back)
    stmts = [f"CREATE TABLE IF NOT EXISTS {TABLE}_default PARTITION OF {TABLE} DEFAULT"]
    for i in range(months_back + months_ahead + 1):
        start = _month_add(first, i)
        end = _month_add(start, 1)
        stmts.append(
            f"CREATE TABLE IF NOT EXISTS {TABLE}_y{start.year}m{start.month:02d} PARTITION OF {TABLE} "
            f"FOR VALUES FROM ('{start.isoformat()} 00:00:00+00') TO ('{end.isoformat()} 00:00:00+00')"
        )
    return stmts


def ensure_partitions(conn: Connection, **kw: Any) -> int:
    """Create missing monthly partitions; returns how many statements ran. PostgreSQL only.

    A month whose rows already sit in the default partition is skipped (logged): PostgreSQL refuses to
    attach it until those rows are moved.
    """
    if conn.dialect.name != "postgresql":
        return 0
    is_partitioned = conn.execute(
        text(
            "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid WHERE c.relname = :t"
        ),
        {"t": TABLE},
    ).first()
    if is_partitioned is None:
        return 0
    done = 0
    for stmt in partition_ddl(**kw):
        try:
            with conn.begin_nested():
                conn.execute(text(stmt))
            done += 1
        except DBAPIError as exc:  # rows of that month already in the default partition
            log.warning("partition not created: %s (%s)", stmt, exc.orig)
    return done


def _after_create(target: Table, connection: Connection, **kw: Any) -> None:
    if connection.dialect.name == "postgresql":
        for stmt in partition_ddl():
            connection.execute(text(stmt))


def install(table: Table) -> None:
    if not event.contains(table, "after_create", _after_create):
        event.listen(table, "after_create", _after_create)
