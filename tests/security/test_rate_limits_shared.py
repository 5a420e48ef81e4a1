"""Per-IP limits shared by several workers through Redis (``security_rate_limit_redis_url``), and the
fallback to per-process counting when Redis is unreachable. Real Redis, no mocks."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cityops.app import create_app
from cityops.security.ratelimit import RateLimiter, RedisRateLimiter
from cityops.settings import load_settings
from tests.conftest import Backend
from tests.services import REDIS_HOST, REDIS_PORT, require_redis


def _app(backend: Backend, data: Path, redis_url: str, prefix: str) -> Any:
    settings = load_settings(
        env="test",
        data_dir=data,
        database_url=backend.url,
        security_submit_per_ip_per_hour=2,
        security_rate_limit_redis_url=redis_url,
    )
    app = create_app(settings)
    assert isinstance(app.state.rate_limiter, RedisRateLimiter)
    app.state.rate_limiter.prefix = prefix
    return app


@pytest.fixture
def two_workers(backend: Backend, tmp_path: Path) -> Iterator[tuple[TestClient, TestClient]]:
    """Two app instances (as two uvicorn workers would be) over one database and one Redis."""
    require_redis()
    prefix = f"cityops-test:{uuid.uuid4().hex}:"
    url = f"redis://{REDIS_HOST}:{REDIS_PORT}/0"
    a, b = _app(backend, tmp_path / "a", url, prefix), _app(backend, tmp_path / "b", url, prefix)
    with TestClient(a) as ca, TestClient(b) as cb:
        yield ca, cb
        ca.portal.call(a.state.rate_limiter.areset)  # type: ignore[union-attr]


def _report(client: TestClient) -> Any:
    return client.post("/api/v1/reports", json={"category": "no-such-category"})


def test_the_limit_holds_across_workers(two_workers: tuple[TestClient, TestClient]) -> None:
    a, b = two_workers
    assert _report(a).status_code == 422  # counted whatever the outcome
    assert _report(b).status_code == 422
    for worker in (a, b):
        res = _report(worker)
        assert res.status_code == 429, res.text
        assert 3500 <= int(res.headers["retry-after"]) <= 3600
        assert res.json()["error"]["code"] == "rate_limited"
    # another address still has its whole budget, on either worker
    other = TestClient(b.app, client=("203.0.113.9", 5000))
    assert _report(other).status_code == 422


def test_unreachable_redis_falls_back_to_counting_in_the_process(backend: Backend, tmp_path: Path) -> None:
    app = _app(backend, tmp_path, "redis://127.0.0.1:1/0", f"cityops-test:{uuid.uuid4().hex}:")
    assert isinstance(app.state.rate_limiter.fallback, RateLimiter)
    with TestClient(app) as client:
        assert [_report(client).status_code for _ in range(3)] == [422, 422, 429]
