"""Alert lifecycle and rule CRUD over HTTP, with denials (both backends)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cityops.alerts.models import Alert, Rule
from cityops.alerts.service import process_observations
from cityops.audit.models import AuditEntry
from cityops.identity.models import Role
from tests.alerts.support import make_area, make_station, make_user, salinity_rule

T0 = datetime(2026, 3, 10, 0, 0, tzinfo=UTC)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def setup_alert(sessions: sessionmaker[Session]) -> dict[str, object]:
    with sessions() as s:
        area = make_area(s, "Phường Long An", "27694")
        ds = make_station(s, "Trạm Tân An", "salinity", area_ids=[area.id])
        salinity_rule(s)
        pts = [(T0 + timedelta(minutes=10 * i), 5.0) for i in range(5)]
        changes = process_observations(s, ds.id, pts)
        _, operator = make_user(s, "vanhanh", Role.OPERATOR)
        _, citizen = make_user(s, "dan", Role.CITIZEN)
        _, admin = make_user(s, "quantri", Role.ADMIN)
        s.commit()
        return {
            "alert_id": changes[0].alert_id,
            "area_id": area.id,
            "ds_id": ds.id,
            "operator": operator,
            "citizen": citizen,
            "admin": admin,
        }


def test_list_and_filter_alerts(client: TestClient, sessions: sessionmaker[Session]) -> None:
    ctx = setup_alert(sessions)
    body = client.get("/api/v1/alerts").json()
    assert [a["id"] for a in body] == [ctx["alert_id"]]
    assert body[0]["severity"] == "warning"
    assert body[0]["state"] == "open"
    assert client.get("/api/v1/alerts", params={"state": "closed"}).json() == []
    assert client.get("/api/v1/alerts", params={"severity": "watch"}).json() == []
    assert len(client.get("/api/v1/alerts", params={"area": ctx["area_id"]}).json()) == 1
    assert client.get("/api/v1/alerts", params={"area": 999999}).json() == []
    bad = client.get("/api/v1/alerts", params={"state": "burning"})
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "validation_error"
    assert client.get("/api/v1/alerts/999999").status_code == 404


def test_alerts_are_paged(client: TestClient, sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        for n in range(3):  # three stations, one alert each, opened 10 minutes apart
            ds = make_station(s, f"Trạm {n}", "salinity")
            if n == 0:
                salinity_rule(s)
            start = T0 + timedelta(minutes=10 * n)
            process_observations(s, ds.id, [(start + timedelta(minutes=10 * i), 5.0) for i in range(5)])
        s.commit()
    newest_first = [a["id"] for a in client.get("/api/v1/alerts").json()]
    assert len(newest_first) == 3
    assert [a["id"] for a in client.get("/api/v1/alerts", params={"limit": 2}).json()] == newest_first[:2]
    page = client.get("/api/v1/alerts", params={"limit": 2, "offset": 2}).json()
    assert [a["id"] for a in page] == newest_first[2:]
    for params in ({"limit": 0}, {"limit": 501}, {"offset": -1}, {"limit": "many"}):
        bad = client.get("/api/v1/alerts", params=params)
        assert bad.status_code == 422, params
        assert bad.json()["error"]["code"] == "validation_error"


def test_acknowledge_close_lifecycle_with_denials(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    ctx = setup_alert(sessions)
    aid = ctx["alert_id"]
    # Anonymous: 401; citizen: 403; nothing changes.
    assert client.post(f"/api/v1/alerts/{aid}/acknowledge").status_code == 401
    denied = client.post(f"/api/v1/alerts/{aid}/acknowledge", headers=auth(str(ctx["citizen"])))
    assert denied.status_code == 403
    assert client.post(f"/api/v1/alerts/{aid}/close", headers=auth(str(ctx["citizen"]))).status_code == 403
    assert client.get(f"/api/v1/alerts/{aid}").json()["state"] == "open"

    op = auth(str(ctx["operator"]))
    ack = client.post(f"/api/v1/alerts/{aid}/acknowledge", headers=op)
    assert ack.status_code == 200, ack.text
    assert ack.json()["state"] == "acknowledged"
    assert ack.json()["acknowledged_by"] is not None
    again = client.post(f"/api/v1/alerts/{aid}/acknowledge", headers=op)
    assert again.status_code == 409

    closed = client.post(f"/api/v1/alerts/{aid}/close", headers=op, json={"note": "Đã kiểm tra"})
    assert closed.status_code == 200, closed.text
    assert closed.json()["state"] == "closed"
    assert closed.json()["close_reason"] == "manual"
    assert client.post(f"/api/v1/alerts/{aid}/close", headers=op).status_code == 409
    assert client.post("/api/v1/alerts/999999/close", headers=op).status_code == 404
    bad = client.post(f"/api/v1/alerts/{aid}/close", headers=op, json={"note": 5})
    assert bad.status_code == 422

    with sessions() as s:
        actions = s.scalars(
            select(AuditEntry.action).where(AuditEntry.target_id == str(aid)).order_by(AuditEntry.id)
        ).all()
        assert actions == ["alert.open", "alert.acknowledge", "alert.close"]
        alert = s.get(Alert, aid)
        assert alert is not None
        assert alert.details["close_note"] == "Đã kiểm tra"


def test_rules_crud_is_for_admins(client: TestClient, sessions: sessionmaker[Session]) -> None:
    ctx = setup_alert(sessions)
    admin, op, citizen = (auth(str(ctx[k])) for k in ("admin", "operator", "citizen"))
    new = {
        "code": "pm25-watch",
        "name_vi": "PM2.5 cao",
        "name_en": "High PM2.5",
        "kind": "threshold",
        "property_code": "pm25",
        "parameters": {"levels": [{"severity": "watch", "value": 50, "clear": 45}], "min_duration_s": 3600},
    }
    assert client.post("/api/v1/alert-rules", json=new).status_code == 401
    assert client.post("/api/v1/alert-rules", json=new, headers=op).status_code == 403
    assert client.get("/api/v1/alert-rules", headers=citizen).status_code == 403
    created = client.post("/api/v1/alert-rules", json=new, headers=admin)
    assert created.status_code == 201, created.text
    rid = created.json()["id"]
    assert created.headers["Location"] == f"/api/v1/alert-rules/{rid}"
    assert client.post("/api/v1/alert-rules", json=new, headers=admin).status_code == 409
    # The operator reads rules.
    assert rid in [r["id"] for r in client.get("/api/v1/alert-rules", headers=op).json()]

    # Bad input: both targets, bad parameters, a string where a number is due, unknown field.
    for body in (
        {**new, "code": None, "datastream_id": ctx["ds_id"]},
        {**new, "code": None, "parameters": {"levels": [{"severity": "watch", "value": 1, "clear": 9}]}},
        {**new, "code": None, "parameters": {"levels": [{"severity": "watch", "value": "50"}]}},
        {**new, "code": None, "enabled": "yes"},
        {**new, "code": None, "colour": "red"},
    ):
        resp = client.post("/api/v1/alert-rules", json=body, headers=admin)
        assert resp.status_code == 422, body

    patched = client.patch(f"/api/v1/alert-rules/{rid}", json={"enabled": False}, headers=admin)
    assert patched.status_code == 200
    assert patched.json()["enabled"] is False
    assert client.patch(f"/api/v1/alert-rules/{rid}", json={"enabled": True}, headers=op).status_code == 403
    bad = client.patch(f"/api/v1/alert-rules/{rid}", json={"parameters": {"levels": []}}, headers=admin)
    assert bad.status_code == 422
    assert client.delete(f"/api/v1/alert-rules/{rid}", headers=op).status_code == 403
    assert client.delete(f"/api/v1/alert-rules/{rid}", headers=admin).status_code == 204
    assert client.get(f"/api/v1/alert-rules/{rid}", headers=admin).status_code == 404
    with sessions() as s:
        assert s.scalars(select(Rule.id).where(Rule.id == rid)).first() is None
        actions = s.scalars(
            select(AuditEntry.action).where(AuditEntry.target_type == "alert_rule").order_by(AuditEntry.id)
        ).all()
        assert actions == ["alert_rule.create", "alert_rule.update", "alert_rule.delete"]
