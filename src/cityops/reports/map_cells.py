"""Counts of public cases per map grid cell and state, kept by the database itself, for the clustered map.

Clustering 10^6 cases on every low-zoom map request means reading 10^6 index entries and grouping them
(seconds on SQLite, over a second on PostgreSQL). Map backends keep an aggregate instead: ``case_map_cells``
holds, for each grid level in :data:`LEVELS` (the web-map zoom whose cluster grid it is, see
:func:`cityops.reports.public.grid_size_deg`), each occupied cell and state, the number of public located cases
(``hidden`` false, ``lat``/``lon`` set) and the sums of their coordinates, so a cluster's count and mean
position come from a few hundred rows.

The rows are maintained by triggers on ``cases`` in the writing transaction, so every write path (intake,
workflow, moderation, merges, retention, bulk loads, raw SQL) keeps them exact without a call in Python:
SQLite row triggers (one upsert per level), PostgreSQL statement triggers over the transition tables (one
grouped upsert per statement, in key order so concurrent writers lock rows in the same order). An update that
changes none of ``lat``, ``lon``, ``state``, ``hidden`` writes nothing here.

Like the audit log's triggers, :func:`ddl` is installed by ``metadata.create_all`` (tests) and is what the
Alembic migration runs after creating the table and :func:`backfill_sql`. Cells whose count returns to 0 stay
(a few bytes each) and are skipped on read.
"""

from __future__ import annotations

from sqlalchemy import Float, Integer, MetaData, String, event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column

from cityops.db import Base

TABLE = "case_map_cells"
# Every second grid level: a case write updates four rows, and a viewport's edge costs a ring of at most three
# cells per level (see public.py). Coarser zooms group level 8 cells (0.35°, ~39 km): no row is shared by every
# case of a province, which on PostgreSQL would make every writing transaction wait for the one before it.
LEVELS = (8, 10, 12, 14)
# The PostgreSQL advisory lock (transaction scope) that orders writers of the cells (see :func:`ddl`).
PG_LOCK_KEY = 0x63697479_6D617063  # "citymapc"


def cell_size(level: int) -> float:
    """Cell size in degrees at a grid level (90° / 2^level, exact); ``public.grid_size_deg`` is this."""
    return 360.0 / float(2**level) / 4.0


class CaseMapCell(Base):
    """Public located cases of one state in one grid cell at one level, with their coordinate sums."""

    __tablename__ = TABLE

    z: Mapped[int] = mapped_column(Integer, primary_key=True)
    cy: Mapped[int] = mapped_column(Integer, primary_key=True)  # floor(lat / cell_size(z))
    cx: Mapped[int] = mapped_column(Integer, primary_key=True)  # floor(lon / cell_size(z))
    state: Mapped[str] = mapped_column(String(20), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)
    lat_sum: Mapped[float] = mapped_column(Float, default=0.0)
    lon_sum: Mapped[float] = mapped_column(Float, default=0.0)


def _sqlite_floor(x: str) -> str:
    # floor() needs SQLite's optional math functions; a trigger must work on every connection
    return f"(CAST({x} AS INTEGER) - ({x} < CAST({x} AS INTEGER)))"


def _levels_sqlite() -> str:
    return " UNION ALL ".join(f"SELECT {z} AS z, {cell_size(z)!r} AS size" for z in LEVELS)


def _levels_pg() -> str:
    return "(VALUES " + ", ".join(f"({z}, {cell_size(z)!r}::float8)" for z in LEVELS) + ") AS l(z, size)"


_UPSERT_SET = "n = {t}.n + excluded.n, lat_sum = {t}.lat_sum + excluded.lat_sum, lon_sum = {t}.lon_sum + excluded.lon_sum"


def _sqlite_add(row: str, sign: str) -> str:
    lat, lon = f"{row}.lat", f"{row}.lon"
    return (
        f"INSERT INTO {TABLE} (z, cy, cx, state, n, lat_sum, lon_sum) "
        f"SELECT l.z, {_sqlite_floor(f'{lat} / l.size')}, {_sqlite_floor(f'{lon} / l.size')}, {row}.state, "
        f"{sign}1, {sign}{lat}, {sign}{lon} FROM ({_levels_sqlite()}) AS l "
        f"WHERE {row}.hidden = 0 AND {lat} IS NOT NULL AND {lon} IS NOT NULL "
        f"ON CONFLICT (z, cy, cx, state) DO UPDATE SET {_UPSERT_SET.format(t=TABLE)};"
    )


def _pg_upsert(source: str) -> str:
    """Grouped upsert of ``source`` rows (sign, lat, lon, state) at every level, in key order."""
    return (
        f"INSERT INTO {TABLE} AS m (z, cy, cx, state, n, lat_sum, lon_sum) "
        "SELECT l.z, floor(c.lat / l.size)::int, floor(c.lon / l.size)::int, c.state, "
        "sum(c.sign)::int, sum(c.sign * c.lat), sum(c.sign * c.lon) "
        f"FROM ({source}) AS c CROSS JOIN {_levels_pg()} "
        "GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4 "
        f"ON CONFLICT (z, cy, cx, state) DO UPDATE SET {_UPSERT_SET.format(t='m')}"
    )


_COUNTED = "NOT {r}.hidden AND {r}.lat IS NOT NULL AND {r}.lon IS NOT NULL"
_CHANGED = "(o.lat, o.lon, o.state, o.hidden) IS DISTINCT FROM (n.lat, n.lon, n.state, n.hidden)"


def ddl(dialect_name: str) -> list[str]:
    """Statements installing the triggers that keep ``case_map_cells`` in step with ``cases``.

    For the migration: ``for stmt in ddl(op.get_bind().dialect.name): op.execute(stmt)`` (after the table
    and :func:`backfill_sql`).
    """
    if dialect_name == "sqlite":
        changed = "OLD.lat IS NOT NEW.lat OR OLD.lon IS NOT NEW.lon OR OLD.state IS NOT NEW.state OR OLD.hidden IS NOT NEW.hidden"
        return [
            "DROP TRIGGER IF EXISTS case_map_cells_insert",
            "DROP TRIGGER IF EXISTS case_map_cells_update",
            "DROP TRIGGER IF EXISTS case_map_cells_delete",
            f"CREATE TRIGGER case_map_cells_insert AFTER INSERT ON cases BEGIN {_sqlite_add('NEW', '')} END",
            f"CREATE TRIGGER case_map_cells_update AFTER UPDATE OF lat, lon, state, hidden ON cases WHEN {changed} "
            f"BEGIN {_sqlite_add('OLD', '-')} {_sqlite_add('NEW', '')} END",
            f"CREATE TRIGGER case_map_cells_delete AFTER DELETE ON cases BEGIN {_sqlite_add('OLD', '-')} END",
        ]
    if dialect_name == "postgresql":
        ins = _pg_upsert(
            f"SELECT 1 AS sign, r.lat, r.lon, r.state FROM new_rows r WHERE {_COUNTED.format(r='r')}"
        )
        dele = _pg_upsert(
            f"SELECT -1 AS sign, r.lat, r.lon, r.state FROM old_rows r WHERE {_COUNTED.format(r='r')}"
        )
        upd = _pg_upsert(
            f"SELECT -1 AS sign, o.lat, o.lon, o.state FROM old_rows o JOIN new_rows n ON n.id = o.id "
            f"WHERE {_CHANGED} AND {_COUNTED.format(r='o')} UNION ALL "
            f"SELECT 1, n.lat, n.lon, n.state FROM old_rows o JOIN new_rows n ON n.id = o.id "
            f"WHERE {_CHANGED} AND {_COUNTED.format(r='n')}"
        )
        # Whether the statement changed any counted row: only then is the lock below taken.
        touched = {
            "insert": f"SELECT 1 FROM new_rows r WHERE {_COUNTED.format(r='r')}",
            "update": "SELECT 1 FROM old_rows o JOIN new_rows n ON n.id = o.id "
            f"WHERE {_CHANGED} AND ({_COUNTED.format(r='o')} OR {_COUNTED.format(r='n')})",
            "delete": f"SELECT 1 FROM old_rows r WHERE {_COUNTED.format(r='r')}",
        }
        out: list[str] = []
        for kind, body, tables in (
            ("insert", ins, "NEW TABLE AS new_rows"),
            ("update", upd, "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
            ("delete", dele, "OLD TABLE AS old_rows"),
        ):
            # Every writer of cases updates the same few coarse cells, and a transaction of several
            # statements (a group of submissions, a workflow step) locks them in its own order: two such
            # transactions could deadlock. One transaction-scoped lock, taken before the first cell row,
            # gives all of them one order; they queued on those rows until commit anyway.
            out += [
                f"CREATE OR REPLACE FUNCTION case_map_cells_{kind}() RETURNS trigger LANGUAGE plpgsql AS $fn$ "
                f"BEGIN IF EXISTS ({touched[kind]}) THEN PERFORM pg_advisory_xact_lock({PG_LOCK_KEY}); "
                f"{body}; END IF; RETURN NULL; END $fn$",
                f"DROP TRIGGER IF EXISTS case_map_cells_{kind} ON cases",
                f"CREATE TRIGGER case_map_cells_{kind} AFTER {kind.upper()} ON cases REFERENCING {tables} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION case_map_cells_{kind}()",
            ]
        return out
    raise ValueError(f"no map cell triggers for the {dialect_name!r} dialect")


def drop_ddl(dialect_name: str) -> list[str]:
    """Statements removing the triggers (a bulk load may drop them, load, then :func:`backfill_sql` and :func:`ddl`)."""
    on = " ON cases" if dialect_name == "postgresql" else ""
    return [f"DROP TRIGGER IF EXISTS case_map_cells_{kind}{on}" for kind in ("insert", "update", "delete")]


def backfill_sql(dialect_name: str) -> list[str]:
    """Statements (re)filling ``case_map_cells`` from ``cases`` (the migration, or after a bulk load)."""
    if dialect_name == "postgresql":
        fill = (
            f"INSERT INTO {TABLE} (z, cy, cx, state, n, lat_sum, lon_sum) "
            "SELECT l.z, floor(c.lat / l.size)::int, floor(c.lon / l.size)::int, c.state, count(*), sum(c.lat), "
            f"sum(c.lon) FROM cases c CROSS JOIN {_levels_pg()} WHERE {_COUNTED.format(r='c')} GROUP BY 1, 2, 3, 4"
        )
    elif dialect_name == "sqlite":
        fill = (
            f"INSERT INTO {TABLE} (z, cy, cx, state, n, lat_sum, lon_sum) "
            f"SELECT l.z, {_sqlite_floor('c.lat / l.size')}, {_sqlite_floor('c.lon / l.size')}, c.state, count(*), "
            f"sum(c.lat), sum(c.lon) FROM cases c CROSS JOIN ({_levels_sqlite()}) AS l "
            "WHERE c.hidden = 0 AND c.lat IS NOT NULL AND c.lon IS NOT NULL GROUP BY 1, 2, 3, 4"
        )
    else:
        raise ValueError(f"no map cell backfill for the {dialect_name!r} dialect")
    return [f"DELETE FROM {TABLE}", fill]


def install(connection: Connection) -> None:
    """Fill the table from ``cases`` and install the triggers on this connection's database."""
    for stmt in backfill_sql(connection.dialect.name) + ddl(connection.dialect.name):
        connection.exec_driver_sql(stmt)


@event.listens_for(Base.metadata, "after_create")
def _after_create(target: MetaData, connection: Connection, **kw: object) -> None:
    # after every table (the triggers are on ``cases``): metadata.create_all in tests and dev databases
    if TABLE in target.tables and "cases" in target.tables:
        for stmt in ddl(connection.dialect.name):
            connection.exec_driver_sql(stmt)
