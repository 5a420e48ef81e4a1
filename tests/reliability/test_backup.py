"""``cityops backup`` / ``cityops restore`` on both backends: restore into a fresh place, compare every
table (row counts and contents) and every media file, and check the restored installation works."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cityops.app import create_app
from cityops.audit.models import missing_triggers
from cityops.backup.archive import BackupError, create_backup, restore_backup, verify_backup
from cityops.cli import cli
from cityops.db import make_engine, make_sessionmaker
from cityops.migrate import upgrade
from cityops.plugins import plugin_manager
from cityops.reports.categories import sync_categories
from cityops.sensing.ingest import ObservationIn, ingest_observations
from cityops.settings import Settings, load_settings
from tests.alerts.support import make_station
from tests.conftest import Backend, _create_pg_database, _drop_pg_database
from tests.reports.conftest import A_POINT
from tests.security.test_authz_matrix import build_ctx


def table_contents(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, in a stable order (sorted by their text form)."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    names = inspect(engine).get_table_names()
    with engine.connect() as conn:
        for name in names:
            rows = [tuple(r) for r in conn.execute(text(f'SELECT * FROM "{name}"'))]
            out[name] = sorted(rows, key=repr)
    return out


def media_files(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def fresh_target(backend: Backend, tmp_path: Path) -> Iterator[Settings]:
    """Settings of a fresh data directory and, on PostgreSQL, a new empty database."""
    if backend.name == "postgresql":
        url = _create_pg_database()
        try:
            yield load_settings(env="test", data_dir=tmp_path / "restored", database_url=url)
        finally:
            _drop_pg_database(url)
    else:
        yield load_settings(env="test", data_dir=tmp_path / "restored", database_url=None)


def settled_contents(engine: Engine, bound: float = 15.0) -> dict[str, Any]:
    """The tables once the app's background consumers (alert delivery, outbox relay) have stopped
    changing them: two reads 0.3 s apart agree. A backup taken meanwhile would differ from the snapshot."""
    deadline = time.monotonic() + bound
    before = table_contents(engine)
    while True:
        time.sleep(0.3)
        now = table_contents(engine)
        if now == before or time.monotonic() > deadline:
            return now
        before = now


def test_backup_restores_every_table_and_file(
    session: Session,
    settings: Settings,
    client: TestClient,
    make_api_key: Callable[..., str],
    engine: Engine,
    fresh_target: Settings,
    tmp_path: Path,
) -> None:
    ctx = build_ctx(session, settings, client, make_api_key)
    session.close()
    source_tables = settled_contents(engine)
    source_media = media_files(settings.media_dir)
    assert source_media, "the world has no media files"
    assert sum(1 for rows in source_tables.values() if rows) >= 15

    path = create_backup(settings, tmp_path / "backups")
    manifest = verify_backup(path)
    assert set(manifest["media"]) == set(source_media)

    result = restore_backup(path, fresh_target)
    assert result.media_files == len(source_media)
    restored_engine = make_engine(fresh_target.effective_database_url)
    try:
        restored = table_contents(restored_engine)
    finally:
        restored_engine.dispose()
    assert set(restored) == set(source_tables)
    for name, rows in source_tables.items():
        assert len(restored[name]) == len(rows), name
        assert restored[name] == rows, name
    assert media_files(fresh_target.media_dir) == source_media

    # the restored installation serves the case and its photo, and takes new reports (sequences restored)
    with TestClient(create_app(fresh_target)) as restored_client:
        assert restored_client.get(f"/api/v1/reports/public/{ctx.ref}").status_code == 200
        new = restored_client.post(
            "/api/v1/reports", json={"category": "lighting", "lat": A_POINT[0], "lon": A_POINT[1]}
        )
        assert new.status_code == 201, new.text
        assert new.json()["ref"] != ctx.ref

    # never over existing data: the same target again is refused, and nothing is changed
    with pytest.raises(BackupError, match=r"not empty|already has tables"):
        restore_backup(path, fresh_target)


def test_a_damaged_backup_is_refused_before_anything_is_written(
    session: Session,
    settings: Settings,
    client: TestClient,
    make_api_key: Callable[..., str],
    fresh_target: Settings,
    tmp_path: Path,
) -> None:
    build_ctx(session, settings, client, make_api_key)
    path = create_backup(settings, tmp_path / "backups")
    victim = next(p for p in (path / "media").rglob("*") if p.is_file())
    victim.write_bytes(victim.read_bytes()[:-1] + b"\x00")
    with pytest.raises(BackupError, match="damaged"):
        restore_backup(path, fresh_target)
    assert not fresh_target.media_dir.exists() or not any(fresh_target.media_dir.rglob("*"))
    target_engine = make_engine(fresh_target.effective_database_url)
    try:
        assert inspect(target_engine).get_table_names() == []
    finally:
        target_engine.dispose()
    with pytest.raises(BackupError, match="not a cityops backup"):
        restore_backup(tmp_path, fresh_target)


def test_cli_backup_and_restore(
    session: Session,
    settings: Settings,
    client: TestClient,
    fresh_target: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    up = client.post("/api/v1/reports", json={"category": "lighting", "lat": A_POINT[0], "lon": A_POINT[1]})
    assert up.status_code in (201, 422), up.text
    plugin_manager().hook.register_cli(cli=cli)
    runner = CliRunner()
    monkeypatch.setenv("CITYOPS_DATABASE_URL", settings.effective_database_url)
    made = runner.invoke(cli, ["backup", "--data-dir", str(settings.data_dir), "--out", str(tmp_path / "b")])
    assert made.exit_code == 0, made.output
    backup_dir = Path(made.stdout.strip().splitlines()[-1])
    assert (backup_dir / "manifest.json").is_file()
    monkeypatch.setenv("CITYOPS_DATABASE_URL", fresh_target.database_url or "")
    done = runner.invoke(cli, ["restore", str(backup_dir), "--data-dir", str(fresh_target.data_dir)])
    assert done.exit_code == 0, done.output
    again = runner.invoke(cli, ["restore", str(backup_dir), "--data-dir", str(fresh_target.data_dir)])
    assert again.exit_code == 1
    missing = runner.invoke(
        cli, ["restore", str(tmp_path / "nope"), "--data-dir", str(fresh_target.data_dir)]
    )
    assert missing.exit_code == 1


@pytest.fixture
def migrated_source(backend: Backend, tmp_path: Path) -> Iterator[Settings]:
    """A database built by the migrations (audit triggers, observation partitions), not by create_all."""
    if backend.name == "postgresql":
        url = _create_pg_database()
        try:
            upgrade(url)
            yield load_settings(env="test", data_dir=tmp_path / "src", database_url=url)
        finally:
            _drop_pg_database(url)
    else:
        settings = load_settings(env="test", data_dir=tmp_path / "src", database_url=None)
        settings.data_dir.mkdir(parents=True)
        upgrade(settings.effective_database_url)
        yield settings


def test_a_migrated_database_keeps_its_triggers_and_partitions(
    migrated_source: Settings, fresh_target: Settings, tmp_path: Path
) -> None:
    source_engine = make_engine(migrated_source.effective_database_url)
    try:
        with make_sessionmaker(source_engine)() as s:
            sync_categories(s)
            ds = make_station(s, "Trạm sao lưu", "salinity")
            t0 = datetime(2026, 3, 10, tzinfo=UTC)
            rows = [ObservationIn(ds.id, t0 + timedelta(days=40 * i), float(i)) for i in range(4)]
            assert ingest_observations(s, rows, emit_event=False).inserted == 4
            s.commit()
        with TestClient(create_app(migrated_source)) as c:
            made = c.post(
                "/api/v1/reports",
                json={"category": "lighting", "lat": A_POINT[0], "lon": A_POINT[1], "description": "sao lưu"},
            )
            assert made.status_code == 201, made.text
        before = table_contents(source_engine)
    finally:
        source_engine.dispose()
    assert before["alembic_version"]
    restore_backup(create_backup(migrated_source, tmp_path / "b"), fresh_target)
    restored_engine = make_engine(fresh_target.effective_database_url)
    try:
        assert table_contents(restored_engine) == before  # partitions are tables too
        with restored_engine.connect() as conn:
            assert missing_triggers(conn) == set()
        with pytest.raises(DBAPIError), restored_engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_log"))  # still append-only
    finally:
        restored_engine.dispose()
