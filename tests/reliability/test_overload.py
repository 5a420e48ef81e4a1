"""Overload never answers 500: a report submission that meets a saturated database (the write lock held
elsewhere longer than the busy timeout, or every pooled connection taken) is refused with 503 and
``Retry-After`` in the API family's error format, stores nothing, and goes through once the database is
free again."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from cityops import db
from cityops.app import create_app
from cityops.audit.models import AuditEntry
from cityops.events.models import OutboxEvent
from cityops.reports import intake
from cityops.reports.models import Case, CaseEvent, CaseReporter
from cityops.settings import Settings
from tests.conftest import Backend
from tests.reports.conftest import A_POINT, World, build_world, make_open311_key

REPORT = {"category": "lighting", "description": "Đèn đường tắt", "lat": A_POINT[0], "lon": A_POINT[1]}


@pytest.fixture
def world(session: Session, settings: Settings) -> World:
    return build_world(session, settings)


@pytest.fixture(autouse=True)
def short_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give up on a busy database after 0.3 s instead of seconds (the behaviour is the same)."""
    monkeypatch.setattr(db, "BUSY_TIMEOUT_SECONDS", 0.3)
    monkeypatch.setattr(intake, "BUSY_RETRY_SECONDS", 0.3)


def stored(world: World) -> dict[str, int]:
    """Row counts of everything a submission writes."""
    world.session.rollback()  # a fresh snapshot
    counts = {
        model.__tablename__: world.session.scalar(select(func.count()).select_from(model)) or 0
        for model in (Case, CaseReporter, CaseEvent, AuditEntry, OutboxEvent)
    }
    world.session.rollback()
    return counts


@contextmanager
def write_lock_held_elsewhere(backend: Backend) -> Iterator[Callable[[], None]]:
    """Another client holds what a submission must write: SQLite's database write lock, or on
    PostgreSQL an EXCLUSIVE lock on ``cases`` (reads pass, inserts wait). Yields ``release`` (the
    lock is released on exit at the latest)."""
    url = make_url(backend.url)
    if backend.name == "sqlite":
        assert url.database is not None
        conn = sqlite3.connect(url.database, isolation_level=None, check_same_thread=False)
        conn.execute("BEGIN IMMEDIATE")

        def release() -> None:
            if conn.in_transaction:
                conn.execute("ROLLBACK")

        try:
            yield release
        finally:
            release()
            conn.close()
        return
    raw = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(raw) as pg:
        pg.execute("LOCK TABLE cases IN EXCLUSIVE MODE")
        try:
            yield pg.rollback
        finally:
            pg.rollback()


@contextmanager
def pool_exhausted(app: FastAPI) -> Iterator[None]:
    """Every connection of the app's pool checked out (by this test)."""
    engine = app.state.engine
    taken: list[Connection] = []
    try:
        while True:
            try:
                taken.append(engine.connect())
            except PoolTimeout:
                break
        assert taken  # the pool had connections, and all of them are now ours
        yield
    finally:
        for conn in taken:
            conn.close()


def assert_busy(response: Any) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) >= 1


def test_held_write_lock_gives_503_with_retry_after_and_stores_nothing(
    world: World, client: TestClient, backend: Backend
) -> None:
    before = stored(world)
    with write_lock_held_elsewhere(backend):
        r = client.post("/api/v1/reports", json=REPORT)
    assert_busy(r)
    error = r.json()["error"]
    assert error["code"] == "busy"
    assert error["message"]
    assert error["details"]["retry_after"] == int(r.headers["Retry-After"])
    assert stored(world) == before
    # the database is free again: the same report goes through, once
    again = client.post("/api/v1/reports", json=REPORT)
    assert again.status_code == 201, again.text
    after = stored(world)
    assert after["cases"] == before["cases"] + 1
    assert after["outbox_events"] == before["outbox_events"] + 1


def test_held_write_lock_with_idempotency_key_then_retry_creates_one_case(
    world: World, client: TestClient, backend: Backend
) -> None:
    headers = {"Idempotency-Key": "overload-retry-0001"}
    before = stored(world)
    with write_lock_held_elsewhere(backend):
        assert_busy(client.post("/api/v1/reports", json=REPORT, headers=headers))
    assert stored(world) == before
    first = client.post("/api/v1/reports", json=REPORT, headers=headers)
    replay = client.post("/api/v1/reports", json=REPORT, headers=headers)
    assert first.status_code == 201, first.text
    assert replay.json()["ref"] == first.json()["ref"]
    assert stored(world)["cases"] == before["cases"] + 1


def test_contention_that_clears_within_the_retry_window_is_absorbed(
    world: World, settings: Settings, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database refuses the first attempts (busy/lock timeout after 0.05 s); the lock is released
    a little later, well inside the 10 s retry window: the client sees one 201 and one case."""
    monkeypatch.setattr(db, "BUSY_TIMEOUT_SECONDS", 0.05)
    monkeypatch.setattr(intake, "BUSY_RETRY_SECONDS", 10.0)
    before = stored(world)
    with TestClient(create_app(settings)) as client, write_lock_held_elsewhere(backend) as release:
        timer = threading.Timer(0.5, release)
        timer.start()
        try:
            r = client.post("/api/v1/reports", json=REPORT)
        finally:
            timer.join()
    assert r.status_code == 201, r.text
    assert stored(world)["cases"] == before["cases"] + 1


@pytest.fixture
def small_pool_app(settings: Settings) -> FastAPI:
    """The app with the smallest PostgreSQL pool (SQLite keeps its fixed pool)."""
    return create_app(settings.model_copy(update={"database_pool_size": 1}))


def test_exhausted_pool_gives_503_in_each_api_family_format(world: World, small_pool_app: FastAPI) -> None:
    key = make_open311_key(world.session)
    before = stored(world)
    with TestClient(small_pool_app) as client, pool_exhausted(small_pool_app):
        native = client.post("/api/v1/reports", json=REPORT)
        open311 = client.post(
            "/open311/v2/requests.json",
            content=urlencode(
                {"api_key": key, "service_code": "lighting", "lat": A_POINT[0], "long": A_POINT[1]}
            ).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        sta = client.get("/sta/v1.1/Things")
    assert_busy(native)
    assert native.json()["error"]["code"] == "busy"
    assert_busy(open311)
    assert open311.json() == [{"code": 503, "description": open311.json()[0]["description"]}]
    assert_busy(sta)
    assert set(sta.json()["error"]) == {"code", "message"}
    assert stored(world) == before


def test_bulk_ingest_behind_a_held_write_lock_gives_503_in_the_sta_format(
    world: World, client: TestClient, backend: Backend
) -> None:
    """Bulk ingest behind another writer: 503 in the STA format, nothing stored, then it goes through."""
    if backend.name != "sqlite":
        pytest.skip("the raw-cursor write path is SQLite's")
    from cityops.identity.apikeys import create_api_key
    from cityops.sensing.models import Observation
    from tests.sensing.test_storage import make_datastream

    ds_id = make_datastream(world.session).id
    _, secret = create_api_key(world.session, name="gateway", scopes=["ingest"])
    world.session.commit()
    body = [
        {
            "Datastream": {"@iot.id": ds_id},
            "components": ["phenomenonTime", "result"],
            "dataArray": [[f"2026-03-01T10:0{i}:00Z", float(i)] for i in range(5)],
        }
    ]
    with write_lock_held_elsewhere(backend):
        r = client.post("/sta/v1.1/CreateObservations", json=body, headers={"X-API-Key": secret})
    assert_busy(r)
    assert "error" in r.json()
    world.session.rollback()
    assert world.session.scalar(select(func.count()).select_from(Observation)) == 0
    again = client.post("/sta/v1.1/CreateObservations", json=body, headers={"X-API-Key": secret})
    assert again.status_code == 201, again.text


def test_the_drivers_own_lock_error_is_a_503() -> None:
    """Bulk ingest writes through the raw DBAPI cursor, so SQLite's ``database is locked`` can reach the
    app as the driver's own error rather than SQLAlchemy's (the bench saw it answered 500)."""
    from cityops.errors import ServiceUnavailable, overload_error

    assert isinstance(overload_error(sqlite3.OperationalError("database is locked")), ServiceUnavailable)
    assert isinstance(overload_error(sqlite3.OperationalError("database is busy")), ServiceUnavailable)
    assert overload_error(sqlite3.OperationalError("no such table: x")) is None
