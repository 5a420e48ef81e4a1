"""Sign-in throttling as decided in #21: a hard stop per account *and* client IP, a short back-off per
account from every address together, never a 15-minute lock anyone can impose on anyone."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from cityops.identity.models import Role, User
from cityops.settings import Settings
from tests.identity.test_auth_api import login


def test_many_addresses_only_slow_an_account_down(
    client: TestClient, make_user: Callable[..., User], settings: Settings
) -> None:
    make_user(Role.OFFICER, username="bi.tan.cong")
    threshold = settings.login_account_backoff_after
    for n in range(threshold):  # a distributed guesser: a few tries from each of many addresses
        attacker = TestClient(client.app, client=(f"198.51.100.{n}", 4000))
        assert login(attacker, "bi.tan.cong", "wrong password").status_code == 401
    owner = TestClient(client.app, client=("203.0.113.7", 5000))
    r = login(owner, "bi.tan.cong")
    assert r.status_code == 429  # a back-off, not a lock: a second, not a quarter of an hour
    assert 1 <= int(r.headers["Retry-After"]) <= settings.login_backoff_max_seconds


def test_one_address_is_stopped_for_that_account_only(
    client: TestClient, make_user: Callable[..., User], settings: Settings
) -> None:
    make_user(Role.OFFICER, username="nan.nhan")
    attacker = TestClient(client.app, client=("198.51.100.99", 4000))
    for _ in range(settings.login_max_failures):
        assert login(attacker, "nan.nhan", "wrong password").status_code == 401
    assert login(attacker, "nan.nhan").status_code == 429  # even the right password, from there
    owner = TestClient(client.app, client=("203.0.113.8", 5000))
    assert login(owner, "nan.nhan").status_code == 200
