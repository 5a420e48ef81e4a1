"""The Alembic migrations build exactly the schema the models declare, on both backends (no drift)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from cityops.audit.models import missing_triggers
from cityops.db import make_engine
from cityops.migrate import upgrade
from cityops.models import metadata
from tests.conftest import _create_pg_database, _drop_pg_database
from tests.services import require_postgres


def _not_a_partition(name: str | None, type_: str, parent_names: object) -> bool:
    """Monthly partitions of sta_observations exist only in the database, not in the models."""
    return not (type_ == "table" and name is not None and name.startswith("sta_observations_"))


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
                conn, opts={"compare_type": True, "include_name": _not_a_partition}
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
