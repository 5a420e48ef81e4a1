"""The IOC wall's read models: stations scoped to the drilled-into area (following lineage) with the health
rule of ``sensing.health`` and the sectors' thresholds; alert acknowledgement by operators only."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from cityops.alerts.models import AlertState
from cityops.areas.models import AreaLineage
from cityops.audit.models import AuditEntry
from cityops.clock import utcnow
from tests.kit.factories import Factory


def test_stations_follow_the_drill_down_scope_and_carry_health_and_thresholds(
    client: TestClient, factory: Factory
) -> None:
    ward = factory.area("Phường Một")
    other = factory.area("Phường Hai")
    here = factory.station("salinity", name="Trạm trong phường", area=ward)
    factory.station("salinity", name="Trạm phường khác", area=other)
    factory.observations(here, [0.5, 1.5], start=utcnow() - timedelta(minutes=6))

    everywhere = {s["name"] for s in client.get("/api/v1/ioc/stations").json()}
    assert {"Trạm trong phường", "Trạm phường khác"} <= everywhere

    scoped = client.get("/api/v1/ioc/stations", params={"area_id": ward.id})
    assert scoped.status_code == 200
    rows = scoped.json()
    assert [s["name"] for s in rows] == ["Trạm trong phường"]
    station = rows[0]
    assert station["health"] == "online"  # last reading a minute old, expected every five
    stream = station["datastreams"][0]
    assert stream["health"] == "online"
    assert stream["value"] == 1.5
    assert stream["level"] == "warn"  # the environment panels' salinity scale: warn at 1, bad at 4 g/L
    assert (stream["warn_at"], stream["bad_at"]) == (1.0, 4.0)

    silent = client.get("/api/v1/ioc/stations", params={"area_id": other.id}).json()
    assert [s["health"] for s in silent] == ["offline"]  # never reported

    # an abolished ward drills into its successor's stations
    old = factory.area("Phường Cũ", valid_to=utcnow().date() - timedelta(days=30))
    with factory.sessions() as s:
        s.add(AreaLineage(predecessor_id=old.id, successor_id=ward.id, effective=old.valid_to))
        s.commit()
    via_old = client.get("/api/v1/ioc/stations", params={"area_id": old.id}).json()
    assert [st["name"] for st in via_old] == ["Trạm trong phường"]

    missing = client.get("/api/v1/ioc/stations", params={"area_id": 999_999})
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "unknown_area"
    assert client.get("/api/v1/ioc/stations", params={"area_id": "x"}).status_code == 422


def test_an_operator_acknowledges_an_alert_once_and_it_is_audited(
    client: TestClient, factory: Factory
) -> None:
    ward = factory.area()
    alert = factory.alert(areas=[ward])
    anonymous = client.post(f"/api/v1/alerts/{alert.id}/acknowledge")
    assert anonymous.status_code == 401
    officer = client.post(f"/api/v1/alerts/{alert.id}/acknowledge", headers=factory.headers("officer"))
    assert officer.status_code == 403
    ok = client.post(f"/api/v1/alerts/{alert.id}/acknowledge", headers=factory.headers("operator"))
    assert ok.status_code == 200
    assert ok.json()["state"] == AlertState.ACKNOWLEDGED.value
    assert ok.json()["acknowledged_by"] == factory.role_user("operator").id
    again = client.post(f"/api/v1/alerts/{alert.id}/acknowledge", headers=factory.headers("operator"))
    assert again.status_code == 409
    with factory.sessions() as s:
        actions = s.scalars(
            select(AuditEntry.action).where(
                AuditEntry.target_id == str(alert.id), AuditEntry.target_type == "alert"
            )
        ).all()
    assert list(actions) == ["alert.acknowledge"]
    scoped = client.get("/api/v1/alerts", params={"area": ward.id, "state": "acknowledged"}).json()
    assert [a["id"] for a in scoped] == [alert.id]


def test_latest_value_panels_follow_the_drill_down_scope(client: TestClient, factory: Factory) -> None:
    ward = factory.area("Phường Panel")
    other = factory.area("Phường Panel Khác")
    here = factory.station("salinity", name="Mặn trong", area=ward)
    there = factory.station("salinity", name="Mặn ngoài", area=other)
    factory.observations(here, [0.7], start=utcnow() - timedelta(minutes=1))
    factory.observations(there, [3.1], start=utcnow() - timedelta(minutes=1))

    def streams(**params: int) -> set[int]:
        body = client.get("/api/v1/dashboard/panels", params=params)
        assert body.status_code == 200
        panel = next(
            p for p in body.json() if p["kind"] == "latest_values" and p["code"] == "environment.latest"
        )
        return {d["id"] for d in panel["data"]}

    assert {here.id, there.id} <= streams()
    assert streams(area_id=ward.id) == {here.id}
    assert streams(area_id=other.id) == {there.id}
