"""Open311 GeoReport v2: services, definitions, POST (form-urlencoded, attributes, api_key), tokens,
GET requests with filters and paging, JSON and XML, errors as [{code, description}]."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cityops.reports.models import Case, CaseReporter
from tests.reports.conftest import A_POINT, World, make_open311_key

V2 = "/open311/v2"


def _form(key: str, **kw: Any) -> list[tuple[str, str]]:
    base = {
        "api_key": key,
        "service_code": "roads",
        "lat": str(A_POINT[0]),
        "long": str(A_POINT[1]),
        "description": "Ổ gà trên đường Hùng Vương",
        "first_name": "Lê",
        "last_name": "Văn Kín",
        "email": "kin@example.vn",
        "phone": "0911222333",
    }
    base.update({k: v for k, v in kw.items() if v is not None})
    items = [(k, v) for k, v in base.items() if v != ""]
    return items


def _post(client: TestClient, items: list[tuple[str, str]], fmt: str = "json") -> Any:
    return client.post(
        f"{V2}/requests.{fmt}",
        content=urlencode(items).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


def test_services_json_and_xml(world: World, client: TestClient) -> None:
    services = client.get(f"{V2}/services.json").json()
    codes = [s["service_code"] for s in services]
    assert "roads" in codes
    assert "other" in codes
    assert len(codes) == 15
    roads = next(s for s in services if s["service_code"] == "roads")
    assert roads["metadata"] is True
    assert roads["type"] == "realtime"
    xml = client.get(f"{V2}/services.xml")
    assert xml.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(xml.content)  # noqa: S314
    assert root.tag == "services"
    assert [s.findtext("service_code") for s in root.findall("service")] == codes
    assert root.find("service/metadata") is not None


def test_service_definition_with_attributes(world: World, client: TestClient) -> None:
    body = client.get(f"{V2}/services/roads.json").json()
    assert body["service_code"] == "roads"
    damage = body["attributes"][0]
    assert damage["code"] == "road_damage"
    assert damage["datatype"] == "singlevaluelist"
    assert damage["required"] is True
    assert damage["variable"] is True
    assert damage["order"] == 1
    assert {"key": "pothole", "name": "Ổ gà"} in damage["values"]  # one language per label (#14)
    env = client.get(f"{V2}/services/environment.json").json()
    assert [a["datatype"] for a in env["attributes"]] == ["singlevaluelist", "datetime"]
    root = ET.fromstring(client.get(f"{V2}/services/roads.xml").content)  # noqa: S314
    assert root.tag == "service_definition"
    assert root.findtext("attributes/attribute/code") == "road_damage"
    assert root.findtext("attributes/attribute/values/value/key") == "pothole"
    missing = client.get(f"{V2}/services/nope.json")
    assert missing.status_code == 404
    assert missing.json() == [{"code": 404, "description": "service_code nope not found"}]
    missing_xml = client.get(f"{V2}/services/nope.xml")
    err = ET.fromstring(missing_xml.content)  # noqa: S314
    assert missing_xml.status_code == 404
    assert err.tag == "errors"
    assert err.findtext("error/code") == "404"


def test_post_request_with_attributes_then_get_it(world: World, client: TestClient) -> None:
    key = make_open311_key(world.session)
    r = _post(client, [*_form(key), ("attribute[road_damage]", "crack"), ("attribute[size_m]", "2.5")])
    assert r.status_code == 201, r.text
    created = r.json()[0]
    ref, token = created["service_request_id"], created["token"]
    case = world.session.scalar(select(Case).where(Case.ref == ref))
    assert case is not None
    assert case.source == "open311"
    assert case.agency_id == world.transport.id
    assert case.answers == {"road_damage": "crack", "size_m": 2.5}
    reporter = world.session.scalar(select(CaseReporter).where(CaseReporter.case_id == case.id))
    assert reporter is not None
    assert reporter.name == "Lê Văn Kín"
    assert reporter.phone == "0911222333"
    assert case.consent is True
    assert "Open311" in case.consent_purpose
    # multi-value attribute
    r2 = _post(
        client,
        [
            *_form(key, service_code="waste"),
            ("attribute[waste_types][]", "household"),
            ("attribute[waste_types][]", "hazardous"),
        ],
    )
    assert r2.status_code == 201, r2.text
    waste = world.session.scalar(select(Case).where(Case.ref == r2.json()[0]["service_request_id"]))
    assert waste is not None
    assert waste.answers == {"waste_types": ["household", "hazardous"]}
    # token → id
    assert client.get(f"{V2}/tokens/{token}.json").json() == [{"service_request_id": ref, "token": token}]
    assert client.get(f"{V2}/tokens/nope.json").status_code == 404
    # one request, JSON and XML, no personal data
    one = client.get(f"{V2}/requests/{ref}.json")
    assert one.status_code == 200
    row = one.json()[0]
    assert row["service_request_id"] == ref
    assert row["status"] == "open"
    assert row["service_code"] == "roads"
    assert row["agency_responsible"] == "Sở Xây dựng"
    assert row["expected_datetime"]
    assert row["expected_datetime"].endswith("Z")
    assert row["lat"] == pytest.approx(A_POINT[0])
    assert row["long"] == pytest.approx(A_POINT[1])
    for secret in ("Kín", "0911222333", "kin@example.vn"):
        assert secret not in one.text
    xml = ET.fromstring(client.get(f"{V2}/requests/{ref}.xml").content)  # noqa: S314
    assert xml.tag == "service_requests"
    assert xml.findtext("request/service_request_id") == ref
    assert xml.findtext("request/status") == "open"
    assert client.get(f"{V2}/requests/PA-1999-999999.json").status_code == 404


def test_post_xml_answer(world: World, client: TestClient) -> None:
    key = make_open311_key(world.session)
    r = _post(client, [*_form(key, service_code="lighting")], fmt="xml")
    assert r.status_code == 201
    root = ET.fromstring(r.content)  # noqa: S314
    assert root.tag == "service_requests"
    assert root.findtext("request/service_request_id", "").startswith("PA-")
    assert root.findtext("request/token")


@pytest.mark.parametrize(
    ("change", "status", "needle"),
    [
        ({"api_key": ""}, 403, "api_key"),
        ({"api_key": "cok_wrong"}, 403, "api_key"),
        ({"service_code": ""}, 400, "service_code is required"),
        ({"service_code": "volcano"}, 400, "not found"),
        ({"lat": "", "long": ""}, 400, "address_string"),
        ({"lat": "north"}, 400, "lat must be a number"),
        ({"media_url": "ftp://x"}, 400, "media_url"),
        ({"description": "x" * 4001}, 400, "4000"),
    ],
)
def test_post_errors(
    world: World, client: TestClient, change: dict[str, str], status: int, needle: str
) -> None:
    key = make_open311_key(world.session)
    items = [
        *_form(key, service_code="lighting"),
    ]
    items = [(k, change.get(k, v)) for k, v in items if change.get(k, v) != ""]
    items += [(k, v) for k, v in change.items() if k not in dict(items) and v]
    r = _post(client, items)
    assert r.status_code == status, r.text
    body = r.json()
    assert isinstance(body, list)
    assert body[0]["code"] == status
    assert needle in body[0]["description"]
    assert world.session.scalar(select(func.count(Case.id))) == 0


def test_post_validation_errors_are_400_in_both_formats(world: World, client: TestClient) -> None:
    key = make_open311_key(world.session)
    r = _post(client, _form(key))  # roads needs attribute[road_damage]
    assert r.status_code == 400
    assert "road_damage" in r.json()[0]["description"]
    x = _post(client, _form(key), fmt="xml")
    assert x.status_code == 400
    assert ET.fromstring(x.content).findtext("error/code") == "400"  # noqa: S314
    json_body = client.post(f"{V2}/requests.json", json={"api_key": key})
    assert json_body.status_code == 400
    assert "form-urlencoded" in json_body.text


def test_get_requests_filters_and_paging(world: World, client: TestClient) -> None:
    key = make_open311_key(world.session)
    refs = []
    for code in ("lighting", "lighting", "waste", "trees"):
        r = _post(client, _form(key, service_code=code))
        assert r.status_code == 201, r.text
        refs.append(r.json()[0]["service_request_id"])
    everything = client.get(f"{V2}/requests.json")
    assert {x["service_request_id"] for x in everything.json()} == set(refs)
    assert everything.headers["X-Total-Count"] == "4"
    lighting = client.get(f"{V2}/requests.json?service_code=lighting,trees").json()
    assert {x["service_code"] for x in lighting} == {"lighting", "trees"}
    assert len(lighting) == 3
    by_id = client.get(f"{V2}/requests.json?service_request_id={refs[0]},{refs[2]}&service_code=trees").json()
    assert {x["service_request_id"] for x in by_id} == {refs[0], refs[2]}  # ids override other filters
    assert client.get(f"{V2}/requests.json?status=closed").json() == []
    assert len(client.get(f"{V2}/requests.json?status=open").json()) == 4
    page1 = client.get(f"{V2}/requests.json?page_size=3&page=1").json()
    page2 = client.get(f"{V2}/requests.json?page_size=3&page=2").json()
    assert len(page1) == 3
    assert len(page2) == 1
    assert {x["service_request_id"] for x in page1 + page2} == set(refs)
    assert (
        client.get(f"{V2}/requests.json?start_date=2000-01-01T00:00:00Z&end_date=2000-01-31T00:00:00Z").json()
        == []
    )
    bad_range = client.get(
        f"{V2}/requests.json?start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z"
    )
    assert bad_range.status_code == 400
    assert "90 days" in bad_range.json()[0]["description"]
    for url in (
        "requests.json?status=pending",
        "requests.json?start_date=yesterday",
        "requests.json?page=0",
        "requests.json?page_size=abc",
    ):
        assert client.get(f"{V2}/{url}").status_code == 400, url
    root = ET.fromstring(client.get(f"{V2}/requests.xml?service_code=waste").content)  # noqa: S314
    assert [r.findtext("service_code") for r in root.findall("request")] == ["waste"]
    assert client.get(f"{V2}/requests.yaml").status_code == 404
