"""Webhooks end to end: admin subscribes, bus events queue deliveries, a real local HTTP server receives and
verifies the HMAC signature; a failing receiver goes to the dead letters and a replay succeeds."""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cityops.audit.models import AuditEntry
from cityops.clock import utcnow
from cityops.events.bus import Event
from cityops.events.models import OutboxEvent
from cityops.identity.policy import Action, can
from cityops.sensing.ingest import ObservationIn, ingest_observations
from cityops.webhooks.models import WebhookDelivery
from cityops.webhooks.plugin import event_consumers, on_event
from cityops.webhooks.service import deliver_due

BASE = "/api/v1/admin/webhooks"


class Receiver:
    """A local HTTP server that records what it receives and answers ``status``."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """What a receiver does (docs/integration.md)."""
    ts = headers["x-cityops-timestamp"]
    expected = "sha256=" + hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["x-cityops-signature"])


def relay(sessions: sessionmaker[Session]) -> int:
    """Feed the outbox's events to the webhooks consumer, as the bus would (in order)."""
    with sessions() as s:
        events = [row.to_event() for row in s.scalars(select(OutboxEvent).order_by(OutboxEvent.id))]
    for event in events:
        on_event(sessions, event)
    return len(events)


def subscribe(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    r = client.post(BASE, json=body, headers=headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_admin_only_and_consumers_declared() -> None:
    specs = {s.durable: s.subject for s in event_consumers()}
    assert specs == {
        "webhooks-cases": "cases.*",
        "webhooks-alerts": "alerts.*",
        "webhooks-observations": "observations.created",
    }
    from tests.identity.test_policy import ADMIN, OPERATOR, READ_KEY

    assert can(ADMIN, Action.WEBHOOK_MANAGE)
    assert not can(OPERATOR, Action.WEBHOOK_MANAGE)
    assert not can(READ_KEY, Action.WEBHOOK_MANAGE)


def test_case_event_is_signed_public_and_delivered(client, factory, sessions, receiver) -> None:
    admin = factory.headers("admin")
    sub = subscribe(client, admin, url=receiver.url, event_types=["case.created"])
    assert len(sub["secret"]) == 64
    listed = client.get(BASE, headers=admin).json()["items"]
    assert [s["id"] for s in listed] == [sub["id"]]
    assert "secret" not in listed[0]
    with sessions() as s:
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "webhook.create")).one()
        assert sub["secret"] not in orjson.dumps(audit.after).decode()

    case = factory.case(description="Đèn hỏng trước nhà 0912345678, gọi chị Lan")
    assert relay(sessions) >= 1
    relay(sessions)  # a redelivered event queues nothing twice
    with sessions() as s:
        assert len(s.scalars(select(WebhookDelivery)).all()) == 1

    assert deliver_due(sessions) == {"sent": 1, "retry": 0, "dead": 0}
    assert len(receiver.received) == 1
    headers, body = receiver.received[0]
    assert verify(sub["secret"], headers, body)
    assert not verify("wrong" + sub["secret"], headers, body)
    assert headers["x-cityops-event"] == "case.created"
    doc = orjson.loads(body)
    assert doc["type"] == "case.created"
    assert doc["data"]["ref"] == case.ref
    assert "0912345678" not in body.decode()
    assert "Lan" not in body.decode()
    assert "description" not in doc["data"]

    log = client.get(f"{BASE}/{sub['id']}/deliveries", headers=admin).json()["items"]
    assert [(d["state"], d["attempts"], d["last_status"]) for d in log] == [("sent", 1, 200)]
    assert log[0]["duration_ms"] is not None
    assert deliver_due(sessions) == {"sent": 0, "retry": 0, "dead": 0}


def test_failing_receiver_dead_letters_then_replay(client, factory, sessions, receiver) -> None:
    admin = factory.headers("admin")
    sub = subscribe(client, admin, url=receiver.url, event_types=["case.created"], max_attempts=3)
    factory.case()
    relay(sessions)
    receiver.status = 500
    now = utcnow()
    assert deliver_due(sessions, now) == {"sent": 0, "retry": 1, "dead": 0}
    # not due yet: the back-off holds it
    assert deliver_due(sessions, now + timedelta(seconds=10)) == {"sent": 0, "retry": 0, "dead": 0}
    with sessions() as s:
        d = s.scalars(select(WebhookDelivery)).one()
        assert d.next_at >= now + timedelta(seconds=29)
    assert deliver_due(sessions, now + timedelta(seconds=31))["retry"] == 1
    assert deliver_due(sessions, now + timedelta(minutes=5)) == {"sent": 0, "retry": 0, "dead": 1}
    assert len(receiver.received) == 3

    dead = client.get(f"{BASE}/dead-letters", headers=admin).json()["items"]
    assert [(d["state"], d["attempts"], d["last_status"]) for d in dead] == [("dead", 3, 500)]
    assert "HTTP 500" in dead[0]["last_error"]
    assert client.get(f"{BASE}/dead-letters", headers=factory.headers("operator")).status_code == 403

    receiver.status = 204
    r = client.post(f"{BASE}/deliveries/{dead[0]['id']}/replay", headers=admin)
    assert r.status_code == 200
    assert r.json()["state"] == "pending"
    assert deliver_due(sessions)["sent"] == 1
    assert verify(sub["secret"], *receiver.received[-1])
    assert client.get(f"{BASE}/dead-letters", headers=admin).json()["items"] == []
    again = client.post(f"{BASE}/deliveries/{dead[0]['id']}/replay", headers=admin)
    assert again.status_code == 422
    assert again.json()["error"]["details"] == {"state": "sent"}
    with sessions() as s:
        assert s.scalars(select(AuditEntry).where(AuditEntry.action == "webhook.replay")).one()


def test_unreachable_receiver_records_the_error(client, factory, sessions) -> None:
    admin = factory.headers("admin")
    subscribe(client, admin, url="http://127.0.0.1:9/nothing", event_types=["case.created"], max_attempts=1)
    factory.case()
    relay(sessions)
    assert deliver_due(sessions) == {"sent": 0, "retry": 0, "dead": 1}
    dead = client.get(f"{BASE}/dead-letters", headers=admin).json()["items"]
    assert dead[0]["last_status"] is None
    assert "ConnectError" in dead[0]["last_error"]


def test_observations_filtered_per_datastream(client, factory, sessions, receiver) -> None:
    admin = factory.headers("admin")
    ds_ids = sorted([factory.station().id, factory.station("conductivity").id])
    wanted = ds_ids[0]
    subscribe(client, admin, url=receiver.url, event_types=["observations.created"], datastream_ids=[wanted])
    t0 = utcnow().replace(microsecond=0)
    with sessions() as s:
        ingest_observations(s, [ObservationIn(d, t0, 1.5) for d in ds_ids])
        s.commit()
    relay(sessions)
    assert deliver_due(sessions)["sent"] == 1
    doc = orjson.loads(receiver.received[0][1])
    assert doc["type"] == "observations.created"
    assert doc["data"]["datastreams"] == [wanted]
    assert doc["data"]["count"] == 1


def test_event_of_unsubscribed_type_queues_nothing(client, factory, sessions, receiver) -> None:
    subscribe(client, factory.headers("admin"), url=receiver.url, event_types=["alert.opened"])
    on_event(sessions, Event(subject="cases.created", payload={"id": 1, "ref": "X"}))
    on_event(sessions, Event(subject="alerts.opened", payload={"alert_id": 7, "severity": "warning"}))
    with sessions() as s:
        rows = s.scalars(select(WebhookDelivery)).all()
        assert [(r.event_type, r.payload["data"]["alert_id"]) for r in rows] == [("alert.opened", 7)]


@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://example.org/x", "event_types": ["case.created"]},
        {"url": "https://example.org/x", "event_types": ["case.deleted"]},
        {"url": "https://example.org/x", "event_types": []},
        {"url": "https://example.org/x", "event_types": ["case.created"], "datastream_ids": [1]},
        {"url": "https://example.org/x", "event_types": ["case.created"], "max_attempts": 0},
    ],
)
def test_bad_subscriptions_are_refused(client, factory, sessions, body) -> None:
    r = client.post(BASE, json=body, headers=factory.headers("admin"))
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"]
    assert client.get(BASE, headers=factory.headers("admin")).json()["items"] == []


def test_only_admins_manage(client, factory) -> None:
    body = {"url": "https://example.org/x", "event_types": ["case.created"]}
    for who in ("operator", "officer", "anonymous"):
        r = client.post(BASE, json=body, headers=factory.headers(who))
        assert r.status_code in (401, 403), who
    assert client.get(BASE, headers=factory.headers("operator")).status_code == 403
    assert client.delete(f"{BASE}/999", headers=factory.headers("admin")).status_code == 404


def test_through_the_running_bus(client, factory, sessions, receiver) -> None:
    """No hand relay: the app's outbox relay and bus bring the event to the declared consumer."""
    from tests.events.buses import wait_until_sync

    sub = subscribe(client, factory.headers("admin"), url=receiver.url, event_types=["case.created"])
    case = factory.case()

    def queued() -> bool:
        with sessions() as s:
            return s.scalars(select(WebhookDelivery)).first() is not None

    wait_until_sync(queued)
    assert deliver_due(sessions)["sent"] == 1
    headers, body = receiver.received[0]
    assert verify(sub["secret"], headers, body)
    assert orjson.loads(body)["data"]["ref"] == case.ref


def test_old_sent_deliveries_are_purged(client, factory, sessions, receiver) -> None:
    from cityops.webhooks.service import purge_sent

    subscribe(client, factory.headers("admin"), url=receiver.url, event_types=["case.created"])
    factory.case()
    factory.case()
    relay(sessions)
    assert deliver_due(sessions)["sent"] == 2
    with sessions() as s:
        first = s.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).first()
        first.sent_at = utcnow() - timedelta(days=31)
        s.commit()
    with sessions() as s:
        assert purge_sent(s) == 1
        s.commit()
        assert len(s.scalars(select(WebhookDelivery)).all()) == 1
