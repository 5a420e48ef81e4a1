"""NGSI-LD entities over the store: the Smart Data Models view of places and stations, generic entities'
CRUD through the policy and audit, query (type, id, idPattern, attrs, q, georel, count), ProblemDetails."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cityops.audit.models import AuditEntry
from cityops.ngsild.models import NgsiEntity
from cityops.places.models import Place
from tests.kit.factories import Factory

E = "/ngsi-ld/v1/entities"
JSON = {"Content-Type": "application/json"}
PROBLEM = "application/problem+json"


def _problem(resp: Any, status: int, kind: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = resp.json()
    assert body["type"] == f"https://uri.etsi.org/ngsi-ld/errors/{kind}"
    assert body["status"] == status
    return body


def _vehicle(n: int, speed: float, lon: float = 106.41, lat: float = 10.535) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:Vehicle:test-{n}",
        "type": "Vehicle",
        "speed": {"type": "Property", "value": speed, "unitCode": "KMH"},
        "brand": {"type": "Property", "value": f"Hãng {n}"},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}},
    }


def _audits(sessions: sessionmaker[Session]) -> int:
    with sessions() as s:
        return int(
            s.scalar(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.target_type == "ngsild_entity")
            )
            or 0
        )


def test_station_is_a_water_quality_entity_with_latest_values(
    client: TestClient, factory: Factory, sessions: sessionmaker[Session]
) -> None:
    ds = factory.station("salinity")
    factory.observations(ds, [1.5, 2.5, 4.25])
    place = factory.place("station", name="Trạm Tân An", attributes={"kind": "water"})
    with sessions() as s:
        row = s.get(Place, place.id)
        assert row is not None
        row.thing_id = ds.thing_id
        s.commit()
    eid = f"urn:ngsi-ld:WaterQualityObserved:cityops:place:{place.id}"
    got = client.get(f"{E}/{eid}")
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["type"] == "WaterQualityObserved"
    assert body["salinity"]["value"] == 4.25
    assert body["salinity"]["observedAt"].endswith("Z")
    assert body["name"]["value"] == "Trạm Tân An"
    assert body["location"]["type"] == "GeoProperty"
    assert "createdAt" not in body
    assert "/ngsi-ld/contexts/ngsi-ld-core-context-v1.8.jsonld" in got.headers["link"]
    kv = client.get(f"{E}/{eid}?options=keyValues").json()
    assert kv["salinity"] == 4.25
    # the same place under another type is not this entity
    _problem(
        client.get(f"{E}/urn:ngsi-ld:AirQualityObserved:cityops:place:{place.id}"), 404, "ResourceNotFound"
    )
    found = client.get(E, params={"type": "WaterQualityObserved", "q": "salinity>4", "count": "true"})
    assert found.status_code == 200
    assert [e["id"] for e in found.json()] == [eid]
    assert found.headers["NGSILD-Results-Count"] == "1"
    assert client.get(E, params={"type": "WaterQualityObserved", "q": "salinity>5"}).json() == []


def test_other_places_are_points_of_interest(client: TestClient, factory: Factory) -> None:
    school = factory.place("hospital", name="Bệnh viện Long An", attributes={"beds": 300})
    got = client.get(E, params={"type": "PointOfInterest", "q": 'category=="hospital"'})
    assert got.status_code == 200
    ids = [e["id"] for e in got.json()]
    assert f"urn:ngsi-ld:PointOfInterest:cityops:place:{school.id}" in ids
    # places are written through their own API
    _problem(
        client.delete(
            f"{E}/urn:ngsi-ld:PointOfInterest:cityops:place:{school.id}", headers=factory.headers("admin")
        ),
        422,
        "OperationNotSupported",
    )


def test_generic_entity_crud_is_audited(
    client: TestClient, factory: Factory, sessions: sessionmaker[Session]
) -> None:
    op = factory.headers("operator")
    created = client.post(E, json=_vehicle(1, 40), headers=op)
    assert created.status_code == 201, created.text
    eid = "urn:ngsi-ld:Vehicle:test-1"
    assert created.headers["location"] == f"{E}/{eid}"
    _problem(client.post(E, json=_vehicle(1, 40), headers=op), 409, "AlreadyExists")
    assert client.get(f"{E}/{eid}").json()["speed"]["value"] == 40
    # append (overwrite), update (existing only: 207 names the rest), merge, delete attribute
    assert (
        client.post(
            f"{E}/{eid}/attrs", json={"color": {"type": "Property", "value": "đỏ"}}, headers=op
        ).status_code
        == 204
    )
    partial = client.patch(
        f"{E}/{eid}/attrs", json={"speed": {"type": "Property", "value": 55}, "nope": 1}, headers=op
    )
    assert partial.status_code == 207
    assert partial.json()["updated"] == ["speed"]
    assert (
        client.patch(f"{E}/{eid}", json={"brand": "urn:ngsi-ld:null", "speed": 60}, headers=op).status_code
        == 204
    )
    now = client.get(f"{E}/{eid}?options=keyValues").json()
    assert now["speed"] == 60
    assert now["color"] == "đỏ"
    assert "brand" not in now
    assert client.delete(f"{E}/{eid}/attrs/color", headers=op).status_code == 204
    _problem(client.delete(f"{E}/{eid}/attrs/color", headers=op), 404, "ResourceNotFound")
    replaced = client.put(
        f"{E}/{eid}", json={"type": "Vehicle", "speed": {"type": "Property", "value": 1}}, headers=op
    )
    assert replaced.status_code == 204
    assert set(client.get(f"{E}/{eid}").json()) == {"id", "type", "speed"}
    assert _audits(sessions) == 6
    assert client.delete(f"{E}/{eid}", headers=op).status_code == 204
    _problem(client.get(f"{E}/{eid}"), 404, "ResourceNotFound")
    assert _audits(sessions) == 7


def test_writes_go_through_the_policy(
    client: TestClient, factory: Factory, sessions: sessionmaker[Session]
) -> None:
    _problem(client.post(E, json=_vehicle(2, 1)), 401, "NotAuthorized")
    _problem(client.post(E, json=_vehicle(2, 1), headers=factory.headers("citizen")), 403, "NotAuthorized")
    _problem(
        client.post(E, json=_vehicle(2, 1), headers={"X-API-Key": factory.api_key(["read"])}),
        403,
        "NotAuthorized",
    )
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(NgsiEntity)) == 0
    assert (
        client.post(E, json=_vehicle(2, 1), headers={"X-API-Key": factory.api_key(["ingest"])}).status_code
        == 201
    )


def test_query_filters_and_pages(client: TestClient, factory: Factory) -> None:
    op = factory.headers("admin")
    for n, (speed, lon) in enumerate([(10, 106.41), (20, 106.42), (30, 106.60), (40, 106.411)], start=10):
        assert client.post(E, json=_vehicle(n, speed, lon=lon), headers=op).status_code == 201

    def ids(**params: str) -> list[str]:
        resp = client.get(E, params=params)
        assert resp.status_code == 200, resp.text
        return [e["id"][-2:] for e in resp.json()]

    assert ids(type="Vehicle") == ["10", "11", "12", "13"]
    assert ids(type="Vehicle", q="speed>=20;speed<40") == ["11", "12"]
    assert ids(type="Vehicle", q="speed==10|speed==40") == ["10", "13"]
    assert ids(type="Vehicle", q="speed==15..35") == ["11", "12"]
    assert ids(type="Vehicle", q='brand=="Hãng 12"') == ["12"]
    assert ids(idPattern="test-1[02]$") == ["10", "12"]
    assert ids(id="urn:ngsi-ld:Vehicle:test-11,urn:ngsi-ld:Vehicle:test-13") == ["11", "13"]
    near = {
        "type": "Vehicle",
        "georel": "near;maxDistance==1500",
        "geometry": "Point",
        "coordinates": "[106.41,10.535]",
    }
    assert ids(**near) == ["10", "11", "13"]
    box = "[[[106.405,10.5],[106.415,10.5],[106.415,10.6],[106.405,10.6],[106.405,10.5]]]"
    assert ids(type="Vehicle", georel="within", geometry="Polygon", coordinates=box) == ["10", "13"]
    page = client.get(E, params={"type": "Vehicle", "limit": "2", "offset": "1", "count": "true"})
    assert [e["id"][-2:] for e in page.json()] == ["11", "12"]
    assert page.headers["NGSILD-Results-Count"] == "4"
    only = client.get(E, params={"type": "Vehicle", "attrs": "speed", "limit": "1"}).json()[0]
    assert set(only) == {"id", "type", "speed"}
    concise = client.get(E, params={"type": "Vehicle", "options": "concise", "limit": "1"}).json()[0]
    assert concise["brand"] == "Hãng 10"
    assert concise["speed"] == {"value": 10, "unitCode": "KMH"}


def test_bad_requests_are_problem_details(
    client: TestClient, factory: Factory, sessions: sessionmaker[Session]
) -> None:
    op = factory.headers("operator")
    _problem(client.get(E), 400, "BadRequestData")  # no filter at all
    _problem(client.get(E, params={"type": "Vehicle", "q": "speed>>"}), 400, "BadRequestData")
    _problem(
        client.get(
            E, params={"type": "Vehicle", "georel": "near", "geometry": "Point", "coordinates": "[1,2]"}
        ),
        400,
        "BadRequestData",
    )
    _problem(client.get(E, params={"type": "Vehicle", "limit": "5000"}), 400, "BadRequestData")
    _problem(client.post(E, json={"type": "Vehicle"}, headers=op), 400, "BadRequestData")
    _problem(
        client.post(
            E, json={"id": "urn:ngsi-ld:V:1", "type": "V", "x": {"type": "Nope", "value": 1}}, headers=op
        ),
        400,
        "BadRequestData",
    )
    bad_geo = {
        "id": "urn:ngsi-ld:V:1",
        "type": "V",
        "location": {"type": "GeoProperty", "value": {"type": "Point"}},
    }
    _problem(client.post(E, json=bad_geo, headers=op), 400, "BadRequestData")
    _problem(client.post(E, content=b"{", headers={**op, **JSON}), 400, "InvalidRequest")
    _problem(
        client.post(E, content=b"{}", headers={**op, "Content-Type": "text/plain"}),
        415,
        "UnsupportedMediaType",
    )
    _problem(client.get(E, params={"type": "V"}, headers={"Accept": "text/html"}), 406, "NotAcceptable")
    # ld+json needs @context in the body; json must not carry one
    ld = {**_vehicle(5, 1), "@context": "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"}
    _problem(
        client.post(
            E,
            content=str.encode(__import__("json").dumps(_vehicle(5, 1))),
            headers={**op, "Content-Type": "application/ld+json"},
        ),
        400,
        "BadRequestData",
    )
    _problem(client.post(E, json=ld, headers=op), 400, "BadRequestData")
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(NgsiEntity)) == 0
    assert _audits(sessions) == 0
    ok = client.post(
        E,
        content=str.encode(__import__("json").dumps(ld)),
        headers={**op, "Content-Type": "application/ld+json"},
    )
    assert ok.status_code == 201, ok.text
    as_ld = client.get(f"{E}/urn:ngsi-ld:Vehicle:test-5", headers={"Accept": "application/ld+json"})
    assert as_ld.headers["content-type"].startswith("application/ld+json")
    assert as_ld.json()["@context"].endswith("ngsi-ld-core-context-v1.8.jsonld")


def test_unreachable_user_context_is_503_naming_it(client: TestClient, factory: Factory) -> None:
    url = "http://127.0.0.1:9/nowhere-context.jsonld"  # the discard port: nothing listens
    link = f'<{url}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
    body = _problem(
        client.get(E, params={"type": "Vehicle"}, headers={"Link": link}), 503, "LdContextNotAvailable"
    )
    assert body["url"] == url
    assert url in body["detail"]


def test_core_contexts_are_served_locally(client: TestClient) -> None:
    for v in ("1.6", "1.8", "1.9"):
        got = client.get(f"/ngsi-ld/contexts/ngsi-ld-core-context-v{v}.jsonld")
        assert got.status_code == 200
        assert got.json()["@context"]["ngsi-ld"] == "https://uri.etsi.org/ngsi-ld/"
    _problem(client.get("/ngsi-ld/contexts/ngsi-ld-core-context-v0.1.jsonld"), 404, "ResourceNotFound")


def test_alerts_are_alert_entities(client: TestClient, factory: Factory) -> None:
    from cityops.alerts.models import AlertState

    open_alert = factory.alert()
    closed = factory.alert(state=AlertState.CLOSED)
    got = client.get(E, params={"type": "Alert", "options": "keyValues"})
    assert got.status_code == 200
    assert [e["id"] for e in got.json()] == [f"urn:ngsi-ld:Alert:cityops:alert:{open_alert.id}"]
    alert = got.json()[0]
    assert alert["severity"] == "medium"
    assert alert["description"] == {"vi": "Độ mặn vượt ngưỡng", "en": "Salinity above threshold"}
    one = client.get(f"{E}/urn:ngsi-ld:Alert:cityops:alert:{closed.id}")
    assert one.status_code == 200
    assert one.json()["alertStatus"]["value"] == "closed"
    _problem(
        client.delete(f"{E}/urn:ngsi-ld:Alert:cityops:alert:{closed.id}", headers=factory.headers("admin")),
        422,
        "OperationNotSupported",
    )
    _problem(client.get(f"{E}/urn:ngsi-ld:Alert:cityops:alert:999999"), 404, "ResourceNotFound")
