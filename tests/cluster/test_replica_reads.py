"""Read-only routes are served by a real PostgreSQL streaming replica, and whoever wrote reads their write
back at once (read-your-writes, cityops.replicas) (#20).

The pair runs in a temporary directory on free loopback ports (scripts/cluster/pgpair.py: initdb,
pg_basebackup -R); replay on the replica is paused to make it visibly behind.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from cityops.app import create_app
from cityops.db import make_engine
from cityops.identity.apikeys import create_api_key
from cityops.models import metadata
from cityops.replicas import LSN_COOKIE, LSN_HEADER, MIN_LSN_HEADER, parse_lsn, replica_urls
from cityops.settings import load_settings
from tests.sensing.sta_tree import station

PGPAIR = Path(__file__).resolve().parents[2] / "scripts" / "cluster" / "pgpair.py"
BBOX = {"bbox": "106,10,107,11"}  # the filtered read (the unfiltered one is cached per process)


def _pgpair() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cityops_pgpair", PGPAIR)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[Any, Any]]:
    pg = _pgpair()
    if not (pg.PG_BIN / "initdb").exists() or shutil.which("runuser") is None:
        pytest.skip("needs Debian's PostgreSQL 15 binaries")
    root = Path(tempfile.mkdtemp(prefix="cityops-replica-test-"))
    nodes: list[Any] = []
    try:
        # a throwaway pair: durability off for speed (the cluster keeps the defaults)
        primary = pg.init_primary(
            root,
            pg.free_port(),
            max_connections=60,
            extra="fsync = off\nfull_page_writes = off",
            no_sync=True,
        )
        nodes.append(primary)
        engine = make_engine(primary.url())
        metadata.create_all(engine)
        engine.dispose()
        replica = pg.add_replica(primary, root, pg.free_port())
        nodes.append(replica)
        yield primary, replica
    finally:
        pg.destroy(root, list(reversed(nodes)))


def _wait_replayed(replica: Any, lsn: int) -> None:
    for _ in range(200):
        if (parse_lsn(replica.psql("SELECT pg_last_wal_replay_lsn()")) or -1) >= lsn:
            return
        time.sleep(0.05)
    raise AssertionError("the replica did not catch up within 10 s")


def _latest(client: TestClient, headers: dict[str, str] | None = None) -> list[Any]:
    response = client.get("/api/v1/sensing/latest", params=BBOX, headers=headers or {})
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


def test_the_replica_serves_reads_and_the_writer_reads_its_write(
    pair: tuple[Any, Any], tmp_path: Path
) -> None:
    primary, replica = pair
    settings = load_settings(
        env="test", data_dir=tmp_path, database_url=primary.url(), database_replica_urls=replica.url()
    )
    app = create_app(settings)
    with Session(app.state.engine) as s:
        _, secret = create_api_key(s, name="gateway", scopes=["ingest"])
        s.commit()
    with TestClient(app) as client:
        _wait_replayed(replica, parse_lsn(primary.psql("SELECT pg_current_wal_lsn()")) or 0)
        replica.psql("SELECT pg_wal_replay_pause()")
        try:
            created = client.post(
                "/sta/v1.1/Things",
                json=station("Tân An", 106.41, 10.54, [1.5]),
                headers={"X-API-Key": secret},
            )
            assert created.status_code == 201, created.text
            lsn = created.headers[LSN_HEADER]
            assert parse_lsn(lsn) is not None
            assert client.cookies.get(LSN_COOKIE) == lsn
            writer = {"Cookie": f"{LSN_COOKIE}={lsn}"}
            client.cookies.clear()

            # someone else reads the replica, which has not replayed the write yet
            assert _latest(client) == []
            # the writer (cookie), or any API client naming the position (header), reads the primary
            assert len(_latest(client, writer)) == 1
            assert len(_latest(client, {MIN_LSN_HEADER: lsn})) == 1
            # a refused write moves nothing and tells nothing
            refused = client.post("/sta/v1.1/Things", json={"name": 1}, headers={"X-API-Key": secret})
            assert refused.status_code == 400
            assert LSN_HEADER not in refused.headers
        finally:
            replica.psql("SELECT pg_wal_replay_resume()")
        _wait_replayed(replica, parse_lsn(lsn) or 0)
        assert len(_latest(client)) == 1
        with app.state.read_router.session(
            parse_lsn(lsn)
        ) as s:  # caught up: the writer reads a replica again
            assert s.execute(text("SELECT pg_is_in_recovery()")).scalar() is True

        # a replica that is down costs capacity, not answers: its reads go to the primary
        replica.stop()
        try:
            assert len(_latest(client)) == 1
        finally:
            replica.start()


def test_reads_without_replicas_use_the_primary_and_writes_set_nothing(client: TestClient) -> None:
    assert client.get("/api/v1/sensing/latest", params=BBOX).status_code == 200
    response = client.post("/api/v1/auth/login", json={"username": "nobody", "password": "wrong-password"})
    assert LSN_HEADER not in response.headers
    assert LSN_COOKIE not in response.cookies


def test_replica_urls_are_postgresql_only(tmp_path: Path) -> None:
    sqlite = load_settings(env="test", data_dir=tmp_path, database_replica_urls="sqlite:///x.db")
    with pytest.raises(ValueError, match="PostgreSQL"):
        replica_urls(sqlite)
    pg = load_settings(
        env="test",
        data_dir=tmp_path,
        database_url="postgresql+psycopg://a@127.0.0.1/x",
        database_replica_urls=" postgresql+psycopg://b@127.0.0.1:5433/x , postgresql+psycopg://c@127.0.0.1:5434/x,",
    )
    assert replica_urls(pg) == [
        "postgresql+psycopg://b@127.0.0.1:5433/x",
        "postgresql+psycopg://c@127.0.0.1:5434/x",
    ]
    assert replica_urls(load_settings(env="test", data_dir=tmp_path)) == []


@pytest.mark.parametrize(
    ("text_", "value"),
    [
        ("0/16B3748", 0x16B3748),
        ("1/0", 1 << 32),
        ("", None),
        ("nonsense", None),
        ("0/zz", None),
        (None, None),
    ],
)
def test_parse_lsn(text_: str | None, value: int | None) -> None:
    assert parse_lsn(text_) == value
