"""Alerts reach the subscribers of their areas through cityops.notify (both backends)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cityops.alerts.delivery import deliver_event, subscribers
from cityops.alerts.models import AlertSubscription, Severity
from cityops.alerts.service import process_observations
from cityops.identity.models import Role
from cityops.notify.models import Delivery
from cityops.settings import Settings
from tests.alerts.support import make_area, make_station, make_user, salinity_rule

T0 = datetime(2026, 3, 10, tzinfo=UTC)


def series(*values: float, start: datetime = T0) -> list[tuple[datetime, float]]:
    return [(start + timedelta(minutes=10 * i), v) for i, v in enumerate(values)]


def test_subscribers_of_the_areas_get_the_alert_once(session: Session, settings: Settings) -> None:
    area = make_area(session, "Xã Cần Giuộc", "27841")
    elsewhere = make_area(session, "Xã Đức Hòa", "27700")
    farmer, _ = make_user(session, "nongdan", Role.CITIZEN)
    farmer.phone = "+84901234567"
    session.add_all(
        [
            AlertSubscription(area_id=area.id, user_id=farmer.id, min_severity=Severity.WATCH),
            AlertSubscription(area_id=area.id, phone="+84907654321", min_severity=Severity.CRITICAL),
            AlertSubscription(area_id=elsewhere.id, email="a@example.vn", min_severity=Severity.INFO),
            AlertSubscription(area_id=area.id, email="off@example.vn", active=False),
        ]
    )
    ds = make_station(session, "Trạm Cần Giuộc", "salinity", area_ids=[area.id])
    salinity_rule(session)
    changes = process_observations(session, ds.id, series(2.0, 2.0, 2.0, 2.0))
    alert_id = changes[0].alert_id
    assert [s.user_id for s in subscribers(session, [area.id], Severity.WATCH)] == [farmer.id]
    assert len(subscribers(session, [area.id], Severity.CRITICAL)) == 2

    assert deliver_event(session, settings, "alerts.opened", {"alert_id": alert_id}) == 1
    # A redelivered event sends nothing again; an unknown alert or a closing event sends nothing.
    assert deliver_event(session, settings, "alerts.opened", {"alert_id": alert_id}) == 0
    assert deliver_event(session, settings, "alerts.opened", {"alert_id": 999999}) == 0
    assert deliver_event(session, settings, "alerts.closed", {"alert_id": alert_id}) == 0
    session.commit()
    rows = session.scalars(select(Delivery).where(Delivery.category == "alert")).all()
    assert rows
    assert {r.user_id for r in rows} == {farmer.id}
    message = rows[0].message
    assert message["subject_vi"] == "[Theo dõi] Độ mặn"
    assert "Trạm Cần Giuộc" in message["body_vi"]
    assert message["data"]["alert_id"] == alert_id


def _setup(sessions: sessionmaker[Session]) -> dict[str, object]:
    with sessions() as s:
        area = make_area(s, "Phường Long An", "27694")
        _, citizen = make_user(s, "dan", Role.CITIZEN)
        _, other = make_user(s, "dan2", Role.CITIZEN)
        _, operator = make_user(s, "vanhanh", Role.OPERATOR)
        s.commit()
        return {"area": area.id, "citizen": citizen, "other": other, "operator": operator}


def auth(token: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_subscription_api(client: TestClient, sessions: sessionmaker[Session]) -> None:
    ctx = _setup(sessions)
    body = {"area_id": ctx["area"], "min_severity": "warning"}
    assert client.post("/api/v1/alert-subscriptions", json=body).status_code == 401
    created = client.post("/api/v1/alert-subscriptions", json=body, headers=auth(ctx["citizen"]))
    assert created.status_code == 201, created.text
    sub = created.json()
    assert sub["min_severity"] == "warning"
    assert sub["user_id"] is not None
    # Bad input: unknown area, unknown severity, a string id; a citizen cannot add someone's phone.
    for bad in (
        {"area_id": 999999},
        {"area_id": ctx["area"], "min_severity": "loud"},
        {"area_id": str(ctx["area"])},
    ):
        assert (
            client.post("/api/v1/alert-subscriptions", json=bad, headers=auth(ctx["citizen"])).status_code
            == 422
        )
    phone = {"area_id": ctx["area"], "phone": "+84901234567"}
    assert (
        client.post("/api/v1/alert-subscriptions", json=phone, headers=auth(ctx["citizen"])).status_code
        == 403
    )
    assert (
        client.post("/api/v1/alert-subscriptions", json=phone, headers=auth(ctx["operator"])).status_code
        == 201
    )

    mine = client.get("/api/v1/alert-subscriptions", headers=auth(ctx["citizen"])).json()
    assert [s["id"] for s in mine] == [sub["id"]]
    assert client.get("/api/v1/alert-subscriptions", headers=auth(ctx["other"])).json() == []
    assert client.get("/api/v1/alert-subscriptions?all=true", headers=auth(ctx["citizen"])).status_code == 403
    assert len(client.get("/api/v1/alert-subscriptions?all=true", headers=auth(ctx["operator"])).json()) == 2
    # Someone else's subscription is not found; the owner deletes theirs.
    assert (
        client.delete(f"/api/v1/alert-subscriptions/{sub['id']}", headers=auth(ctx["other"])).status_code
        == 404
    )
    assert (
        client.delete(f"/api/v1/alert-subscriptions/{sub['id']}", headers=auth(ctx["citizen"])).status_code
        == 204
    )
    assert client.get("/api/v1/alert-subscriptions", headers=auth(ctx["citizen"])).json() == []
