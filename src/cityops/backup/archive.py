"""Backups of the database and the media files, and restoring one into a fresh place.

A backup is a directory ``cityops-backup-<UTC time>`` holding:

- ``database.sqlite3`` (SQLite: a consistent copy made with the online backup API while the server runs)
  or ``database.pgdump`` (PostgreSQL: ``pg_dump --format=custom``, one consistent snapshot);
- ``media/``: every file of the media store, at the same relative paths;
- ``manifest.json``: the backend, the time, and the size and SHA-256 of every file above. Restore checks
  every checksum before writing anything, so a damaged backup is refused, not half restored.

Restore only writes into an empty target (no tables in the database, no files in the media directory),
so it can never overwrite a live installation by mistake.

Usage::

    path = create_backup(settings, out_dir)            # -> the new backup directory
    restore_backup(path, target_settings)              # target: a fresh data directory / empty database
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from cityops.clock import utcnow
from cityops.db import make_engine
from cityops.settings import Settings

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.pgdump"
MEDIA = "media"


class BackupError(Exception):
    """A backup or restore that cannot go on (the message says why, for the command line)."""


@dataclass(frozen=True)
class RestoreResult:
    backend: str
    media_files: int
    created_at: str


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _libpq_url(url: str) -> str:
    """The SQLAlchemy URL as a libpq connection URI (no ``+psycopg`` driver part)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("An in-memory SQLite database cannot be backed up")
    return Path(database)


def _backend(url: str) -> str:
    name = make_url(url).get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise BackupError(f"Unsupported database backend {name!r}")
    return name


def _run(args: list[str]) -> None:
    tool = args[0]
    if shutil.which(tool) is None:
        raise BackupError(f"{tool} is not installed (Debian: apt-get install postgresql-client-15)")
    done = subprocess.run(args, capture_output=True, text=True, check=False)  # noqa: S603 (fixed tool, list args)
    if done.returncode != 0:
        raise BackupError(f"{tool} failed: {done.stderr.strip() or done.stdout.strip()}")


def _media_files(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file())


def create_backup(settings: Settings, out_dir: Path | None = None, *, now: datetime | None = None) -> Path:
    """Back up the database and the media store into a new directory under ``out_dir``
    (default ``<data_dir>/backups``); returns that directory."""
    url = settings.effective_database_url
    backend = _backend(url)
    stamp = (now or utcnow()).strftime("%Y%m%dT%H%M%SZ")
    parent = (out_dir or settings.data_dir / "backups").resolve()
    parent.mkdir(parents=True, exist_ok=True)
    target = parent / f"cityops-backup-{stamp}"
    if target.exists():
        raise BackupError(f"{target} already exists")
    work = parent / f".{target.name}.partial"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        if backend == "sqlite":
            db_file = work / SQLITE_FILE
            source = sqlite3.connect(_sqlite_path(url))
            dest = sqlite3.connect(db_file)
            try:
                with dest:
                    source.backup(dest)
            finally:
                dest.close()
                source.close()
        else:
            db_file = work / PG_FILE
            _run(
                [
                    "pg_dump",
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    "--file",
                    str(db_file),
                    _libpq_url(url),
                ]
            )
        media: dict[str, dict[str, Any]] = {}
        media_root = settings.media_dir
        for src in _media_files(media_root):
            rel = src.relative_to(media_root).as_posix()
            dst = work / MEDIA / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
            media[rel] = {"sha256": _sha256(dst), "size": dst.stat().st_size}
        manifest = {
            "format": FORMAT_VERSION,
            "created_at": (now or utcnow()).isoformat(),
            "backend": backend,
            "database": {"file": db_file.name, "sha256": _sha256(db_file), "size": db_file.stat().st_size},
            "media": media,
        }
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(work, target)  # the backup appears complete or not at all
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return target


def read_manifest(backup: Path) -> dict[str, Any]:
    path = backup / MANIFEST
    if not path.is_file():
        raise BackupError(f"{backup} is not a cityops backup (no {MANIFEST})")
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT_VERSION:
        raise BackupError(f"Unsupported backup format {manifest.get('format')!r}")
    return manifest


def verify_backup(backup: Path) -> dict[str, Any]:
    """The manifest, after checking every file's checksum (raises :class:`BackupError` on a mismatch)."""
    manifest = read_manifest(backup)
    entries = [(manifest["database"]["file"], manifest["database"]["sha256"])]
    entries += [(f"{MEDIA}/{rel}", meta["sha256"]) for rel, meta in manifest["media"].items()]
    for rel, expected in entries:
        path = backup / rel
        if not path.is_file():
            raise BackupError(f"The backup is missing {rel}")
        if _sha256(path) != expected:
            raise BackupError(f"The backup's {rel} is damaged (checksum mismatch)")
    return manifest


def _ensure_empty_database(url: str) -> None:
    engine = make_engine(url)
    try:
        tables = inspect(engine).get_table_names()
    finally:
        engine.dispose()
    if tables:
        raise BackupError("The target database already has tables; restore only into an empty database")


def restore_backup(backup: Path, settings: Settings) -> RestoreResult:
    """Restore ``backup`` into the database and media directory of ``settings`` (both must be empty)."""
    manifest = verify_backup(backup)
    url = settings.effective_database_url
    backend = _backend(url)
    if backend != manifest["backend"]:
        raise BackupError(f"This is a {manifest['backend']} backup; the target database is {backend}")
    media_root = settings.media_dir
    if _media_files(media_root):
        raise BackupError(f"{media_root} is not empty; restore only into a fresh data directory")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db_file = backup / manifest["database"]["file"]
    if backend == "sqlite":
        path = _sqlite_path(url)
        if path.exists() and path.stat().st_size > 0:
            _ensure_empty_database(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        source = sqlite3.connect(db_file)
        dest = sqlite3.connect(path)
        try:
            with dest:
                source.backup(dest)
        finally:
            dest.close()
            source.close()
    else:
        _ensure_empty_database(url)
        _run(
            [
                "pg_restore",
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--single-transaction",
                "--dbname",
                _libpq_url(url),
                str(db_file),
            ]
        )
    for rel, meta in manifest["media"].items():
        dst = media_root / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(backup / MEDIA / rel, dst)
        if _sha256(dst) != meta["sha256"]:
            raise BackupError(f"Copying {rel} into {media_root} failed (checksum mismatch)")
    return RestoreResult(
        backend=backend, media_files=len(manifest["media"]), created_at=manifest["created_at"]
    )
