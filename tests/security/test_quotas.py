"""API key quotas (#15): per-minute and per-day limits an admin sets, usage an admin reads, 429 with
Retry-After in each API family's error format; counted in process and, shared by two workers, in Redis."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cityops.app import create_app
from cityops.audit.models import AuditEntry
from cityops.identity.models import ApiKey
from cityops.security.quotas import LocalQuotaStore, RedisQuotaStore, Windows
from cityops.settings import load_settings
from tests.conftest import Backend
from tests.services import REDIS_HOST, REDIS_PORT, require_redis


def _fresh_minute() -> None:
    """Start at least 5 s before a minute ends, so a burst of requests falls in one minute window."""
    left = Windows.at(time.time()).minute_left
    if left <= 5:
        time.sleep(left + 0.1)


def _key_id(sessions: Any, raw: str) -> int:
    with sessions() as s:
        return next(k.id for k in s.scalars(select(ApiKey)) if raw.startswith(k.prefix))


def test_windows_reset_at_minute_and_local_midnight() -> None:
    # 16:59:30 UTC is 23:59:30 in Hồ Chí Minh: 30 s left in both the minute and the local day
    w = Windows.at(86400 * 20000 + 16 * 3600 + 59 * 60 + 30)
    assert (w.minute_left, w.day_left) == (30, 30)
    assert Windows.at(86400 * 20000 + 17 * 3600).day == w.day + 1


def test_local_store_counts_and_refuses_without_counting() -> None:
    store, w = LocalQuotaStore(), Windows.at(1_000_000.0)
    assert [store.hit(1, 2, None, w).refused for _ in range(3)] == ["", "", "minute"]
    assert store.usage(1, w) == (2, 2)
    assert store.hit(2, None, 1, w).refused == ""
    assert store.hit(2, None, 1, w).refused == "day"
    nxt = Windows.at(1_000_000.0 + 60)
    assert store.hit(1, 2, None, nxt).refused == ""  # a new minute
    assert store.usage(1, nxt) == (1, 3)


def test_admin_sets_quota_and_429_in_each_family(client, factory, sessions) -> None:
    admin = factory.headers("admin")
    raw = factory.api_key()
    key_id = _key_id(sessions, raw)
    r = client.put(f"/api/v1/keys/{key_id}/quota", json={"per_minute": 3, "per_day": 100}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["minute"] == {
        "limit": 3,
        "used": 0,
        "resets_in_seconds": r.json()["minute"]["resets_in_seconds"],
    }
    with sessions() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "api_key.quota")).one()
        assert entry.after == {"quota_per_minute": 3, "quota_per_day": 100}

    _fresh_minute()
    key = {"X-API-Key": raw}
    assert client.get("/api/v1/areas", headers=key).status_code == 200
    assert client.get("/sta/v1.1/Things", headers=key).status_code == 200
    assert client.get("/api/v1/areas", headers=key).status_code == 200
    native = client.get("/api/v1/areas", headers=key)
    assert native.status_code == 429
    assert 1 <= int(native.headers["retry-after"]) <= 60
    assert native.json()["error"]["code"] == "quota_exceeded"
    assert native.json()["error"]["details"]["limit"] == 3
    sta = client.get("/sta/v1.1/Things", headers=key)
    assert sta.status_code == 429
    assert int(sta.headers["retry-after"]) >= 1
    assert set(sta.json()["error"]) == {"code", "message"}  # the OData shape, no details
    assert sta.json()["error"]["code"] == "quota_exceeded"
    o311 = client.get("/open311/v2/services.json", headers=key)
    assert o311.status_code == 429
    assert o311.json()[0]["code"] == 429
    assert "quota" in o311.json()[0]["description"]
    assert client.get("/api/v1/areas").status_code == 200  # without the key: not this key's quota

    usage = client.get(f"/api/v1/keys/{key_id}/usage", headers=admin).json()
    assert usage["minute"]["used"] == 3
    assert usage["day"] == {"limit": 100, "used": 3, "resets_in_seconds": usage["day"]["resets_in_seconds"]}


def test_quota_admin_only_and_validated(client, factory, sessions) -> None:
    raw = factory.api_key()
    key_id = _key_id(sessions, raw)
    body = {"per_minute": 5}
    assert (
        client.put(f"/api/v1/keys/{key_id}/quota", json=body, headers=factory.headers("operator")).status_code
        == 403
    )
    assert client.get(f"/api/v1/keys/{key_id}/usage", headers={"X-API-Key": raw}).status_code == 403
    admin = factory.headers("admin")
    assert (
        client.put(f"/api/v1/keys/{key_id}/quota", json={"per_minute": 0}, headers=admin).status_code == 422
    )
    assert client.put("/api/v1/keys/99999/quota", json=body, headers=admin).status_code == 404
    with sessions() as s:
        assert s.get(ApiKey, key_id).quota_per_minute is None


def _app(backend: Backend, data: Path, prefix: str) -> Any:
    settings = load_settings(
        env="test",
        data_dir=data,
        database_url=backend.url,
        security_rate_limit_redis_url=f"redis://{REDIS_HOST}:{REDIS_PORT}/0",
    )
    app = create_app(settings)
    assert isinstance(app.state.quota_store, RedisQuotaStore)
    app.state.quota_store.prefix = prefix
    return app


@pytest.fixture
def two_workers(backend: Backend, tmp_path: Path) -> Iterator[tuple[TestClient, TestClient]]:
    """Two app instances (two uvicorn workers) over one database and one Redis."""
    require_redis()
    prefix = f"cityops-test:{uuid.uuid4().hex}:"
    a, b = _app(backend, tmp_path / "a", prefix), _app(backend, tmp_path / "b", prefix)
    with TestClient(a) as ca, TestClient(b) as cb:
        yield ca, cb
        a.state.quota_store.reset()


def test_quota_shared_across_workers_through_redis(two_workers, factory, sessions) -> None:
    a, b = two_workers
    raw = factory.api_key()
    key_id = _key_id(sessions, raw)
    admin = factory.headers("admin")
    assert a.put(f"/api/v1/keys/{key_id}/quota", json={"per_minute": 4}, headers=admin).status_code == 200
    _fresh_minute()
    key = {"X-API-Key": raw}
    codes = [(a if i % 2 else b).get("/api/v1/areas", headers=key).status_code for i in range(6)]
    assert codes == [200, 200, 200, 200, 429, 429]
    assert b.get(f"/api/v1/keys/{key_id}/usage", headers=admin).json()["minute"]["used"] == 4
    assert a.get(f"/api/v1/keys/{key_id}/usage", headers=admin).json()["minute"]["used"] == 4
