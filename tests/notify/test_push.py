"""Area alerts to phones by Web Push, against a local push service over real HTTP (both backends).

The browser side is played by the test: a P-256 key pair and an auth secret make the subscription, the
local HTTP server stands in for the push service, and the test decrypts what arrives (RFC 8291
aes128gcm, with ``http_ece``) — so the VAPID signature and the payload encryption are the real ones.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cityops.alerts.delivery import deliver_event
from cityops.alerts.models import AlertSubscription
from cityops.alerts.service import process_observations
from cityops.areas.models import AreaLineage
from cityops.audit.models import AuditEntry
from cityops.notify.models import Delivery, PushSubscription
from cityops.notify.vapid import public_key_of
from cityops.settings import Settings
from tests.alerts.support import make_area, make_station, salinity_rule
from tests.notify.pushkit import Browser, PushService, push_service, unb64

__all__ = ["push_service"]  # the fixture

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


def _alert(session: Session, area_id: int, name: str) -> int:
    ds = make_station(session, name, "salinity", area_ids=[area_id])
    if not _has_rule(session):
        salinity_rule(session)
    changes = process_observations(session, ds.id, [(T0 + timedelta(minutes=10 * i), 2.0) for i in range(4)])
    return changes[0].alert_id


def _has_rule(session: Session) -> bool:
    from cityops.alerts.models import Rule

    return session.scalar(select(Rule.id).limit(1)) is not None


def test_public_key_is_generated_once_into_the_data_dir(client: TestClient, settings: Settings) -> None:
    first = client.get("/api/v1/push/public-key")
    assert first.status_code == 200
    key = first.json()
    assert key["enabled"] is True
    assert len(unb64(key["public_key"])) == 65  # an uncompressed P-256 point
    stored = (settings.data_dir / "webpush-vapid.key").read_text().strip()
    assert public_key_of(stored) == key["public_key"]
    assert oct((settings.data_dir / "webpush-vapid.key").stat().st_mode & 0o777) == "0o600"
    assert client.get("/api/v1/push/public-key").json() == key


def test_device_registers_and_receives_an_encrypted_alert(
    client: TestClient,
    sessions: sessionmaker[Session],
    session: Session,
    settings: Settings,
    push_service: PushService,
) -> None:
    with sessions() as s:
        ward = make_area(s, "Phường Long An", "27694")
        other = make_area(s, "Xã Đức Hòa", "27700")
        s.commit()
        ward_id, other_id = ward.id, other.id
    phone = Browser(f"{push_service.base}/push/phone-1")
    elsewhere = Browser(f"{push_service.base}/push/phone-2")
    body = {"subscription": phone.subscription(), "area_ids": [ward_id], "min_severity": "watch"}
    created = client.post("/api/v1/push/devices", json=body)
    assert created.status_code == 201, created.text
    device = created.json()
    assert device["area_ids"] == [ward_id]
    assert len(device["device_key"]) >= 40
    assert "endpoint" not in created.text
    assert push_service.base not in created.text
    assert (
        client.post(
            "/api/v1/push/devices", json={"subscription": elsewhere.subscription(), "area_ids": [other_id]}
        ).status_code
        == 201
    )
    headers = {"X-Device-Key": device["device_key"]}
    assert client.get("/api/v1/push/devices/current", headers=headers).json()["area_ids"] == [ward_id]

    alert_id = _alert(session, ward_id, "Trạm Long An")
    assert deliver_event(session, settings, "alerts.opened", {"alert_id": alert_id}) == 1
    session.commit()  # notify sends after the commit

    assert [path for path, _, _ in push_service.received] == ["/push/phone-1"]
    _, req_headers, payload = push_service.received[0]
    assert req_headers["content-encoding"] == "aes128gcm"
    public = client.get("/api/v1/push/public-key").json()["public_key"]
    assert req_headers["authorization"].startswith("vapid t=")
    assert f"k={public}" in req_headers["authorization"]
    message = phone.decrypt(payload)
    assert message["title"] == "[Theo dõi] Độ mặn"
    assert "Trạm Long An" in message["body"]
    assert message["alert_id"] == alert_id
    assert message["url"] == f"/#/alerts/{alert_id}"
    sub_id = session.scalar(select(PushSubscription.id).where(PushSubscription.endpoint == phone.endpoint))
    [row] = session.scalars(select(Delivery).where(Delivery.channel == "webpush")).all()
    assert (row.status, row.address, row.attempts) == ("sent", f"push:{sub_id}", 1)
    # The delivery row keeps the subscription's id, not its endpoint or keys.
    assert push_service.base not in json.dumps(row.message)
    # Audited without the endpoint.
    audits = session.scalars(select(AuditEntry).where(AuditEntry.target_type == "push_subscription")).all()
    assert len(audits) == 2
    assert all(push_service.base not in json.dumps(a.after) for a in audits)


def test_device_changes_and_deletes_its_areas(
    client: TestClient, sessions: sessionmaker[Session], push_service: PushService
) -> None:
    with sessions() as s:
        a = make_area(s, "Phường Long An", "27694")
        b = make_area(s, "Phường Tân An", "27695")
        s.commit()
        a_id, b_id = a.id, b.id
    browser = Browser(f"{push_service.base}/push/x")
    key = client.post(
        "/api/v1/push/devices", json={"subscription": browser.subscription(), "area_ids": [a_id]}
    ).json()["device_key"]
    headers = {"X-Device-Key": key}
    changed = client.put(
        "/api/v1/push/devices/current",
        json={"area_ids": [b_id, a_id], "min_severity": "warning", "locale": "en"},
        headers=headers,
    )
    assert changed.status_code == 200
    assert changed.json() == {
        "area_ids": sorted([a_id, b_id]),
        "min_severity": "warning",
        "locale": "en",
        "device_key": None,
    }
    # Bad input changes nothing: an unknown area, no area, a wrong key, no key.
    bad = client.put("/api/v1/push/devices/current", json={"area_ids": [a_id, 999999]}, headers=headers)
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "unknown_area"
    assert (
        client.put("/api/v1/push/devices/current", json={"area_ids": []}, headers=headers).status_code == 422
    )
    assert client.get("/api/v1/push/devices/current", headers={"X-Device-Key": "guess"}).status_code == 404
    assert client.get("/api/v1/push/devices/current").status_code == 401
    assert client.get("/api/v1/push/devices/current", headers=headers).json()["area_ids"] == sorted(
        [a_id, b_id]
    )
    # Registering the same endpoint again hands out a new key; the old one stops working.
    again = client.post(
        "/api/v1/push/devices", json={"subscription": browser.subscription(), "area_ids": [a_id]}
    ).json()
    assert client.get("/api/v1/push/devices/current", headers=headers).status_code == 404
    headers = {"X-Device-Key": again["device_key"]}
    assert client.delete("/api/v1/push/devices/current", headers=headers).status_code == 204
    assert client.get("/api/v1/push/devices/current", headers=headers).status_code == 404
    with sessions() as s:
        assert s.scalars(select(PushSubscription)).all() == []
        assert s.scalars(select(AlertSubscription)).all() == []


def test_registration_refuses_bad_subscriptions(client: TestClient, sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        area_id = make_area(s, "Phường Long An", "27694").id
        s.commit()
    good = Browser("https://push.example/abc").subscription()
    for sub, areas, code in (
        ({**good, "endpoint": "http://push.example/abc"}, [area_id], "push_endpoint_invalid"),
        (
            {"endpoint": good["endpoint"], "keys": {"p256dh": good["keys"]["p256dh"]}},
            [area_id],
            "validation_error",
        ),
        (good, [999999], "unknown_area"),
        (good, [str(area_id)], "validation_error"),
    ):
        answer = client.post("/api/v1/push/devices", json={"subscription": sub, "area_ids": areas})
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["code"] == code
    with sessions() as s:
        assert s.scalars(select(PushSubscription)).all() == []


def test_gone_subscription_is_removed_and_lineage_is_followed(
    client: TestClient,
    sessions: sessionmaker[Session],
    session: Session,
    settings: Settings,
    push_service: PushService,
) -> None:
    with sessions() as s:
        old = make_area(s, "Phường 1", "27691")
        old.valid_to = date(2025, 7, 1)
        new = make_area(s, "Phường Long An", "27694")
        s.add(AreaLineage(predecessor_id=old.id, successor_id=new.id, effective=date(2025, 7, 1)))
        s.commit()
        old_id, new_id = old.id, new.id
    # One phone follows the old (merged) ward, one follows today's; the second one's browser is gone.
    kept = Browser(f"{push_service.base}/push/kept")
    gone = Browser(f"{push_service.base}/push/gone")
    push_service.status["/push/gone"] = 410
    for browser, area in ((kept, old_id), (gone, new_id)):
        answer = client.post(
            "/api/v1/push/devices", json={"subscription": browser.subscription(), "area_ids": [area]}
        )
        assert answer.status_code == 201

    alert_id = _alert(session, new_id, "Trạm Long An")
    assert deliver_event(session, settings, "alerts.opened", {"alert_id": alert_id}) == 2
    session.commit()

    assert sorted(p for p, _, _ in push_service.received) == ["/push/gone", "/push/kept"]
    assert (
        kept.decrypt(next(b for p, _, b in push_service.received if p == "/push/kept"))["alert_id"]
        == alert_id
    )
    session.expire_all()
    rows = {r.status: r for r in session.scalars(select(Delivery).where(Delivery.channel == "webpush"))}
    assert set(rows) == {"sent", "failed"}
    assert "410" in (rows["failed"].last_error or "")
    assert push_service.base not in (rows["failed"].last_error or "")
    left = session.scalars(select(PushSubscription.endpoint)).all()
    assert left == [kept.endpoint]
    # The next alert goes to the phone that is still there, and nothing to the gone one.
    second = _alert(session, new_id, "Trạm Tân An")
    assert deliver_event(session, settings, "alerts.opened", {"alert_id": second}) == 1
    session.commit()
    assert [p for p, _, _ in push_service.received[2:]] == ["/push/kept"]
