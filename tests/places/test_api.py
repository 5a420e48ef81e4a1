"""The places API on both backends: CRUD with exact codes, validation, visibility, filters, formats, audit."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.audit.models import AuditEntry
from cityops.events.models import OutboxEvent
from cityops.places.models import Place, PlaceStatusHistory
from tests.fixtures_areas import LoadedAreas
from tests.kit.queries import get_counted
from tests.places.conftest import count, gate_body

MakePlace = Callable[..., dict[str, Any]]


def _error(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()["error"]
    assert set(body) >= {"code", "message"}
    return body


def _place_audit(session: Session) -> list[str]:
    stmt = select(AuditEntry.action).where(AuditEntry.target_type == "place").order_by(AuditEntry.id)
    return list(session.scalars(stmt))


def _fields(r: Any) -> dict[str, str]:
    return {d["field"]: d["msg"] for d in _error(r, 422)["details"]}


# --- create / read / update / delete ------------------------------------------------------------------


def test_crud_with_exact_codes(
    client: TestClient, operator_headers: dict[str, str], session: Session, loaded_areas: LoadedAreas
) -> None:
    r = client.post("/api/v1/places", json=gate_body(), headers=operator_headers)
    assert r.status_code == 201, r.text
    place = r.json()
    assert r.headers["location"] == f"/api/v1/places/{place['id']}"
    assert place["area"]["id"] == loaded_areas.long_an_ward_id  # 10.535 N, 106.41 E lies in phường Long An
    assert place["status"] == "open"  # the type's default
    assert place["attributes"]["operator_phone"] == "+84912345678"  # normalised, and staff see it
    assert place["lat"] == 10.535
    assert place["bbox"] == [106.41, 10.535, 106.41, 10.535]

    r = client.get(f"/api/v1/places/{place['id']}")
    assert r.status_code == 200
    assert r.json()["name"] == "Cống Bảo Định"

    r = client.patch(
        f"/api/v1/places/{place['id']}",
        json={
            "name": "Cống Bảo Định 2",
            "attributes": {"doors": 3, "width_m": None},
            "valid_from": "2020-01-01",
        },
        headers=operator_headers,
    )
    assert r.status_code == 200, r.text
    changed = r.json()
    assert changed["name"] == "Cống Bảo Định 2"
    assert changed["attributes"] == {
        "waterway": "Kênh Bảo Định",
        "doors": 3,
        "operator_phone": "+84912345678",
    }
    assert changed["valid_from"] == "2020-01-01"

    r = client.delete(f"/api/v1/places/{place['id']}", headers=operator_headers)
    assert r.status_code == 204
    assert client.get(f"/api/v1/places/{place['id']}").status_code == 404
    assert client.delete(f"/api/v1/places/{place['id']}", headers=operator_headers).status_code == 404
    assert _place_audit(session) == ["place.create", "place.update", "place.delete"]
    subjects = list(
        session.scalars(
            select(OutboxEvent.subject).where(OutboxEvent.subject.like("places.%")).order_by(OutboxEvent.id)
        )
    )
    assert subjects == ["places.created", "places.updated", "places.deleted"]


def test_a_patch_that_changes_nothing_writes_nothing(
    client: TestClient, operator_headers: dict[str, str], make_place: MakePlace, session: Session
) -> None:
    place = make_place()
    r = client.patch(f"/api/v1/places/{place['id']}", json={"name": place["name"]}, headers=operator_headers)
    assert r.status_code == 200
    assert _place_audit(session) == ["place.create"]


def test_writes_need_an_operator_or_admin(
    client: TestClient,
    make_place: MakePlace,
    citizen_headers: dict[str, str],
    officer_headers: dict[str, str],
    admin_headers: dict[str, str],
    session: Session,
) -> None:
    place = make_place()
    url = f"/api/v1/places/{place['id']}"
    assert (
        _error(client.post("/api/v1/places", json=gate_body(external_id="X")), 401)["code"] == "unauthorized"
    )
    for headers in (citizen_headers, officer_headers):
        assert (
            client.post("/api/v1/places", json=gate_body(external_id="X"), headers=headers).status_code == 403
        )
        assert client.patch(url, json={"name": "x"}, headers=headers).status_code == 403
        assert client.delete(url, headers=headers).status_code == 403
        assert client.post(url + "/status", json={"status": "closed"}, headers=headers).status_code == 403
    assert client.patch(url, json={"name": "x"}).status_code == 401
    assert count(session, Place) == 1
    r = client.post("/api/v1/places", json=gate_body(external_id="Y"), headers=admin_headers)
    assert r.status_code == 201


def test_unknown_id_is_404(client: TestClient, operator_headers: dict[str, str]) -> None:
    assert _error(client.get("/api/v1/places/999"), 404)["code"] == "not_found"
    assert client.patch("/api/v1/places/999", json={"name": "x"}, headers=operator_headers).status_code == 404
    assert client.get("/api/v1/places/999/status-history").status_code == 404


# --- validation --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("over", "field", "msg"),
    [
        ({"geometry": {"type": "Point", "coordinates": [200, 10]}}, "geometry", "WGS 84"),
        ({"geometry": {"type": "Point", "coordinates": ["a", 10]}}, "geometry", "malformed"),
        ({"geometry": {"type": "Circle", "coordinates": [106, 10]}}, "geometry", "GeoJSON geometry"),
        (
            {"geometry": {"type": "MultiPoint", "coordinates": [[106.4, 10.5]]}},
            "geometry",
            "Point or LineString or Polygon",
        ),
        (
            {
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [[106.4, 10.5], [106.5, 10.6], [106.5, 10.5], [106.4, 10.6], [106.4, 10.5]]
                    ],
                }
            },
            "geometry",
            "not valid (Self-intersection",
        ),
        ({"attributes": {}}, "attributes.waterway", "is required"),
        ({"attributes": {"waterway": "x", "width_m": "12"}}, "attributes.width_m", "must be a number"),
        ({"attributes": {"waterway": "x", "width_m": 101}}, "attributes.width_m", "at most 100"),
        ({"attributes": {"waterway": "x", "width_m": -1}}, "attributes.width_m", "at least 0"),
        ({"attributes": {"waterway": "x", "doors": 2.5}}, "attributes.doors", "whole number"),
        ({"attributes": {"waterway": "x", "control": "auto"}}, "attributes.control", "one of manual, remote"),
        ({"attributes": {"waterway": "x", "automated": "yes"}}, "attributes.automated", "true or false"),
        ({"attributes": {"waterway": "x", "colour": "red"}}, "attributes.colour", "not an attribute"),
        ({"attributes": {"waterway": "x" * 51}}, "attributes.waterway", "at most 50"),
        (
            {"attributes": {"waterway": "x", "operator_phone": "12"}},
            "attributes.operator_phone",
            "starts with",
        ),
        ({"status": "ajar"}, "status", "one of open, closed"),
    ],
)
def test_bad_input_is_422_naming_the_field_and_stores_nothing(
    client: TestClient,
    operator_headers: dict[str, str],
    session: Session,
    over: dict[str, Any],
    field: str,
    msg: str,
) -> None:
    r = client.post("/api/v1/places", json=gate_body(**over), headers=operator_headers)
    problems = _fields(r)
    assert msg in problems[field], problems
    assert count(session, Place) == 0
    assert _place_audit(session) == []


def test_every_problem_is_listed_at_once(client: TestClient, operator_headers: dict[str, str]) -> None:
    body = gate_body(name=" ", geometry={"type": "Point"}, attributes={"width_m": "x"})
    assert set(_fields(client.post("/api/v1/places", json=body, headers=operator_headers))) == {
        "name",
        "geometry",
        "attributes.width_m",
        "attributes.waterway",
    }


def test_unknown_type_and_schema_errors(client: TestClient, operator_headers: dict[str, str]) -> None:
    r = client.post("/api/v1/places", json=gate_body(type="volcano"), headers=operator_headers)
    err = _error(r, 422)
    assert "volcano" in err["message"]
    assert "t_gate" in err["details"]["known"]
    r = client.post("/api/v1/places", json={**gate_body(), "colour": "red"}, headers=operator_headers)
    assert _error(r, 422)["details"][0]["loc"] == ["body", "colour"]
    r = client.patch("/api/v1/places/1", json={"status": "closed"}, headers=operator_headers)
    assert r.status_code == 422  # status changes go through /status, with history


def test_duplicate_external_id_is_409(
    client: TestClient, operator_headers: dict[str, str], make_place: MakePlace, session: Session
) -> None:
    first = make_place()
    r = client.post("/api/v1/places", json=gate_body(), headers=operator_headers)
    assert _error(r, 409)["details"]["place_id"] == first["id"]
    other = make_place(external_id="G2")
    r = client.patch(f"/api/v1/places/{other['id']}", json={"external_id": "G1"}, headers=operator_headers)
    assert r.status_code == 409
    assert count(session, Place) == 2


def test_thing_must_exist(client: TestClient, operator_headers: dict[str, str]) -> None:
    r = client.post("/api/v1/places", json=gate_body(thing_id=12345), headers=operator_headers)
    assert "no SensorThings Thing" in _fields(r)["thing_id"]


def test_validity_must_be_ordered(client: TestClient, operator_headers: dict[str, str]) -> None:
    body = gate_body(valid_from="2025-01-01", valid_to="2024-01-01")
    assert (
        "after valid_from"
        in _fields(client.post("/api/v1/places", json=body, headers=operator_headers))["valid_to"]
    )


# --- visibility -------------------------------------------------------------------------------------


def test_staff_only_types_and_attributes_never_reach_citizens_or_anonymous(
    client: TestClient,
    make_place: MakePlace,
    operator_headers: dict[str, str],
    citizen_headers: dict[str, str],
    officer_headers: dict[str, str],
) -> None:
    gate = make_place()
    camera_body = {
        "type": "t_camera",
        "name": "Camera ngã tư",
        "geometry": {"type": "Point", "coordinates": [106.42, 10.54]},
        "attributes": {"stream": "https://cam.example/1"},
    }
    camera = client.post("/api/v1/places", json=camera_body, headers=operator_headers).json()
    for headers in ({}, citizen_headers):
        assert client.get(f"/api/v1/places/{camera['id']}", headers=headers).status_code == 404
        assert client.get(f"/api/v1/places/{camera['id']}/status-history", headers=headers).status_code == 404
        listed = client.get("/api/v1/places", headers=headers).json()
        assert [p["id"] for p in listed["items"]] == [gate["id"]]
        assert listed["total"] == 1
        assert client.get("/api/v1/places?type=t_camera", headers=headers).json()["total"] == 0
        assert (
            "operator_phone"
            not in client.get(f"/api/v1/places/{gate['id']}", headers=headers).json()["attributes"]
        )
        geo = client.get("/api/v1/places.geojson", headers=headers).json()
        assert [f["id"] for f in geo["features"]] == [gate["id"]]
        assert "operator_phone" not in geo["features"][0]["properties"]["attributes"]
        text = client.get("/api/v1/places?format=csv", headers=headers).text
        assert "operator_phone" not in text
        assert "0912" not in text
        assert "+8491" not in text
        types = client.get("/api/v1/place-types", headers=headers).json()
        codes = [t["code"] for t in types]
        assert "t_camera" not in codes
        gate_type = next(t for t in types if t["code"] == "t_gate")
        assert "operator_phone" not in [a["code"] for a in gate_type["attributes"]]
    staff = client.get("/api/v1/places?type=t_camera&type=t_gate", headers=officer_headers).json()
    assert staff["total"] == 2
    assert (
        "operator_phone"
        in client.get(f"/api/v1/places/{gate['id']}", headers=officer_headers).json()["attributes"]
    )
    assert "t_camera" in [
        t["code"] for t in client.get("/api/v1/place-types", headers=officer_headers).json()
    ]


# --- filters ----------------------------------------------------------------------------------------


def test_filters_type_status_bbox_text_and_validity(
    client: TestClient, make_place: MakePlace, operator_headers: dict[str, str]
) -> None:
    a = make_place(name="Cống Đồng Khởi", external_id="A")
    line = {"type": "LineString", "coordinates": [[106.30, 10.40], [106.32, 10.42]]}
    b = make_place(name="Cống Rạch Chanh", external_id="B", geometry=line)
    make_place(name="Cống cũ", external_id="C", valid_to="2020-01-01")
    client.post(f"/api/v1/places/{b['id']}/status", json={"status": "closed"}, headers=operator_headers)

    def ids(query: str) -> list[int]:
        r = client.get("/api/v1/places" + query)
        assert r.status_code == 200, r.text
        return [p["id"] for p in r.json()["items"]]

    assert ids("?q=dong khoi") == [a["id"]]  # đ → d, no diacritics
    assert ids("?q=ĐỒNG") == [a["id"]]
    assert ids("?q=rach%20chanh") == [b["id"]]
    assert ids("?status=closed") == [b["id"]]
    assert ids("?status=open&status=closed") == [a["id"], b["id"]]
    assert ids("?bbox=106.40,10.53,106.42,10.54") == [a["id"]]
    assert ids("?bbox=106.31,10.41,106.315,10.415") == [b["id"]]  # the line's bbox overlaps
    assert ids("?type=t_gate") == [a["id"], b["id"]]
    assert len(ids("?historical=true")) == 3
    assert len(ids("?at=2019-06-01")) == 3
    assert ids("?limit=1&offset=1") == [b["id"]]
    for bad in ("1,2,3", "106.5,10,106.4,11", "a,b,c,d", "0,95,1,96"):
        assert "bbox" in _error(client.get(f"/api/v1/places?bbox={bad}"), 422)["message"]
    assert client.get("/api/v1/places?limit=0").status_code == 422
    assert client.get("/api/v1/places?area_id=999999").status_code == 404


def test_area_filter_follows_lineage_both_ways(
    client: TestClient, operator_headers: dict[str, str], loaded_areas: LoadedAreas, session: Session
) -> None:
    here = client.post("/api/v1/places", json=gate_body(), headers=operator_headers).json()
    assert here["area"]["id"] == loaded_areas.long_an_ward_id
    old = client.post("/api/v1/places", json=gate_body(external_id="OLD"), headers=operator_headers).json()
    # a place recorded against the pre-2025 ward (as a migrated fact would be)
    session.get(Place, old["id"]).area_id = loaded_areas.old_phuong_1_id  # type: ignore[union-attr]
    session.commit()
    far = client.post(
        "/api/v1/places",
        json=gate_body(external_id="FAR", geometry={"type": "Point", "coordinates": [106.1, 11.3]}),
        headers=operator_headers,
    ).json()

    def ids(area_id: int) -> set[int]:
        r = client.get(f"/api/v1/places?area_id={area_id}")
        assert r.status_code == 200
        return {p["id"] for p in r.json()["items"]}

    both = {here["id"], old["id"]}
    assert ids(loaded_areas.long_an_ward_id) == both  # today's ward finds its predecessor's places
    assert ids(loaded_areas.old_phuong_1_id) == both  # the old ward finds its successor's places
    assert ids(loaded_areas.khanh_hau_ward_id) == set()
    assert ids(loaded_areas.province_id) >= both | {far["id"]}  # units inside are followed


# --- formats ----------------------------------------------------------------------------------------


def test_geojson_by_accept_path_and_format(client: TestClient, make_place: MakePlace) -> None:
    place = make_place()
    for r in (
        client.get("/api/v1/places", headers={"Accept": "application/geo+json"}),
        client.get("/api/v1/places.geojson"),
        client.get("/api/v1/places?format=geojson"),
    ):
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/geo+json"
        body = r.json()
        assert body["type"] == "FeatureCollection"
        assert body["total"] == 1
        feature = body["features"][0]
        assert feature["id"] == place["id"]
        assert feature["geometry"] == {"type": "Point", "coordinates": [106.41, 10.535]}
        assert feature["properties"]["name"] == "Cống Bảo Định"
        assert "geometry" not in feature["properties"]


def test_csv(client: TestClient, make_place: MakePlace) -> None:
    make_place(name="=HYPERLINK(1)", attributes={"waterway": "Kênh Bảo Định", "control": "manual"})
    r = client.get("/api/v1/places?format=csv")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 1
    row = rows[0]
    assert row["name"] == "'=HYPERLINK(1)"  # a formula is quoted, not run
    assert row["attributes.waterway"] == "Kênh Bảo Định"
    assert row["attributes.control"] == "manual"
    assert row["lat"] == "10.535"
    assert row["lon"] == "106.41"
    assert row["type"] == "t_gate"


# --- status ----------------------------------------------------------------------------------------


def test_status_change_and_history(
    client: TestClient, make_place: MakePlace, operator_headers: dict[str, str], session: Session
) -> None:
    place = make_place()
    url = f"/api/v1/places/{place['id']}"
    r = client.post(
        url + "/status", json={"status": "closed", "note": "Triều cường"}, headers=operator_headers
    )
    assert r.status_code == 201, r.text
    assert r.json()["previous"] == "open"
    assert r.json()["status"] == "closed"
    assert client.get(url).json()["status"] == "closed"
    r = client.post(url + "/status", json={"status": "ajar"}, headers=operator_headers)
    assert "one of open, closed" in _fields(r)["status"]
    history = client.get(url + "/status-history").json()
    assert history["total"] == 2
    assert [(h["previous"], h["status"]) for h in history["items"]] == [("open", "closed"), (None, "open")]
    assert history["items"][0]["note"] == "Triều cường"
    assert count(session, PlaceStatusHistory) == 2
    assert _place_audit(session) == ["place.create", "place.status"]


def test_type_without_statuses_refuses_one(client: TestClient, operator_headers: dict[str, str]) -> None:
    body = {
        "type": "t_camera",
        "name": "Camera",
        "geometry": {"type": "Point", "coordinates": [106.42, 10.54]},
    }
    place = client.post("/api/v1/places", json=body, headers=operator_headers).json()
    assert place["status"] is None
    r = client.post(f"/api/v1/places/{place['id']}/status", json={"status": "on"}, headers=operator_headers)
    assert "no statuses" in _fields(r)["status"]


# --- cost -------------------------------------------------------------------------------------------


def test_list_query_count_is_pinned(client: TestClient, make_place: MakePlace) -> None:
    """Types, count, page: three statements for an anonymous caller, whether 1 or 20 places are listed."""
    make_place()
    _, one = get_counted(client, "/api/v1/places")
    for n in range(2, 21):
        make_place(external_id=f"G{n}")
    r, twenty = get_counted(client, "/api/v1/places")
    assert r.json()["total"] == 20
    assert one.count == twenty.count == 3, twenty


def test_a_lost_race_for_an_external_id_is_409(session: Session, make_place: MakePlace) -> None:
    """Two writers pass the external-id check at once; the database's unique key refuses the second, and the
    API answers 409 as for the checked case (the check itself is bypassed here by creating directly)."""
    from cityops.errors import Conflict
    from cityops.places import service
    from cityops.places.api import _unique_race
    from cityops.places.types import get_type

    make_place()
    ptype = get_type(session, "t_gate")
    fields = {k: v for k, v in gate_body(external_id="other").items() if k != "type"}
    values = service.prepare(session, ptype, fields)
    values["external_id"] = "G1"
    with pytest.raises(Conflict), _unique_race(session):
        service.create_place(session, ptype, values, actor=None)
    assert count(session, Place) == 1
