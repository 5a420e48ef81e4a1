"""Shared fixtures. Database tests run on both backends: SQLite (embedded) and PostgreSQL 15.

Each test session (each xdist worker) gets its own PostgreSQL database, so parallel runs never collide;
tables are emptied after every test that used the database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from cityops.app import create_app
from cityops.areas.lookup import invalidate_cache as invalidate_area_index
from cityops.audit.maintenance import audit_purge_allowed
from cityops.db import make_engine, make_sessionmaker
from cityops.models import metadata
from cityops.settings import Settings, load_settings
from tests.services import PG_ADMIN_URL, require_postgres

# Shared fixtures of each capability live in their own modules (one owner each).
pytest_plugins = [
    "tests.fixtures_identity",
    "tests.fixtures_areas",
    "tests.kit.factories",
    "tests.kit.queries",
    # every test of the suite fails when its logs hold a phone number or an e-mail address (#21 finding 12)
    "tests.security.logscrub",
]

BACKENDS = [b.strip() for b in os.environ.get("CITYOPS_TEST_BACKENDS", "sqlite,postgresql").split(",") if b]


def _create_pg_database() -> str:
    name = f"cityops_t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def _drop_pg_database(url: str) -> None:
    name = make_url(url).database
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


class Backend:
    """One database for the whole session on one backend, emptied between tests."""

    def __init__(self, name: str, url: str) -> None:
        self.name = name
        self.url = url
        self.engine: Engine = make_engine(url)
        metadata.create_all(self.engine)
        self.tables = [t.name for t in reversed(metadata.sorted_tables)]
        self._sequence_owner: dict[str, str] = {}
        if name == "postgresql":
            with self.engine.connect() as conn:
                rows = conn.execute(
                    text(
                        "SELECT s.relname, t.relname FROM pg_class s JOIN pg_depend d ON d.objid = s.oid "
                        "JOIN pg_class t ON d.refobjid = t.oid WHERE s.relkind = 'S' AND d.deptype IN ('a', 'i')"
                    )
                )
                self._sequence_owner = {seq: table for seq, table in rows}

    def _dirty_pg_tables(self, conn: Connection) -> list[str]:
        """Tables holding rows or whose id sequence moved (a rolled-back insert leaves only the latter)."""
        probe = " UNION ALL ".join(f"SELECT '{t}' WHERE EXISTS (SELECT 1 FROM \"{t}\")" for t in self.tables)
        dirty = {row[0] for row in conn.execute(text(probe))}
        used = conn.execute(text("SELECT sequencename FROM pg_sequences WHERE last_value IS NOT NULL"))
        dirty.update(self._sequence_owner[seq] for (seq,) in used if seq in self._sequence_owner)
        return [t for t in self.tables if t in dirty]

    def reset(self) -> None:
        # TRUNCATE costs per table, so only the tables a test touched are emptied (a full TRUNCATE of
        # every table took ~1.5 s per PostgreSQL test).
        if self.name == "postgresql":
            with self.engine.begin() as conn:
                tables = self._dirty_pg_tables(conn)
                if tables:
                    conn.execute(
                        text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
                    )
        else:
            # SQLite ignores PRAGMA foreign_keys inside a transaction: OFF before it begins, ON after it
            # commits, on the same connection — else the pooled connection went back without foreign keys
            # and later tests' cascades silently did not happen.
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
                conn.commit()
                try:
                    with audit_purge_allowed(conn):  # the audit log refuses DELETE otherwise
                        for t in self.tables:
                            conn.execute(text(f'DELETE FROM "{t}"'))
                    conn.commit()
                finally:
                    conn.rollback()
                    conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                    conn.commit()
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        # emptied with raw SQL, which the area index's change check sees only after its re-check window
        invalidate_area_index()


_backends: dict[str, Backend] = {}
_pg_urls: list[str] = []


def _backend(name: str, tmp_root: Path) -> Backend:
    if name not in _backends:
        if name == "postgresql":
            require_postgres()
            url = _create_pg_database()
            _pg_urls.append(url)
        else:
            url = f"sqlite:///{tmp_root / 'cityops-test.sqlite3'}"
        _backends[name] = Backend(name, url)
    return _backends[name]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    for backend in _backends.values():
        backend.engine.dispose()
    for url in _pg_urls:
        _drop_pg_database(url)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """The database backend under test; every test using it runs once per backend."""
    be = _backend(request.param, tmp_path_factory.getbasetemp())
    try:
        yield be
    finally:
        be.reset()


@pytest.fixture
def engine(backend: Backend) -> Engine:
    return backend.engine


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    s = sessions()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def settings(backend: Backend, tmp_path: Path) -> Settings:
    # two days of demo station history, not a year: the demo's shape, at a fraction of its cost
    return load_settings(
        env="test", data_dir=tmp_path / "data", database_url=backend.url, demo_history_days=2
    )


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c
