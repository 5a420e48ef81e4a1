"""Abuse controls over HTTP: per-IP limits on anonymous report submission, uploads and one-time-code
requests (429 + ``Retry-After``, in the native error format), the existing per-account/per-IP sign-in
throttle and per-phone code limit, and the limiter's sliding window (driven by a fake clock)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cityops.app import create_app
from cityops.identity.models import Role, User
from cityops.security.ratelimit import RateLimiter
from cityops.settings import load_settings
from tests.conftest import Backend
from tests.fixtures_identity import DEFAULT_PASSWORD


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def limited(backend: Backend, tmp_path: Path, clock: FakeClock) -> Iterator[TestClient]:
    settings = load_settings(
        env="test",
        data_dir=tmp_path / "data",
        database_url=backend.url,
        security_submit_per_ip_per_hour=2,
        security_upload_per_ip_per_hour=2,
        security_otp_per_ip_per_hour=2,
        otp_max_per_hour=3,
        login_max_failures=3,
    )
    app = create_app(settings)
    app.state.rate_limiter.clock = clock
    with TestClient(app) as c:
        yield c


def _from(client: TestClient, ip: str, port: int) -> AbstractContextManager[TestClient]:
    """Another client address on the same running app (no second lifespan: its bus is already up)."""
    return nullcontext(TestClient(client.app, client=(ip, port)))


def _report(client: TestClient, **headers: str) -> Any:
    return client.post("/api/v1/reports", json={"category": "no-such-category"}, headers=headers)


def _assert_429(res: Any) -> int:
    assert res.status_code == 429, res.text
    wait = int(res.headers["retry-after"])
    assert 1 <= wait <= 3600
    err = res.json()["error"]
    assert err["code"] in {"rate_limited", "too_many_requests"}
    return wait


def test_anonymous_submissions_are_limited_per_ip(limited: TestClient, clock: FakeClock) -> None:
    assert _report(limited).status_code == 422  # counted, whatever the outcome
    clock.now += 60
    assert _report(limited).status_code == 422
    clock.now += 540
    wait = _assert_429(_report(limited))
    assert wait == 3000  # the first request leaves the hour window in 50 minutes
    assert limited.post("/api/v1/reports", json={}).status_code == 429  # still refused, not counted
    # Another address has its own budget.
    with _from(limited, "203.0.113.7", 4000) as other:
        assert _report(other).status_code != 429
    clock.now += wait
    assert _report(limited).status_code != 429  # one slot is free again
    _assert_429(_report(limited))


def test_requests_with_credentials_are_not_counted_as_anonymous(limited: TestClient) -> None:
    for _ in range(3):
        _report(limited)
    _assert_429(_report(limited))
    # A bearer token is checked strictly: a wrong one is 401, never a way around the limit.
    res = _report(limited, Authorization="Bearer not-a-token")
    assert res.status_code == 401
    # A stale session cookie does not make a request authenticated.
    limited.cookies.set("cityops_session", "stale")
    _assert_429(_report(limited))


def test_authenticated_citizens_are_not_limited_by_the_shared_ip(
    limited: TestClient, make_user: Callable[..., User], auth: Callable[[User], dict[str, str]]
) -> None:
    citizen = make_user(Role.CITIZEN, phone="0912000111")
    for _ in range(3):
        assert _report(limited, **auth(citizen)).status_code != 429


def test_anonymous_uploads_are_limited_per_ip(limited: TestClient) -> None:
    for _ in range(2):
        res = limited.post("/api/v1/reports/media", files={"file": ("a.txt", b"hello", "text/plain")})
        assert res.status_code == 415
    _assert_429(limited.post("/api/v1/reports/media", files={"file": ("a.txt", b"hello", "text/plain")}))


def test_otp_requests_are_limited_per_ip_and_per_phone(limited: TestClient) -> None:
    phones = ["0912345001", "0912345002", "0912345003"]
    assert limited.post("/api/v1/reports/auth/otp", json={"phone": phones[0]}).status_code == 202
    assert limited.post("/api/v1/reports/auth/otp", json={"phone": phones[1]}).status_code == 202
    _assert_429(limited.post("/api/v1/reports/auth/otp", json={"phone": phones[2]}))
    # Per phone (notify's limit, whatever the address): the 4th code to one number within the hour.
    statuses = []
    for i in range(4):
        with _from(limited, f"198.51.100.{i + 1}", 4000) as c:
            statuses.append(c.post("/api/v1/reports/auth/otp", json={"phone": "0912345009"}))
    assert [r.status_code for r in statuses[:3]] == [202, 202, 202]
    _assert_429(statuses[3])


def test_login_is_throttled_per_account_and_per_ip(
    limited: TestClient, make_user: Callable[..., User]
) -> None:
    user = make_user(Role.OFFICER, username="officer-throttle")
    for _ in range(3):
        res = limited.post(
            "/api/v1/auth/login", json={"username": user.username, "password": "wrong password!"}
        )
        assert res.status_code == 401
    _assert_429(
        limited.post("/api/v1/auth/login", json={"username": user.username, "password": DEFAULT_PASSWORD})
    )
    # Per account and IP (#21): the owner at another address is not locked out.
    with _from(limited, "192.0.2.10", 4000) as other:
        res = other.post("/api/v1/auth/login", json={"username": user.username, "password": DEFAULT_PASSWORD})
        assert res.status_code == 200
        # Per IP: this address may still try another account.
        res = other.post("/api/v1/auth/login", json={"username": "someone-else", "password": "x" * 12})
        assert res.status_code == 401
    # Per IP: the first address is throttled for every account.
    _assert_429(limited.post("/api/v1/auth/login", json={"username": "someone-else", "password": "x" * 12}))


def test_limiter_window_and_key_bound() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, max_keys=2)
    assert limiter.hit("a", 2, 60) == 0
    clock.now += 10
    assert limiter.hit("a", 2, 60) == 0
    assert limiter.hit("a", 2, 60) == 50
    clock.now += 50
    assert limiter.hit("a", 2, 60) == 0
    assert limiter.hit("a", 2, 60) == 10
    limiter.hit("b", 1, 60)
    limiter.hit("c", 1, 60)  # "a" is the least recently used: forgotten
    assert limiter.hit("a", 2, 60) == 0
    limiter.reset()
    assert limiter.hit("c", 1, 60) == 0
