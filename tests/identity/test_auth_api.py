"""Sign-in, tokens, cookie sessions with CSRF, throttling (both backends)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from cityops.audit.models import AuditEntry
from cityops.clock import utcnow
from cityops.identity.deps import CSRF_COOKIE, SESSION_COOKIE
from cityops.identity.models import AuthSession, Role, User
from cityops.settings import Settings
from tests.fixtures_identity import DEFAULT_PASSWORD

LOGIN = "/api/v1/auth/login"
ME = "/api/v1/auth/me"


def login(client: TestClient, username: str, password: str = DEFAULT_PASSWORD, **extra: object) -> Response:
    return client.post(LOGIN, json={"username": username, "password": password, **extra})


def test_login_returns_a_working_bearer_token(client: TestClient, make_user: Callable[..., User]) -> None:
    user = make_user(Role.OFFICER, username="can.bo")
    r = client.post(LOGIN, json={"username": "Can.Bo", "password": DEFAULT_PASSWORD})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token"]
    assert body["expires_at"]
    assert body["user"]["id"] == user.id
    assert "password_hash" not in body["user"]
    me = client.get(ME, headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    assert me.json()["username"] == "can.bo"


def test_login_by_phone_number_in_any_spelling(client: TestClient, make_user: Callable[..., User]) -> None:
    make_user(Role.CITIZEN, phone="0912 345 678")
    assert login(client, "+84912345678").status_code == 200
    assert login(client, "0912.345.678").status_code == 200


def test_wrong_password_unknown_user_and_inactive_user_are_401_alike(
    client: TestClient, make_user: Callable[..., User]
) -> None:
    make_user(Role.CITIZEN, username="dan")
    make_user(Role.CITIZEN, username="nghi", is_active=False)
    for name, password in [
        ("dan", "wrong password"),
        ("nobody", DEFAULT_PASSWORD),
        ("nghi", DEFAULT_PASSWORD),
    ]:
        r = client.post(LOGIN, json={"username": name, "password": password})
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "invalid_credentials"
        assert "token" not in r.json()


def test_login_body_is_strict(client: TestClient, make_user: Callable[..., User]) -> None:
    make_user(Role.CITIZEN, username="dan")
    assert (
        client.post(LOGIN, json={"username": "dan", "password": DEFAULT_PASSWORD, "session": 1}).status_code
        == 422
    )
    assert (
        client.post(LOGIN, json={"username": "dan", "password": DEFAULT_PASSWORD, "x": 1}).status_code == 422
    )
    assert client.post(LOGIN, json={"username": "dan"}).status_code == 422


def test_no_credentials_is_401_on_me(client: TestClient) -> None:
    r = client.get(ME)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"


def test_garbage_and_non_bearer_authorization_is_401(
    client: TestClient, make_user: Callable[..., User]
) -> None:
    make_user(Role.CITIZEN)
    assert client.get(ME, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get(ME, headers={"Authorization": "Basic YTpi"}).status_code == 401
    # an invalid bearer token is refused even on a public route, never downgraded to anonymous
    assert client.get("/api/v1/agencies", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_expired_token_is_401(
    client: TestClient,
    make_user: Callable[..., User],
    token_for: Callable[..., str],
    sessions: sessionmaker[Session],
) -> None:
    user = make_user(Role.OFFICER)
    token = token_for(user)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get(ME, headers=headers).status_code == 200
    with sessions() as s:
        s.execute(update(AuthSession).values(expires_at=utcnow() - timedelta(seconds=1)))
        s.commit()
    r = client.get(ME, headers=headers)
    assert r.status_code == 401
    assert r.json()["error"]["message"] == "The token is invalid, expired or revoked"
    assert r.headers["www-authenticate"] == "Bearer"


def test_logout_revokes_the_token(
    client: TestClient, make_user: Callable[..., User], auth: Callable[[User], dict[str, str]]
) -> None:
    user = make_user(Role.CITIZEN)
    headers = auth(user)
    other = auth(user)  # a second session of the same user stays valid
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert client.get(ME, headers=headers).status_code == 401
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 401
    assert client.get(ME, headers=other).status_code == 200


def test_deactivated_user_token_stops_working(
    client: TestClient,
    make_user: Callable[..., User],
    auth: Callable[[User], dict[str, str]],
    admin_headers: dict[str, str],
) -> None:
    user = make_user(Role.OFFICER)
    headers = auth(user)
    r = client.patch(f"/api/v1/users/{user.id}", json={"is_active": False}, headers=admin_headers)
    assert r.status_code == 200, r.text
    assert client.get(ME, headers=headers).status_code == 401


def test_cookie_session_needs_csrf_header_on_unsafe_methods(
    client: TestClient, make_user: Callable[..., User]
) -> None:
    make_user(Role.ADMIN, username="quan.tri")
    r = client.post(LOGIN, json={"username": "quan.tri", "password": DEFAULT_PASSWORD, "session": True})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token"] is None  # the token lives only in the HttpOnly cookie
    csrf = body["csrf_token"]
    cookies = r.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookies if c.startswith(SESSION_COOKIE + "="))
    assert "HttpOnly" in session_cookie
    assert "samesite=lax" in session_cookie.lower()
    assert "Secure" not in session_cookie  # settings.cookie_secure is off in tests
    csrf_cookie = next(c for c in cookies if c.startswith(CSRF_COOKIE + "="))
    assert "HttpOnly" not in csrf_cookie
    assert csrf in csrf_cookie
    # safe method: no header needed
    assert client.get(ME).status_code == 200
    new_agency = {"code": "x-1", "name": "Phòng thử"}
    # unsafe without / with a wrong header: 403 and nothing created
    r = client.post("/api/v1/agencies", json=new_agency)
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "csrf_failed"
    assert (
        client.post("/api/v1/agencies", json=new_agency, headers={"X-CSRF-Token": "wrong"}).status_code == 403
    )
    assert all(a["code"] != "x-1" for a in client.get("/api/v1/agencies").json()["items"])
    # with it: OK
    r = client.post("/api/v1/agencies", json=new_agency, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201, r.text
    # logout needs it too, and clears the cookie
    assert client.post("/api/v1/auth/logout").status_code == 403
    assert client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert client.get(ME).status_code == 401


def test_cookie_session_secure_flag_follows_settings(
    settings: Settings, make_user: Callable[..., User]
) -> None:
    from cityops.app import create_app

    make_user(Role.CITIZEN, username="dan")
    with TestClient(create_app(settings.model_copy(update={"cookie_secure": True}))) as c:
        r = c.post(LOGIN, json={"username": "dan", "password": DEFAULT_PASSWORD, "session": True})
        assert r.status_code == 200
        assert all("Secure" in cookie for cookie in r.headers.get_list("set-cookie"))


def test_bearer_requests_need_no_csrf(client: TestClient, admin_headers: dict[str, str]) -> None:
    r = client.post("/api/v1/agencies", json={"code": "x-2", "name": "Phòng thử"}, headers=admin_headers)
    assert r.status_code == 201


def test_cookie_token_is_not_a_bearer_token(client: TestClient, make_user: Callable[..., User]) -> None:
    make_user(Role.CITIZEN, username="dan")
    r = client.post(LOGIN, json={"username": "dan", "password": DEFAULT_PASSWORD, "session": True})
    token = r.cookies[SESSION_COOKIE]
    client.cookies.clear()
    assert client.get(ME, headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_stale_cookie_is_anonymous_on_public_routes(client: TestClient) -> None:
    client.cookies.set(SESSION_COOKIE, "stale")
    assert client.get("/api/v1/agencies").status_code == 200
    assert client.get(ME).status_code == 401


def test_account_throttled_after_max_failures_with_retry_after(
    client: TestClient, make_user: Callable[..., User], settings: Settings
) -> None:
    make_user(Role.OFFICER, username="bi.khoa")
    for _ in range(settings.login_max_failures):
        assert login(client, "bi.khoa", "wrong password").status_code == 401
    r = login(client, "bi.khoa")  # even the right password is refused now
    assert r.status_code == 429
    retry = int(r.headers["retry-after"])
    assert 0 < retry <= settings.login_window_seconds
    assert r.json()["error"]["code"] == "too_many_requests"
    # other accounts from another IP are not affected
    make_user(Role.OFFICER, username="khac")
    other_ip = TestClient(client.app, client=("10.0.0.9", 5000))
    assert login(other_ip, "khac").status_code == 200
    # the owner at another address is not locked out (#21: per account and IP, no global lock)
    assert login(other_ip, "bi.khoa").status_code == 200


def test_account_throttle_releases_when_failures_leave_the_window(
    client: TestClient, make_user: Callable[..., User], settings: Settings, sessions: sessionmaker[Session]
) -> None:
    from cityops.identity.models import LoginAttempt

    make_user(Role.OFFICER, username="bi.khoa")
    for _ in range(settings.login_max_failures):
        login(client, "bi.khoa", "wrong password")
    assert login(client, "bi.khoa").status_code == 429
    with sessions() as s:
        s.execute(
            update(LoginAttempt).values(at=utcnow() - timedelta(seconds=settings.login_window_seconds + 1))
        )
        s.commit()
    assert login(client, "bi.khoa").status_code == 200


def test_success_resets_the_account_count(
    client: TestClient, make_user: Callable[..., User], settings: Settings
) -> None:
    make_user(Role.OFFICER, username="quen.mk")
    for _ in range(settings.login_max_failures - 1):
        login(client, "quen.mk", "wrong password")
    assert login(client, "quen.mk").status_code == 200
    # another IP (this one's failures are not reset by a success): the account count starts again
    elsewhere = TestClient(client.app, client=("10.0.0.8", 5000))
    for _ in range(settings.login_max_failures - 1):
        assert login(elsewhere, "quen.mk", "wrong password").status_code == 401
    assert login(elsewhere, "quen.mk").status_code == 200


def test_ip_throttled_across_accounts(
    client: TestClient, make_user: Callable[..., User], settings: Settings
) -> None:
    make_user(Role.CITIZEN, username="that")
    for i in range(settings.login_max_failures):
        assert login(client, f"guess{i}", "wrong password").status_code == 401
    r = login(client, "that")  # a different, valid account from the same IP
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) > 0
    elsewhere = TestClient(client.app, client=("10.0.0.7", 5000))
    assert login(elsewhere, "that").status_code == 200


def test_login_upgrades_weak_hash_and_is_audited(
    client: TestClient, make_user: Callable[..., User], sessions: sessionmaker[Session]
) -> None:
    user = make_user(Role.CITIZEN, username="cu")
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(DEFAULT_PASSWORD)
    with sessions() as s:
        s.execute(update(User).where(User.id == user.id).values(password_hash=weak))
        s.commit()
    assert login(client, "cu").status_code == 200
    with sessions() as s:
        new_hash = s.scalar(select(User.password_hash).where(User.id == user.id))
        assert new_hash
        assert new_hash != weak
        assert new_hash.startswith("$argon2id$")
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "auth.login")).one()
        assert entry.actor_type == "user"
        assert entry.actor_id == str(user.id)
        assert entry.ip == "testclient"


def test_change_own_password_signs_out_other_sessions(
    client: TestClient,
    make_user: Callable[..., User],
    auth: Callable[[User], dict[str, str]],
    sessions: sessionmaker[Session],
) -> None:
    user = make_user(Role.CITIZEN, username="doi.mk")
    mine, other = auth(user), auth(user)
    url = "/api/v1/auth/password"
    assert (
        client.post(
            url, json={"current_password": DEFAULT_PASSWORD, "new_password": "moi-moi-moi"}
        ).status_code
        == 401
    )
    r = client.post(url, json={"current_password": "sai", "new_password": "moi-moi-moi"}, headers=mine)
    assert r.status_code == 403
    r = client.post(url, json={"current_password": DEFAULT_PASSWORD, "new_password": "ngan"}, headers=mine)
    assert r.status_code == 422
    assert client.get(ME, headers=other).status_code == 200  # nothing changed yet
    r = client.post(
        url, json={"current_password": DEFAULT_PASSWORD, "new_password": "moi-moi-moi"}, headers=mine
    )
    assert r.status_code == 204, r.text
    assert client.get(ME, headers=mine).status_code == 200
    assert client.get(ME, headers=other).status_code == 401
    assert login(client, "doi.mk").status_code == 401
    assert login(client, "doi.mk", "moi-moi-moi").status_code == 200
    with sessions() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "user.update")).one()
        assert entry.after is not None
        assert entry.after["password_changed"] is True


def test_account_throttle_counts_every_spelling_of_the_account(
    client: TestClient, make_user: Callable[..., User], settings: Settings
) -> None:
    make_user(Role.CITIZEN, username="dan.so", phone="0912 345 678")
    spellings = ["0912345678", "+84912345678", "dan.so", "DAN.SO", "84912345678", "0912.345.678"]
    for i in range(settings.login_account_backoff_after):
        # a new IP each time, so only the account's back-off (#21) can stop the last attempt
        c = TestClient(client.app, client=(f"10.1.0.{i}", 5000))
        assert login(c, spellings[i % len(spellings)], "wrong password").status_code == 401
    last = TestClient(client.app, client=("10.1.1.1", 5000))
    assert login(last, "dan.so").status_code == 429
    assert login(last, "+84 912 345 678").status_code == 429


def test_old_sessions_are_purged_recent_ones_kept(
    make_user: Callable[..., User], token_for: Callable[..., str], sessions: sessionmaker[Session]
) -> None:
    from cityops.identity.tokens import purge_sessions

    user = make_user(Role.CITIZEN)
    for _ in range(3):
        token_for(user)
    with sessions() as s:
        rows = s.scalars(select(AuthSession).order_by(AuthSession.id)).all()
        rows[0].expires_at = utcnow() - timedelta(days=31)
        rows[1].revoked_at = utcnow() - timedelta(days=31)
        s.commit()
        assert purge_sessions(s) == 2
        s.commit()
        assert [r.id for r in s.scalars(select(AuthSession))] == [rows[2].id]
