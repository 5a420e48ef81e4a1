"""The Alembic migrations build exactly the schema the models declare, on both backends (no drift)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, Engine, inspect, select, text

from cityops.audit.models import missing_triggers
from cityops.db import make_engine
from cityops.migrate import upgrade
from cityops.models import metadata
from cityops.sensing import partitioning
from tests.conftest import _create_pg_database, _drop_pg_database
from tests.services import require_postgres


def _not_a_partition(name: str | None, type_: str, parent_names: object) -> bool:
    """Monthly partitions of sta_observations exist only in the database, not in the models."""
    return not (type_ == "table" and name is not None and name.startswith("sta_observations_"))


def _fk_kept_by_triggers(dialect: str) -> Callable[..., bool]:
    """On PostgreSQL ``sta_observations`` has no foreign keys, by design: statement-level delete triggers
    and key-share locks replace them (cityops.sensing.partitioning, migration 0004), while the models keep
    them for SQLite and the ORM. Only those three model-side keys are left out of the comparison, and only
    on PostgreSQL; the triggers are checked instead (test_observation_fk_triggers_migration_goes_both_ways)."""

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        return not (
            dialect == "postgresql"
            and type_ == "foreign_key_constraint"
            and not reflected
            and compare_to is None
            and obj.table.name == partitioning.TABLE
            and {(fk.column.table.name, fk.parent.name) for fk in obj.elements}
            <= set(partitioning.REFERENCES)
        )

    return include


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "postgresql":
        require_postgres()
        url = _create_pg_database()
        try:
            yield url
        finally:
            _drop_pg_database(url)
    else:
        yield f"sqlite:///{tmp_path / 'migrated.sqlite3'}"


def test_migrations_match_models(empty_database: str) -> None:
    upgrade(empty_database)
    engine = make_engine(empty_database)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    "include_name": _not_a_partition,
                    "include_object": _fk_kept_by_triggers(engine.dialect.name),
                },
            )
            diff = compare_metadata(ctx, metadata)
            assert missing_triggers(conn) == set(), "the audit log's append-only triggers are missing"
        assert diff == [], f"models and migrations differ; run scripts/new-migration.sh: {diff}"
        tables = set(inspect(engine).get_table_names())
        assert set(metadata.tables) <= tables
    finally:
        engine.dispose()


def test_upgrade_is_repeatable(empty_database: str) -> None:
    upgrade(empty_database)
    upgrade(empty_database)  # a second run is a no-op, not an error


def test_observations_are_partitioned_on_postgresql(empty_database: str) -> None:
    upgrade(empty_database)
    engine = make_engine(empty_database)
    try:
        if engine.dialect.name != "postgresql":
            pytest.skip("native partitioning is PostgreSQL's")
        with engine.connect() as conn:
            partitions = (
                conn.exec_driver_sql(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'sta_observations'"
                )
                .scalars()
                .all()
            )
        assert "sta_observations_default" in partitions
        assert len(partitions) >= 2
    finally:
        engine.dispose()


@contextmanager
def _engine(url: str) -> Iterator[Engine]:
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def _trigger_names(conn: Connection) -> set[str]:
    """Names of the database's own triggers (not PostgreSQL's internal constraint triggers)."""
    if conn.dialect.name == "postgresql":
        sql = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
    return {r[0] for r in conn.exec_driver_sql(sql)}


def _map_cell_triggers(url: str) -> set[str]:
    with _engine(url) as engine, engine.connect() as conn:
        return {n for n in _trigger_names(conn) if n.startswith("case_map_cells_")}


def test_map_cells_migration_backfills_and_goes_both_ways(empty_database: str) -> None:
    """0003 fills case_map_cells from the cases already stored and installs the triggers; its downgrade
    removes both, and upgrading again restores them."""
    from alembic import command

    from cityops.migrate import alembic_config

    upgrade(empty_database, "0002")
    with _engine(empty_database) as engine, engine.begin() as conn:
        conn.exec_driver_sql(
            'INSERT INTO case_categories (code, name_vi, name_en, name_key, description, "group", '
            'sla_hours, urgent, questions, sector, "order", active) '
            "VALUES ('x', 'x', 'x', 'x', '', '', 40, false, '[]', 'core', 1, true)"
        )
        # two located public cases in one cell, one hidden case: the backfill counts the first two only
        for k, (lat, lon, hidden) in enumerate(
            [(10.54, 106.41, False), (10.5401, 106.4101, False), (10.54, 106.41, True)]
        ):
            conn.exec_driver_sql(
                "INSERT INTO cases (id, category_code, description, description_key, answers, lat, lon, "
                "location_source, state, urgent, source, consent, consent_purpose, submitted_at, "
                "updated_at, sla_hours, extended_hours, overdue, hidden, version) VALUES "
                f"({k + 1}, 'x', 'd', 'd', '{{}}', {lat}, {lon}, 'gps', 'submitted', false, 'web', true, "
                f"'p', '2026-11-24 00:00:00', '2026-11-24 00:00:00', 72, 0, false, {str(hidden).lower()}, 1)"
            )
    upgrade(empty_database)
    assert _map_cell_triggers(empty_database) == {
        "case_map_cells_insert",
        "case_map_cells_update",
        "case_map_cells_delete",
    }
    with _engine(empty_database) as engine, engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT z, n FROM case_map_cells ORDER BY z").all()
    assert [tuple(r) for r in rows] == [(8, 2), (10, 2), (12, 2), (14, 2)]
    command.downgrade(alembic_config(empty_database), "0002")
    assert _map_cell_triggers(empty_database) == set()
    with _engine(empty_database) as engine:
        assert "case_map_cells" not in inspect(engine).get_table_names()
    upgrade(empty_database)
    assert len(_map_cell_triggers(empty_database)) == 3


def _observation_keys_and_triggers(url: str) -> tuple[set[str], set[str]]:
    """(referenced tables of sta_observations' foreign keys, names of its delete triggers)."""
    with _engine(url) as engine:
        keys = {fk["referred_table"] for fk in inspect(engine).get_foreign_keys(partitioning.TABLE)}
        with engine.connect() as conn:
            return keys, {n for n in _trigger_names(conn) if n.endswith("_delete_observations")}


def test_observation_fk_triggers_migration_goes_both_ways(empty_database: str) -> None:
    """0004 swaps sta_observations' foreign keys for delete triggers on PostgreSQL (SQLite keeps the keys),
    leaving the schema create_all makes; its downgrade restores the keys, and upgrading again works. At
    head, deleting a Datastream still deletes its observations."""
    from alembic import command

    from cityops.db import make_sessionmaker
    from cityops.migrate import alembic_config
    from cityops.sensing.ingest import ObservationIn, ingest_observations
    from cityops.sensing.models import Observation
    from tests.sensing.test_storage import make_datastream

    parents = {parent for parent, _ in partitioning.REFERENCES}
    triggers = {f"{parent}_delete_observations" for parent in parents}
    postgres = empty_database.startswith("postgresql")
    upgrade(empty_database, "0003")
    assert _observation_keys_and_triggers(empty_database) == (parents, set())
    upgrade(empty_database)
    at_head = (set(), triggers) if postgres else (parents, set())
    assert _observation_keys_and_triggers(empty_database) == at_head
    if postgres:  # the same as create_all makes (what the tests run on)
        url = _create_pg_database()
        try:
            with _engine(url) as engine:
                metadata.create_all(engine)
            assert _observation_keys_and_triggers(url) == at_head
        finally:
            _drop_pg_database(url)
    command.downgrade(alembic_config(empty_database), "0003")
    assert _observation_keys_and_triggers(empty_database) == (parents, set())
    upgrade(empty_database)
    assert _observation_keys_and_triggers(empty_database) == at_head
    with _engine(empty_database) as engine, make_sessionmaker(engine)() as s:
        ds_id = make_datastream(s).id
        other = make_datastream(s).id
        t = datetime(2026, 3, 1, tzinfo=UTC)
        ingest_observations(s, [ObservationIn(ds_id, t, 1.0), ObservationIn(other, t, 2.0)])
        s.commit()
        s.execute(text("DELETE FROM sta_datastreams WHERE id = :id"), {"id": ds_id})
        s.commit()
        assert s.scalars(select(Observation.datastream_id)).all() == [other]
