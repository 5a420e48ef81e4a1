"""Request ids, JSON logs, the bus readiness check and the events-published counter."""

from __future__ import annotations

import io
import logging
import uuid

import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cityops.app import create_app
from cityops.events.bus import Event
from cityops.events.outbox import emit
from cityops.ops.logs import configure_logging
from cityops.ops.requests import accept_request_id
from cityops.settings import Settings, load_settings
from tests.events.buses import wait_until_sync
from tests.services import require_nats


def json_lines(buffer: io.StringIO) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def test_a_request_id_is_made_and_returned(client: TestClient) -> None:
    first = client.get("/healthz").headers["x-request-id"]
    second = client.get("/healthz").headers["x-request-id"]
    assert len(first) == 32
    assert first != second


def test_a_callers_request_id_is_kept(client: TestClient) -> None:
    r = client.get("/healthz", headers={"X-Request-ID": "nginx-7f3a.1"})
    assert r.headers["x-request-id"] == "nginx-7f3a.1"


@pytest.mark.parametrize("bad", ["", "has space", "x" * 129, "semi;colon", 'quote"'])
def test_a_malformed_request_id_is_replaced(bad: str) -> None:
    replaced = accept_request_id(bad)
    assert replaced != bad
    assert len(replaced) == 32


def test_json_logs_parse_and_carry_the_request_id(settings: Settings) -> None:
    json_settings = settings.model_copy(update={"log_json": True})
    app = create_app(json_settings)

    @app.get("/test-logging")
    def log_inside_a_sync_endpoint() -> dict[str, str]:  # runs in the threadpool
        logging.getLogger("cityops.test").warning("inside", extra={"case_id": 42})
        return {}

    buffer = io.StringIO()
    configure_logging(json_settings, stream=buffer)
    with TestClient(app) as client:
        client.get("/healthz", headers={"X-Request-ID": "trace-123"})
        client.get("/api/v1/nothing-here", headers={"X-Request-ID": "trace-456"})
        client.get("/test-logging", headers={"X-Request-ID": "trace-789"})
    lines = json_lines(buffer)  # every line is one JSON object, or this raises
    (inside,) = [line for line in lines if line["logger"] == "cityops.test"]
    assert inside["request_id"] == "trace-789"
    assert inside["case_id"] == 42
    assert inside["level"] == "WARNING"
    access = [line for line in lines if line["logger"] == "cityops.http"]
    by_id = {line["request_id"]: line for line in access}
    assert by_id["trace-123"]["path"] == "/healthz"
    assert by_id["trace-123"]["status"] == 200
    assert by_id["trace-456"]["status"] == 404
    assert all({"ts", "level", "msg"} <= set(line) for line in lines)


def test_plain_logs_show_the_request_id(settings: Settings) -> None:
    app = create_app(settings)
    buffer = io.StringIO()
    configure_logging(settings, stream=buffer)
    with TestClient(app) as client:
        client.get("/healthz", headers={"X-Request-ID": "plain-1"})
    assert "[plain-1]: GET /healthz 200" in buffer.getvalue()


def test_readyz_checks_the_bus(client: TestClient) -> None:
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json()["checks"]["bus"] == "ok"
    app: FastAPI = client.app  # type: ignore[assignment]
    assert client.portal is not None
    client.portal.call(app.state.bus.close)
    r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["checks"]["bus"].startswith("fail")


def test_readyz_with_nats_reports_the_connection(settings: Settings) -> None:
    require_nats()
    tag = uuid.uuid4().hex[:12]
    nats_settings = load_settings(
        env="test",
        data_dir=settings.data_dir,
        database_url=settings.database_url,
        bus="nats",
        nats_stream=f"CITYOPS_T_{tag}",
        nats_subject_prefix=f"t{tag}",
    )
    app = create_app(nats_settings)
    with TestClient(app) as client:
        try:
            r = client.get("/readyz")
            assert r.status_code == 200, r.text
            assert r.json()["checks"]["bus"] == "ok"
            assert type(app.state.bus).__name__ == "NatsBus"
        finally:
            assert client.portal is not None
            client.portal.call(app.state.bus.delete_stream)


def test_metrics_count_published_events(client: TestClient) -> None:
    app: FastAPI = client.app  # type: ignore[assignment]
    with app.state.sessions() as session:
        emit(session, "cases.created", {"case_id": 1})
        emit(session, "cases.created", {"case_id": 2})
        emit(session, "alerts.opened", {"alert_id": 1})
        session.commit()
    line = 'cityops_events_published_total{subject="cases.created"} 2.0'
    wait_until_sync(lambda: line in client.get("/metrics").text)
    body = client.get("/metrics").text
    assert 'cityops_events_published_total{subject="alerts.opened"} 1.0' in body


def test_metrics_show_pending_outbox_events(client: TestClient) -> None:
    app: FastAPI = client.app  # type: ignore[assignment]
    assert "cityops_outbox_pending 0.0" in client.get("/metrics").text
    assert client.portal is not None
    client.portal.call(app.state.outbox_relay.stop)  # nothing relays now
    with app.state.sessions() as session:
        emit(session, "cases.created", {"case_id": 1})
        session.commit()
    assert "cityops_outbox_pending 1.0" in client.get("/metrics").text


def test_json_mode_writes_uvicorn_messages_as_json_too(settings: Settings) -> None:
    buffer = io.StringIO()
    configure_logging(settings.model_copy(update={"log_json": True}), stream=buffer)
    logging.getLogger("uvicorn.error").info("Application startup complete.")
    logging.getLogger("uvicorn.access").info("GET / 200")  # replaced by cityops.http
    (line,) = json_lines(buffer)
    assert line["logger"] == "uvicorn.error"
    assert line["msg"] == "Application startup complete."


def test_metrics_count_deliveries_by_outcome(client: TestClient) -> None:
    app: FastAPI = client.app  # type: ignore[assignment]

    async def fails(event: Event) -> None:
        raise RuntimeError("consumer bug")

    assert client.portal is not None
    sub = client.portal.call(app.state.bus.subscribe, "alerts.>", "metrics-test", fails)
    with app.state.sessions() as session:
        emit(session, "alerts.opened", {"alert_id": 1})
        session.commit()
    line = 'cityops_events_handled_total{durable="metrics-test",outcome="dead_lettered"} 1.0'
    wait_until_sync(lambda: line in client.get("/metrics").text)
    client.portal.call(sub.stop)
    body = client.get("/metrics").text
    failed = f'cityops_events_handled_total{{durable="metrics-test",outcome="failed"}} {float(app.state.settings.bus_max_deliver)}'
    assert failed in body
