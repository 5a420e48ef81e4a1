"""Native range partitioning of ``sta_observations`` by ``phenomenon_time`` on PostgreSQL (monthly).

The ORM model stays a plain table with ``id`` as primary key (so SQLite and the ORM are unchanged). On
PostgreSQL, ``CREATE TABLE sta_observations`` is compiled with ``PARTITION BY RANGE (phenomenon_time)``
and a primary key of ``(id, phenomenon_time)`` (PostgreSQL requires the partition key in every unique
constraint; ``id`` stays unique through its sequence). This applies to ``metadata.create_all`` and to
Alembic's ``op.create_table`` alike. Partitions: :func:`partition_ddl` gives the statements for a default
partition and monthly partitions around now; they run after the table is created (DDL event), from the
plugin's startup (months ahead), and the initial migration (0001) calls it too.

Foreign keys (PostgreSQL only): a foreign-key check costs a lookup and a ``FOR KEY SHARE`` lock per inserted
row, about half of PostgreSQL's ingest cost. Ingest takes the same lock once per batch on its Datastreams
and FeaturesOfInterest (and the STA writer once per Observation), so on PostgreSQL ``sta_observations``
is created without its three foreign keys and statement-level ``AFTER DELETE`` triggers on the referenced
tables do what ``ON DELETE CASCADE`` did (:func:`fk_trigger_ddl`; migration 0004 swaps the keys of an
existing database for them). The models keep the foreign keys: SQLite still has them (cheap there) and
the ORM's joins rely on them.
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
# (referenced table, column of sta_observations): each of Observation's foreign keys, all ON DELETE CASCADE
REFERENCES = (
    ("sta_datastreams", "datastream_id"),
    ("sta_multi_datastreams", "multi_datastream_id"),
    ("sta_features_of_interest", "feature_of_interest_id"),
)
# Table.info key marking the model's table: only it is created without foreign keys (and gets the triggers);
# migration 0001's own copy of the table keeps them, so 0004 finds what a database of that time had.
_TRIGGER_KEYS = "cityops_fk_triggers"


@compiles(CreateTable, "postgresql")
def _create_table(element: CreateTable, compiler: Any, **kw: Any) -> str:
    if element.element.name != TABLE:
        ddl: str = compiler.visit_create_table(element, **kw)
        return ddl
    if element.element.info.get(_TRIGGER_KEYS):
        element = CreateTable(
            element.element, include_foreign_key_constraints=[], if_not_exists=element.if_not_exists
        )
    ddl = compiler.visit_create_table(element, **kw)
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


def _trigger_name(parent: str) -> str:
    return f"{parent}_delete_observations"


def fk_trigger_ddl() -> list[str]:
    """PostgreSQL: per referenced table, a function and a statement-level ``AFTER DELETE`` trigger deleting
    the observations of the deleted rows, as the foreign keys' ``ON DELETE CASCADE`` did (rows deleted by a
    cascade from a Thing fire it too). One set-based delete per statement instead of one per row."""
    out: list[str] = []
    for parent, column in REFERENCES:
        name = _trigger_name(parent)
        out.append(
            f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"DELETE FROM {TABLE} WHERE {column} IN (SELECT id FROM gone); RETURN NULL; END $$"
        )
        out.append(
            f"CREATE TRIGGER {name} AFTER DELETE ON {parent} REFERENCING OLD TABLE AS gone "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )
    return out


def drop_fk_trigger_ddl() -> list[str]:
    """PostgreSQL: drop what :func:`fk_trigger_ddl` created."""
    out: list[str] = []
    for parent, _ in REFERENCES:
        name = _trigger_name(parent)
        out += [f"DROP TRIGGER IF EXISTS {name} ON {parent}", f"DROP FUNCTION IF EXISTS {name}()"]
    return out


def _after_create(target: Table, connection: Connection, **kw: Any) -> None:
    if connection.dialect.name == "postgresql":
        for stmt in partition_ddl():
            connection.execute(text(stmt))
        if target.info.get(_TRIGGER_KEYS):
            for stmt in fk_trigger_ddl():
                connection.execute(text(stmt))


def install(table: Table) -> None:
    """Partition the model's ``sta_observations`` on PostgreSQL and replace its foreign keys by triggers."""
    declared = {
        (fk.target_fullname.split(".")[0], fk.parent.name, fk.ondelete)
        for c in table.columns
        for fk in c.foreign_keys
    }
    if declared != {(parent, column, "CASCADE") for parent, column in REFERENCES}:
        # the triggers reproduce exactly these keys: change fk_trigger_ddl (and add a migration) first
        raise RuntimeError(f"{TABLE}'s foreign keys are not the ones its triggers replace: {declared}")
    table.info[_TRIGGER_KEYS] = True
    if not event.contains(table, "after_create", _after_create):
        event.listen(table, "after_create", _after_create)
