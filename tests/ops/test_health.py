from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine


def test_healthz(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


def test_readyz_checks_the_database(client: TestClient) -> None:
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json()["checks"]["database"] == "ok"


def test_readyz_fails_when_the_database_is_gone(client: TestClient, engine: Engine) -> None:
    app_engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    # Point the app at a database that cannot be opened.
    from cityops.db import make_engine

    client.app.state.engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")  # type: ignore[attr-defined]
    try:
        r = client.get("/readyz")
        assert r.status_code == 503
        assert r.json()["checks"]["database"].startswith("fail")
    finally:
        client.app.state.engine = app_engine  # type: ignore[attr-defined]


def test_metrics_counts_requests(client: TestClient) -> None:
    client.get("/healthz")
    body = client.get("/metrics").text
    assert 'cityops_http_requests_total{method="GET",route="/healthz",status="200"}' in body


def test_unknown_route_uses_native_error_format(client: TestClient) -> None:
    r = client.get("/api/v1/nothing-here")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
