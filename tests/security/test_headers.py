"""Security headers on every response (API families, pages, docs, errors) and the session cookies' flags."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cityops.app import create_app
from cityops.identity.deps import SESSION_COOKIE
from cityops.identity.models import Role, User
from cityops.security.headers import API_CSP, PAGE_CSP, policy_for, script_hashes
from cityops.settings import load_settings
from tests.conftest import Backend
from tests.fixtures_identity import DEFAULT_PASSWORD

COMMON = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
}


def _no_inline_script(csp: str) -> None:
    script = next(d for d in csp.split(";") if d.strip().startswith(("script-src", "default-src 'none'")))
    assert "'unsafe-inline'" not in script
    assert "'unsafe-eval'" not in csp
    assert "frame-ancestors 'none'" in csp


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/reports/categories"),
        ("GET", "/api/v1/no-such-route"),  # a 404 too
        ("GET", "/open311/v2/services.json"),
        ("GET", "/open311/v2/services.txt"),  # an Open311 error
        ("GET", "/sta/v1.1"),
        ("GET", "/sta/v1.1/Things?$top=x"),  # an OData error
        ("GET", "/healthz"),
        ("POST", "/api/v1/auth/login"),  # a 422 error
        ("GET", "/openapi.json"),
    ],
)
def test_every_response_carries_the_headers(client: TestClient, method: str, path: str) -> None:
    res = client.request(method, path)
    for name, value in COMMON.items():
        assert res.headers[name] == value, (path, name)
    assert res.headers["content-security-policy"] == API_CSP
    _no_inline_script(res.headers["content-security-policy"])
    assert "strict-transport-security" not in res.headers  # plain HTTP, cookie_secure off


def test_pages_keep_the_page_policy(client: TestClient) -> None:
    res = client.get("/")  # built or not (503), the page policy applies to HTML
    assert res.headers["content-type"].startswith("text/html")
    assert res.headers["content-security-policy"] == PAGE_CSP
    _no_inline_script(PAGE_CSP)
    assert res.headers["x-frame-options"] == "DENY"


def test_service_worker_runs_under_the_page_policy(client: TestClient) -> None:
    res = client.get("/sw.js")
    if res.status_code == 200:
        assert res.headers["content-security-policy"] == PAGE_CSP  # its fetches need connect-src 'self'
    assert policy_for("text/javascript; charset=utf-8") == PAGE_CSP
    assert policy_for("application/json") == API_CSP


def test_docs_allow_their_inline_script_by_hash_only(client: TestClient) -> None:
    res = client.get("/docs")
    assert res.status_code == 200
    csp = res.headers["content-security-policy"]
    _no_inline_script(csp)
    hashes = script_hashes(res.content)
    assert hashes, "Swagger UI has an inline script"
    assert all(h in csp for h in hashes)
    # A tampered script would not match the hash.
    assert script_hashes(res.content.replace(b"SwaggerUIBundle(", b"evil();SwaggerUIBundle(")) != hashes


def test_only_inline_scripts_are_hashed() -> None:
    html = b"<html><script>alert(1)</script><script src='/a.js'></script></html>"
    assert len(script_hashes(html)) == 1  # only the inline one


def test_hsts_only_behind_tls(app: FastAPI) -> None:
    # from the trusted reverse proxy (127.0.0.1 by default), its X-Forwarded-Proto says how the client came
    with TestClient(app, client=("127.0.0.1", 40000)) as proxy:
        assert "strict-transport-security" not in proxy.get("/healthz").headers
        res = proxy.get("/healthz", headers={"X-Forwarded-Proto": "https"})
        assert res.headers["strict-transport-security"].startswith("max-age=31536000")
        res = proxy.get("/healthz", headers={"X-Forwarded-Proto": "http"})
        assert "strict-transport-security" not in res.headers


def test_forwarded_proto_from_a_stranger_is_not_believed(app: FastAPI) -> None:
    with TestClient(app, client=("203.0.113.7", 40000)) as stranger:
        res = stranger.get("/healthz", headers={"X-Forwarded-Proto": "https"})
        assert res.status_code == 200
        assert "strict-transport-security" not in res.headers


@pytest.fixture
def secure_client(backend: Backend, tmp_path: Path) -> TestClient:
    settings = load_settings(
        env="test", data_dir=tmp_path / "data", database_url=backend.url, cookie_secure=True
    )
    return TestClient(create_app(settings))


def test_cookie_secure_setting_sends_hsts_and_secure_cookies(
    secure_client: TestClient, make_user: Callable[..., User]
) -> None:
    user = make_user(Role.OFFICER, username="officer-secure")
    with secure_client as c:
        assert c.get("/healthz").headers["strict-transport-security"].startswith("max-age=")
        res = c.post(
            "/api/v1/auth/login",
            json={"username": user.username, "password": DEFAULT_PASSWORD, "session": True},
        )
        assert res.status_code == 200
        cookies = res.headers.get_list("set-cookie")
        session = next(c for c in cookies if c.startswith(f"{SESSION_COOKIE}="))
        assert "HttpOnly" in session
        assert "Secure" in session
        assert "SameSite=lax" in session
        assert all("Secure" in c and "SameSite=lax" in c for c in cookies)


def test_session_cookie_flags_without_tls(client: TestClient, make_user: Callable[..., User]) -> None:
    user = make_user(Role.OFFICER, username="officer-plain")
    res = client.post(
        "/api/v1/auth/login", json={"username": user.username, "password": DEFAULT_PASSWORD, "session": True}
    )
    assert res.status_code == 200
    cookies = res.headers.get_list("set-cookie")
    http_only = [c.split("=")[0] for c in cookies if "HttpOnly" in c]
    assert http_only == [SESSION_COOKIE]  # the session; the CSRF cookie must stay readable by the page
    assert all("SameSite=lax" in c and "Secure" not in c for c in cookies)
    assert res.json()["token"] is None  # the session token is never readable by scripts
