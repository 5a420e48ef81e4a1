"""Subscriptions: CRUD under the policy; a change matched by the bus consumer into a persisted notification,
delivered to a local HTTP server by the delivery task — after the app that matched it has stopped and a new
one has started; a failing endpoint retried with back-off and then kept as dead, visible, and requeued."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cityops.clock import utcnow
from cityops.ngsild.models import NgsiNotification
from cityops.ngsild.subscriptions import MAX_ATTEMPTS, backoff, deliver_due
from tests.conftest import Backend
from tests.kit.factories import Factory
from tests.ngsild.served import free_port, serve

S = "/ngsi-ld/v1/subscriptions"
E = "/ngsi-ld/v1/entities"


class Receiver:
    def __init__(self) -> None:
        self.got: list[dict[str, Any]] = []
        received = self.got

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/notify"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    try:
        yield r
    finally:
        r.close()


def _subscription(uri: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": "urn:ngsi-ld:Subscription:test-1",
        "type": "Subscription",
        "entities": [{"type": "Vehicle"}],
        "q": "speed>50",
        "notification": {"endpoint": {"uri": uri, "accept": "application/json"}, "format": "keyValues"},
        **extra,
    }


def _vehicle(n: int, speed: float) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:Vehicle:s-{n}",
        "type": "Vehicle",
        "speed": {"type": "Property", "value": speed},
    }


def _wait_pending(sessions: sessionmaker[Session], n: int) -> list[NgsiNotification]:
    deadline = time.monotonic() + 20  # the relay and the consumer run in the server's own tasks
    while True:
        with sessions() as s:
            rows = list(s.scalars(select(NgsiNotification).order_by(NgsiNotification.id)).all())
        if len(rows) >= n or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def test_notification_survives_a_restart(
    backend: Backend, tmp_path: Path, factory: Factory, sessions: sessionmaker[Session], receiver: Receiver
) -> None:
    op = factory.headers("operator")
    port = free_port()
    with serve(backend.url, tmp_path / "data", port) as port:
        base = f"http://127.0.0.1:{port}"
        created = httpx.post(base + S, json=_subscription(receiver.url), headers=op)
        assert created.status_code == 201, created.text
        for n, speed in ((1, 30), (2, 80)):
            assert httpx.post(base + E, json=_vehicle(n, speed), headers=op).status_code == 201
        rows = _wait_pending(sessions, 1)
    # the first server is gone; nothing was sent yet (its delivery task does not run under tests)
    assert [r.state for r in rows] == ["pending"]
    assert receiver.got == []
    time.sleep(0.2)
    assert len(_wait_pending(sessions, 1)) == 1  # the slow car never matched q=speed>50
    with serve(backend.url, tmp_path / "data") as port2:
        assert deliver_due(sessions) == (1, 0)  # what the new process's delivery task runs
        assert len(receiver.got) == 1
        note = receiver.got[0]
        assert note["type"] == "Notification"
        assert note["subscriptionId"] == "urn:ngsi-ld:Subscription:test-1"
        assert note["data"] == [{"id": "urn:ngsi-ld:Vehicle:s-2", "type": "Vehicle", "speed": 80}]
        status = httpx.get(f"http://127.0.0.1:{port2}{S}/urn:ngsi-ld:Subscription:test-1", headers=op).json()
        assert status["notification"]["timesSent"] == 1
        assert status["notification"]["pending"] == 0
    assert deliver_due(sessions) == (0, 0)  # sent once, never again


def test_failing_endpoint_is_retried_then_dead_and_visible(
    client: TestClient, factory: Factory, sessions: sessionmaker[Session], receiver: Receiver
) -> None:
    op = factory.headers("admin")
    dead_url = f"http://127.0.0.1:{free_port()}/nobody"  # a closed port
    assert client.post(S, json=_subscription(dead_url), headers=op).status_code == 201
    assert client.post(E, json=_vehicle(3, 90), headers=op).status_code == 201
    assert len(_wait_pending(sessions, 1)) == 1  # matched by the app's bus consumer
    now = utcnow()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert deliver_due(sessions, now) == (0, 1)
        assert deliver_due(sessions, now) == (0, 0)  # not due again before its back-off
        now += backoff(attempt) + timedelta(seconds=1)
    with sessions() as s:
        (row,) = s.scalars(select(NgsiNotification)).all()
        assert row.state == "dead"
        assert row.attempts == MAX_ATTEMPTS
        assert row.last_error
    status = client.get(f"{S}/urn:ngsi-ld:Subscription:test-1", headers=op).json()
    assert status["notification"]["timesFailed"] == 1
    assert status["notification"]["status"] == "failed"
    # the endpoint is fixed: the dead notification is requeued and arrives
    assert (
        client.patch(
            f"{S}/urn:ngsi-ld:Subscription:test-1",
            json={"notification": {"endpoint": {"uri": receiver.url}}},
            headers=op,
        ).status_code
        == 204
    )
    assert client.post(f"{S}/urn:ngsi-ld:Subscription:test-1/retry", headers=op).json() == {"requeued": 1}
    assert deliver_due(sessions) == (1, 0)
    assert receiver.got[0]["data"][0]["id"] == "urn:ngsi-ld:Vehicle:s-3"


def test_subscriptions_crud_and_policy(client: TestClient, factory: Factory) -> None:
    body = _subscription("http://127.0.0.1:9/x")
    assert client.post(S, json=body).status_code == 401
    assert client.post(S, json=body, headers=factory.headers("citizen")).status_code == 403
    key = {"X-API-Key": factory.api_key(["read"])}
    assert client.post(S, json=body, headers=key).status_code == 201
    assert client.post(S, json=body, headers=key).status_code == 409
    for bad in (
        {**body, "type": "Sub"},
        {**body, "notification": {}},
        {**body, "q": "speed>>"},
        {k: v for k, v in body.items() if k != "entities"},
    ):
        resp = client.post(S, json={**bad, "id": "urn:ngsi-ld:Subscription:bad"}, headers=key)
        assert resp.status_code == 400, bad
        assert resp.headers["content-type"].startswith("application/problem+json")
    listed = client.get(S, params={"count": "true"}, headers=key)
    assert listed.headers["NGSILD-Results-Count"] == "1"
    other = {"X-API-Key": factory.api_key(["read"])}
    assert client.get(f"{S}/{body['id']}", headers=other).status_code == 404  # another key's subscription
    # key names are not unique: two integrators' keys both called "integration" own apart (by key id)
    first = {"X-API-Key": factory.api_key(["read"], name="integration")}
    second = {"X-API-Key": factory.api_key(["read"], name="integration")}
    mine = {**body, "id": "urn:ngsi-ld:Subscription:same-name"}
    assert client.post(S, json=mine, headers=first).status_code == 201
    assert client.get(f"{S}/{mine['id']}", headers=second).status_code == 404
    assert client.delete(f"{S}/{mine['id']}", headers=second).status_code == 404
    assert client.get(f"{S}/{mine['id']}", headers=first).status_code == 200
    assert client.patch(f"{S}/{body['id']}", json={"isActive": False}, headers=key).status_code == 204
    assert client.get(f"{S}/{body['id']}", headers=key).json()["status"] == "paused"
    assert client.delete(f"{S}/{body['id']}", headers=key).status_code == 204
    assert client.get(f"{S}/{body['id']}", headers=key).status_code == 404


def test_new_observations_notify_a_station_subscription(
    client: TestClient, factory: Factory, sessions: sessionmaker[Session], receiver: Receiver
) -> None:
    from cityops.places.models import Place
    from cityops.sensing.ingest import ObservationIn, ingest_observations
    from tests.kit.factories import MOMENT

    ds = factory.station("salinity")
    place = factory.place("station", name="Trạm Cầu Tân An", attributes={"kind": "water"})
    with sessions() as s:
        row = s.get(Place, place.id)
        assert row is not None
        row.thing_id = ds.thing_id
        s.commit()
    eid = f"urn:ngsi-ld:WaterQualityObserved:cityops:place:{place.id}"
    sub = {
        "type": "Subscription",
        "entities": [{"type": "WaterQualityObserved"}],
        "q": "salinity>4",
        "notification": {
            "endpoint": {"uri": receiver.url},
            "attributes": ["salinity"],
            "format": "keyValues",
        },
    }
    assert client.post(S, json=sub, headers=factory.headers("operator")).status_code == 201
    with sessions() as s:  # the ingest path, emitting observations.created after commit
        ingest_observations(s, [ObservationIn(ds.id, MOMENT + timedelta(minutes=5), 5.5)])
        s.commit()
    rows = _wait_pending(sessions, 1)
    assert len(rows) == 1
    assert deliver_due(sessions) == (1, 0)
    assert receiver.got[0]["data"] == [{"id": eid, "type": "WaterQualityObserved", "salinity": 5.5}]
