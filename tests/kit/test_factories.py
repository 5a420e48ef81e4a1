"""The kit's factories build rows the API then serves, on both backends."""

from __future__ import annotations

from fastapi.testclient import TestClient

from cityops.identity.models import Role
from tests.kit.factories import Factory


def test_area_case_and_reporter(client: TestClient, factory: Factory) -> None:
    ward = factory.area("Phường Thử Nghiệm")
    citizen = factory.user(Role.CITIZEN)
    case = factory.case(area=ward, reporter=citizen)
    assert case.area_id == ward.id
    r = client.get("/api/v1/reports/mine", headers=factory.headers(citizen))
    assert r.status_code == 200
    assert [c["ref"] for c in r.json()["items"]] == [case.ref]
    r = client.get(f"/api/v1/areas/{ward.id}")
    assert r.status_code == 200
    assert r.json()["name"] == "Phường Thử Nghiệm"


def test_role_users_are_made_once(client: TestClient, factory: Factory) -> None:
    assert factory.headers("anonymous") == {}
    officer = factory.role_user("officer")
    assert factory.role_user("officer").id == officer.id
    assert officer.agency_ids == [factory.home_agency.id]
    r = client.get("/api/v1/auth/me", headers=factory.headers("officer"))
    assert r.status_code == 200
    assert r.json()["role"] == "officer"


def test_station_observations_and_alerts(client: TestClient, factory: Factory) -> None:
    ward = factory.area()
    ds = factory.station("salinity", area=ward, kind="salinity")
    assert factory.observations(ds, [1.0, 2.0, 3.0]) == 3
    rule = factory.alert_rule(code="kit-salinity")
    alert = factory.alert(rule=rule, areas=[ward])
    r = client.get(f"/api/v1/alerts?area={ward.id}")
    assert r.status_code == 200
    assert [a["id"] for a in r.json()] == [alert.id]
    r = client.get("/api/v1/environment/stations")
    assert r.status_code == 200
    assert [s["id"] for s in r.json()] == [ds.thing_id]
    key = factory.api_key()
    assert client.get("/api/v1/sensing/latest", headers={"X-API-Key": key}).status_code == 200
