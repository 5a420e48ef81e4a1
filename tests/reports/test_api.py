"""The native reports API: submission (idempotent retry, validation), staff work, follow-up, and the
privacy sweep over every public route."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cityops.identity.models import User
from cityops.identity.tokens import create_session
from cityops.reports.models import Case, CaseEvent
from tests.reports.conftest import A_POINT, World, jpeg_bytes, make_open311_key

SECRET_NAME = "Nguyễn Thị Bí Mật"
SECRET_PHONE = "0909123456"
SECRET_EMAIL = "bimat@example.vn"


def bearer(world: World, name: str) -> dict[str, str]:
    user = world.session.get(User, world.users[name].id)
    assert user is not None
    _, token = create_session(world.session, user, ttl_minutes=60)
    world.session.commit()
    return {"Authorization": f"Bearer {token}"}


def report_body(**kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "category": "roads",
        "description": "Ổ gà lớn trước chợ",
        "lat": A_POINT[0],
        "lon": A_POINT[1],
        "accuracy_m": 8.5,
        "answers": {"road_damage": "pothole", "size_m": 1.5},
        "reporter": {"name": SECRET_NAME, "phone": SECRET_PHONE, "email": SECRET_EMAIL},
        "consent": True,
        "consent_purpose": "xử lý phản ánh",
    }
    body.update(kw)
    return body


def test_submit_routes_and_returns_token(world: World, client: TestClient) -> None:
    r = client.post("/api/v1/reports", json=report_body())
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["ref"].startswith("PA-2026-") or body["ref"].startswith("PA-")
    assert body["token"]
    assert body["state"] == "submitted"
    assert body["routed"] is True
    case = world.session.scalar(select(Case).where(Case.ref == body["ref"]))
    assert case is not None
    # roads has a province-wide department jurisdiction that is more specific than the ward's catch-all
    assert case.agency_id == world.transport.id
    assert case.area_id == world.ward_a.id
    assert case.answers == {"road_damage": "pothole", "size_m": 1.5}
    tracked = client.get(f"/api/v1/reports/track/{body['token']}")
    assert tracked.status_code == 200
    assert tracked.json()["ref"] == body["ref"]
    assert client.get("/api/v1/reports/track/not-a-token").status_code == 404


def test_nfc_normalises_text(world: World, client: TestClient) -> None:
    decomposed = "Đe\u0300n đươ\u0300ng hỏng"  # 'Đèn đường' typed with combining marks
    r = client.post(
        "/api/v1/reports", json=report_body(category="lighting", answers={}, description=decomposed)
    )
    assert r.status_code == 201
    case = world.session.scalar(select(Case).where(Case.ref == r.json()["ref"]))
    assert case is not None
    assert case.description == "Đèn đường hỏng"


@pytest.mark.parametrize(
    ("change", "status", "needle"),
    [
        ({"category": "nope"}, 422, "Unknown category"),
        ({"answers": {}}, 422, "road_damage"),  # required question
        ({"answers": {"road_damage": "volcano"}}, 422, "must be one of"),
        ({"answers": {"road_damage": "pothole", "size_m": "big"}}, 422, "number"),
        ({"answers": {"road_damage": "pothole", "colour": "red"}}, 422, "unknown question"),
        ({"lat": None, "lon": None}, 422, "location is required"),
        ({"lat": 95.0}, 422, "out of range"),
        ({"consent": False}, 422, "Consent"),
        ({"lat": "10.0"}, 422, ""),  # strict: no strings for numbers
        ({"consent": 1}, 422, ""),  # strict: 1 is not true
        ({"surprise": True}, 422, ""),  # extra fields refused
        ({"media_ids": [999999]}, 422, "Unknown media"),
    ],
)
def test_submission_validation(
    world: World, client: TestClient, change: dict[str, Any], status: int, needle: str
) -> None:
    r = client.post("/api/v1/reports", json=report_body(**change))
    assert r.status_code == status, r.text
    assert needle in r.text
    assert world.session.scalar(select(func.count(Case.id))) == 0


def test_address_only_and_extra_question_types(world: World, client: TestClient) -> None:
    r = client.post(
        "/api/v1/reports",
        json=report_body(
            category="environment",
            lat=None,
            lon=None,
            address="12 Hùng Vương, Long An",
            answers={"pollution": "noise", "since": "2026-03-01"},
        ),
    )
    assert r.status_code == 201, r.text
    assert r.json()["routed"] is False  # no coordinate: the dispatcher queue
    r = client.post(
        "/api/v1/reports", json=report_body(category="waste", answers={"waste_types": ["household", "x"]})
    )
    assert r.status_code == 422
    assert "unknown choices" in r.text
    r = client.post(
        "/api/v1/reports",
        json=report_body(category="environment", answers={"pollution": "air", "since": "hôm qua"}),
    )
    assert r.status_code == 422
    assert "date" in r.text


def test_idempotent_retry_gives_the_same_answer_and_one_case(world: World, client: TestClient) -> None:
    headers = {"Idempotency-Key": "c3b1f7a0-retry-1"}
    first = client.post("/api/v1/reports", json=report_body(), headers=headers)
    second = client.post("/api/v1/reports", json=report_body(), headers=headers)
    assert first.status_code == second.status_code == 201
    # the same answer, with a fresh tracking token (the raw token is never stored, #21); the fresh one works
    assert {**first.json(), "token": None} == {**second.json(), "token": None}
    assert client.get(f"/api/v1/reports/track/{second.json()['token']}").status_code == 200
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert world.session.scalar(select(func.count(Case.id))) == 1
    # the same key for a different request is refused, nothing created
    other = client.post("/api/v1/reports", json=report_body(description="khác"), headers=headers)
    assert other.status_code == 409
    assert "Idempotency-Key" in other.text
    # another sender may use the same key value: keys are scoped per sender
    third = client.post("/api/v1/reports", json=report_body(), headers=headers | bearer(world, "citizen"))
    assert third.status_code == 201
    assert third.json()["ref"] != first.json()["ref"]
    assert world.session.scalar(select(func.count(Case.id))) == 2


def test_photo_upload_exif_and_review_before_publication(world: World, client: TestClient) -> None:
    up = client.post("/api/v1/reports/media", files={"file": ("a.jpg", jpeg_bytes(), "image/jpeg")})
    assert up.status_code == 201, up.text
    media_id = up.json()["media_id"]
    bad = client.post(
        "/api/v1/reports/media", files={"file": ("a.jpg", b"not an image at all", "image/jpeg")}
    )
    assert bad.status_code == 415
    r = client.post(
        "/api/v1/reports", json=report_body(category="lighting", answers={}, media_ids=[media_id])
    )
    ref = r.json()["ref"]
    assert client.get(f"/api/v1/reports/public/{ref}").json()["media"] == []  # pending review
    staff = bearer(world, "officer_a")
    assert (
        client.post(
            f"/api/v1/reports/cases/{ref}/media/{media_id}/review",
            json={"state": "approved"},
            headers=bearer(world, "officer_b"),
        ).status_code
        == 403
    )
    ok = client.post(
        f"/api/v1/reports/cases/{ref}/media/{media_id}/review", json={"state": "approved"}, headers=staff
    )
    assert ok.status_code == 200, ok.text
    media = client.get(f"/api/v1/reports/public/{ref}").json()["media"]
    assert len(media) == 1
    assert media[0]["url"].endswith(f"/api/v1/media/{media_id}")
    client.post(
        f"/api/v1/reports/cases/{ref}/media/{media_id}/review", json={"state": "hidden"}, headers=staff
    )
    assert client.get(f"/api/v1/reports/public/{ref}").json()["media"] == []


def _submit(client: TestClient, **kw: Any) -> dict[str, Any]:
    r = client.post("/api/v1/reports", json=report_body(category="lighting", answers={}, **kw))
    assert r.status_code == 201, r.text
    return r.json()


def test_staff_flow_inbox_notes_templates_bulk(world: World, client: TestClient) -> None:
    officer, supervisor = bearer(world, "officer_a"), bearer(world, "supervisor_a")
    refs = [_submit(client)["ref"] for _ in range(3)]
    other_ward = _submit(client, lat=10.005, lon=106.015)["ref"]
    inbox = client.get("/api/v1/reports/inbox", headers=officer).json()
    assert {i["ref"] for i in inbox["items"]} == set(refs)  # not ward B's case
    assert client.get("/api/v1/reports/inbox", headers=bearer(world, "citizen")).status_code == 403
    assert client.get("/api/v1/reports/inbox").status_code == 401
    op = client.get("/api/v1/reports/inbox", headers=bearer(world, "operator")).json()
    assert other_ward in {i["ref"] for i in op["items"]}
    # filters
    assert client.get("/api/v1/reports/inbox?state=acknowledged", headers=officer).json()["total"] == 0
    assert client.get("/api/v1/reports/inbox?category=waste", headers=officer).json()["total"] == 0
    assert client.get("/api/v1/reports/inbox?overdue=false", headers=officer).json()["total"] == 3
    assert (
        client.get(f"/api/v1/reports/inbox?area_id={world.ward_a.id}", headers=officer).json()["total"] == 3
    )
    assert (
        client.get("/api/v1/reports/inbox?since=2000-01-01&until=2000-01-02", headers=officer).json()["total"]
        == 0
    )
    # bulk assign (supervisor only), all or nothing
    target = world.users["officer_a"].id
    assert (
        client.post(
            "/api/v1/reports/bulk-assign", json={"refs": refs, "assignee_id": target}, headers=officer
        ).status_code
        == 403
    )
    r = client.post(
        "/api/v1/reports/bulk-assign", json={"refs": refs, "assignee_id": target}, headers=supervisor
    )
    assert r.status_code == 200, r.text
    assert (
        client.get("/api/v1/reports/inbox?assignee=me&state=assigned", headers=officer).json()["total"] == 3
    )
    # templates
    t = client.post(
        "/api/v1/reports/templates",
        headers=supervisor,
        json={
            "title": "Đã sửa",
            "body": "Đơn vị đã khắc phục xong.",
            "action": "resolve",
            "agency_id": world.ward_a_committee.id,
        },
    )
    assert t.status_code == 201
    assert (
        client.post(
            "/api/v1/reports/templates",
            headers=officer,
            json={"title": "x", "body": "y", "agency_id": world.ward_a_committee.id},
        ).status_code
        == 403
    )
    listed = client.get("/api/v1/reports/templates?action=resolve", headers=officer).json()
    assert [x["title"] for x in listed] == ["Đã sửa"]
    # internal note: staff see it, the public never does
    assert (
        client.post(
            f"/api/v1/reports/cases/{refs[0]}/notes", json={"text": "Gọi điện cho điện lực"}, headers=officer
        ).status_code
        == 201
    )
    assert (
        client.post(
            f"/api/v1/reports/cases/{refs[0]}/notes", json={"text": "x"}, headers=bearer(world, "officer_b")
        ).status_code
        == 403
    )
    detail = client.get(f"/api/v1/reports/cases/{refs[0]}", headers=officer).json()
    assert any(e["kind"] == "note" for e in detail["timeline"])
    assert detail["reporters"][0]["phone"] == SECRET_PHONE
    assert "Gọi điện" not in client.get(f"/api/v1/reports/public/{refs[0]}").text
    # resolve with a template and an illegal action → 409 with the allowed list
    act = client.post(
        f"/api/v1/reports/cases/{refs[0]}/actions",
        headers=officer,
        json={"action": "resolve", "template_id": t.json()["id"]},
    )
    assert act.status_code == 200, act.text
    assert (
        client.get(f"/api/v1/reports/public/{refs[0]}").json()["status_note"] == "Đơn vị đã khắc phục xong."
    )
    bad = client.post(f"/api/v1/reports/cases/{refs[0]}/actions", headers=officer, json={"action": "start"})
    assert bad.status_code == 409
    assert bad.json()["error"]["details"]["allowed"] == ["close", "reopen"]
    assert (
        client.post(
            f"/api/v1/reports/cases/{refs[0]}/actions", headers=officer, json={"action": "fly"}
        ).status_code
        == 422
    )


def test_other_agency_cannot_read_personal_data(world: World, client: TestClient) -> None:
    ref = _submit(client)["ref"]
    assert client.get(f"/api/v1/reports/cases/{ref}", headers=bearer(world, "officer_b")).status_code == 403
    assert client.get(f"/api/v1/reports/cases/{ref}", headers=bearer(world, "admin")).status_code == 403
    assert client.get(f"/api/v1/reports/cases/{ref}").status_code == 401
    # a supporting agency's officer sees the reporter
    client.post(
        f"/api/v1/reports/cases/{ref}/actions",
        headers=bearer(world, "officer_a"),
        json={"action": "acknowledge"},
    )
    client.post(
        f"/api/v1/reports/cases/{ref}/actions",
        headers=bearer(world, "officer_a"),
        json={"action": "add_support", "agency_id": world.ward_b_committee.id},
    )
    seen = client.get(f"/api/v1/reports/cases/{ref}", headers=bearer(world, "officer_b"))
    assert seen.status_code == 200
    assert seen.json()["reporters"][0]["email"] == SECRET_EMAIL


def test_citizen_history_subscribe_rate_reopen(world: World, client: TestClient) -> None:
    citizen, officer, supervisor = (
        bearer(world, "citizen"),
        bearer(world, "officer_a"),
        bearer(world, "supervisor_a"),
    )
    r = client.post("/api/v1/reports", json=report_body(category="lighting", answers={}), headers=citizen)
    ref, token = r.json()["ref"], r.json()["token"]
    mine = client.get("/api/v1/reports/mine", headers=citizen).json()["items"]
    assert [m["ref"] for m in mine] == [ref]
    assert client.get("/api/v1/reports/mine").status_code == 401
    assert (
        client.post(f"/api/v1/reports/cases/{ref}/rate", json={"score": 5}, headers=citizen).status_code
        == 409
    )
    client.post(f"/api/v1/reports/cases/{ref}/actions", headers=officer, json={"action": "acknowledge"})
    client.post(
        f"/api/v1/reports/cases/{ref}/actions",
        headers=supervisor,
        json={"action": "assign", "assignee_id": world.users["officer_a"].id},
    )
    client.post(
        f"/api/v1/reports/cases/{ref}/actions",
        headers=officer,
        json={"action": "resolve", "comment": "Đã thay bóng"},
    )
    assert (
        client.post(f"/api/v1/reports/cases/{ref}/rate", json={"score": 6}, headers=citizen).status_code
        == 422
    )
    assert (
        client.post(
            f"/api/v1/reports/cases/{ref}/rate", json={"score": 4}, headers=bearer(world, "citizen2")
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"/api/v1/reports/cases/{ref}/rate", json={"score": 4, "comment": "Nhanh"}, headers=citizen
        ).status_code
        == 201
    )
    assert client.post(f"/api/v1/reports/track/{token}/rate", json={"score": 1}).status_code == 409  # once
    assert client.post(f"/api/v1/reports/cases/{ref}/subscribe", json={"channel": "sms"}).status_code == 401
    assert (
        client.post(
            f"/api/v1/reports/cases/{ref}/subscribe", json={"channel": "sms", "address": "0912000111"}
        ).status_code
        == 202  # a code goes to the typed number first (#21); tests/reports/test_hardening.py confirms it
    )
    reopened = client.post(f"/api/v1/reports/track/{token}/reopen", json={"comment": "Lại hỏng"})
    assert reopened.status_code == 200
    assert reopened.json()["state"] == "reopened"
    events = world.session.scalars(select(CaseEvent.action).join(Case).where(Case.ref == ref)).all()
    assert "rate" in events
    assert "reopen" in events


# --- the privacy sweep -----------------------------------------------------------------------------

PUBLIC_GET_ROUTES = {
    "/api/v1/reports/categories",
    "/api/v1/reports/public",
    "/api/v1/reports/public.geojson",
    "/api/v1/reports/public/{ref}",
    "/api/v1/reports/track/{token}",
    "/api/v1/reports/scorecards",
    "/open311/v2/services.{fmt}",
    "/open311/v2/services/{code}.{fmt}",
    "/open311/v2/requests.{fmt}",
    "/open311/v2/requests/{ref}.{fmt}",
    "/open311/v2/tokens/{token}.{fmt}",
}
STAFF_OR_OWNER_GET_ROUTES = {
    "/api/v1/reports/inbox",
    "/api/v1/reports/cases/{ref}",
    "/api/v1/reports/templates",
    "/api/v1/reports/mine",
    "/api/v1/reports/mine/export",
}
FORBIDDEN_KEYS = {
    "user_id",
    "actor_id",
    "reporter_id",
    "reporters",
    "phone",
    "email",
    "first_name",
    "last_name",
    "device_id",
    "account_id",
    "token_hash",
}


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def test_privacy_sweep_over_every_public_route(world: World, client: TestClient, app: Any) -> None:
    citizen = bearer(world, "citizen")
    citizen_id = world.users["citizen"].id
    r = client.post("/api/v1/reports", json=report_body(category="lighting", answers={}), headers=citizen)
    ref, token = r.json()["ref"], r.json()["token"]
    dup = client.post("/api/v1/reports", json=report_body(category="lighting", answers={})).json()
    key = make_open311_key(world.session)
    form = {
        "api_key": key,
        "service_code": "lighting",
        "lat": "10.005",
        "long": "106.005",
        "first_name": "Nguyễn Thị",
        "last_name": "Bí Mật",
        "phone": SECRET_PHONE,
        "email": SECRET_EMAIL,
        "account_id": "acc-77",
        "device_id": "dev-77",
    }
    made = client.post(
        "/open311/v2/requests.json",
        content=urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert made.status_code == 201, made.text
    o311, o311_token = made.json()[0]["service_request_id"], made.json()[0]["token"]
    officer = bearer(world, "officer_a")
    client.post(
        f"/api/v1/reports/cases/{ref}/actions",
        headers=officer,
        json={"action": "acknowledge", "comment": "Đã nhận"},
    )
    client.post(f"/api/v1/reports/cases/{ref}/notes", headers=officer, json={"text": f"gọi {SECRET_PHONE}"})
    client.post(
        f"/api/v1/reports/cases/{dup['ref']}/actions",
        headers=bearer(world, "supervisor_a"),
        json={"action": "merge", "master_ref": ref},
    )
    # every GET route of the capability is classified: a new public route must join the sweep
    # (the OpenAPI paths, which list routes however the framework nests its routers)
    routes = {
        path
        for path, methods in app.openapi()["paths"].items()
        if path.startswith(("/api/v1/reports", "/open311")) and "get" in methods
    }
    assert len(routes) >= 15
    assert routes <= PUBLIC_GET_ROUTES | STAFF_OR_OWNER_GET_ROUTES, (
        routes - PUBLIC_GET_ROUTES - STAFF_OR_OWNER_GET_ROUTES
    )
    urls = [
        "/api/v1/reports/categories",
        "/api/v1/reports/public",
        "/api/v1/reports/public?state=acknowledged",
        "/api/v1/reports/public.geojson",
        "/api/v1/reports/public.geojson?zoom=5",
        "/api/v1/reports/public.geojson?bbox=105,9,107,11&zoom=16",
        f"/api/v1/reports/public/{ref}",
        f"/api/v1/reports/public/{dup['ref']}",
        f"/api/v1/reports/track/{token}",
        f"/api/v1/reports/track/{dup['token']}",
        "/api/v1/reports/scorecards",
        "/api/v1/reports/scorecards?by=area&format=csv",
        "/open311/v2/services.json",
        "/open311/v2/services.xml",
        "/open311/v2/services/lighting.json",
        "/open311/v2/requests.json",
        "/open311/v2/requests.xml",
        f"/open311/v2/requests/{ref}.json",
        f"/open311/v2/requests/{ref}.xml",
        f"/open311/v2/requests/{o311}.json",
        f"/open311/v2/tokens/{token}.json",
        f"/open311/v2/tokens/{o311_token}.xml",
    ]
    for url in urls:
        for headers in ({}, citizen):
            resp = client.get(url, headers=headers)
            assert resp.status_code == 200, (url, resp.text)
            text = resp.content.decode("utf-8-sig")
            structured = resp.json() if "json" in resp.headers["content-type"] else {}
            decoded = json.dumps(structured, ensure_ascii=False)
            for secret in (SECRET_NAME, SECRET_PHONE, SECRET_EMAIL, "gọi ", "Bí Mật", "acc-77", "dev-77"):
                assert secret not in text, (url, secret)
                assert secret not in decoded, (url, secret)
            assert not (_keys(structured) & FORBIDDEN_KEYS), (url, _keys(structured) & FORBIDDEN_KEYS)
            for tag in ("<phone", "<email", "<first_name", "<last_name", "<account_id>acc", "<device_id"):
                assert tag not in text, (url, tag)
            assert f'"{citizen_id}"' not in text or url.endswith("categories")
    listed = client.get("/api/v1/reports/public").json()
    assert listed["total"] == 3
    assert {i["ref"] for i in listed["items"]} == {ref, dup["ref"], o311}
    assert client.get(f"/api/v1/reports/public/{dup['ref']}").json()["duplicate_of"] == ref


def test_hidden_cases_leave_public_views(world: World, client: TestClient) -> None:
    ref = _submit(client)["ref"]
    assert (
        client.post(
            f"/api/v1/reports/cases/{ref}/visibility",
            json={"hidden": True},
            headers=bearer(world, "officer_a"),
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"/api/v1/reports/cases/{ref}/visibility",
            json={"hidden": True},
            headers=bearer(world, "supervisor_a"),
        ).status_code
        == 200
    )
    assert client.get(f"/api/v1/reports/public/{ref}").status_code == 404
    assert client.get("/api/v1/reports/public").json()["total"] == 0
    assert client.get("/api/v1/reports/public.geojson").json()["features"] == []


def test_geojson_points_and_clusters(world: World, client: TestClient) -> None:
    for i in range(3):
        _submit(client, lat=A_POINT[0] + i * 0.0001, lon=A_POINT[1])
    _submit(client, lat=10.005, lon=106.015)
    points = client.get("/api/v1/reports/public.geojson?bbox=106.0,10.0,106.01,10.01").json()
    assert len(points["features"]) == 3
    assert points["features"][0]["geometry"]["type"] == "Point"
    clusters = client.get("/api/v1/reports/public.geojson?zoom=8").json()["features"]
    assert sum(f["properties"]["count"] for f in clusters) == 4
    assert len(clusters) == 1  # all in one ~0.35° cell at zoom 8
    assert client.get("/api/v1/reports/public.geojson?bbox=oops").status_code == 422


def test_exif_gps_locates_a_report_without_coordinates(world: World, client: TestClient) -> None:
    up = client.post("/api/v1/reports/media", files={"file": ("gps.jpg", jpeg_bytes(gps=True), "image/jpeg")})
    assert up.status_code == 201
    assert up.json()["exif_location"] == {"lat": pytest.approx(A_POINT[0]), "lon": pytest.approx(A_POINT[1])}
    r = client.post(
        "/api/v1/reports",
        json=report_body(
            category="lighting", answers={}, lat=None, lon=None, media_ids=[up.json()["media_id"]]
        ),
    )
    assert r.status_code == 201, r.text
    assert r.json()["location_source"] == "exif"
    assert r.json()["routed"] is True
    case = world.session.scalar(select(Case).where(Case.ref == r.json()["ref"]))
    assert case is not None
    assert case.area_id == world.ward_a.id
    # more photos than allowed are refused
    ids = []
    for i in range(world.settings.reports_max_photos + 1):
        ids.append(
            client.post(
                "/api/v1/reports/media",
                files={"file": (f"{i}.jpg", jpeg_bytes(color=(i * 30, 0, 0)), "image/jpeg")},
            ).json()["media_id"]
        )
    too_many = client.post(
        "/api/v1/reports", json=report_body(category="lighting", answers={}, media_ids=ids)
    )
    assert too_many.status_code == 422
    assert "At most" in too_many.text


def test_case_photos_pending_are_for_handling_staff_only(world: World, client: TestClient) -> None:
    media_id = client.post(
        "/api/v1/reports/media", files={"file": ("p.jpg", jpeg_bytes(), "image/jpeg")}
    ).json()["media_id"]
    ref = _submit(client, media_ids=[media_id])["ref"]
    officer, other = bearer(world, "officer_a"), bearer(world, "officer_b")
    assert client.get(f"/api/v1/media/{media_id}").status_code == 404  # pending: not public
    assert client.get(f"/api/v1/media/{media_id}", headers=other).status_code == 404
    assert client.get(f"/api/v1/media/{media_id}/original", headers=officer).status_code == 200
    client.post(
        f"/api/v1/reports/cases/{ref}/media/{media_id}/review", json={"state": "approved"}, headers=officer
    )
    assert client.get(f"/api/v1/media/{media_id}").status_code == 200
    assert client.get(f"/api/v1/media/{media_id}/original").status_code == 404  # originals stay staff-only
    client.post(
        f"/api/v1/reports/cases/{ref}/visibility",
        json={"hidden": True},
        headers=bearer(world, "supervisor_a"),
    )
    assert client.get(f"/api/v1/media/{media_id}").status_code == 404  # the case is hidden
    assert client.get(f"/api/v1/media/{media_id}", headers=officer).status_code == 200


def test_staff_entered_cases_are_marked_operator(world: World, client: TestClient) -> None:
    r = client.post(
        "/api/v1/reports",
        json=report_body(category="lighting", answers={}),
        headers=bearer(world, "operator"),
    )
    assert r.status_code == 201
    case = world.session.scalar(select(Case).where(Case.ref == r.json()["ref"]))
    assert case is not None
    assert case.source == "operator"
    from cityops.reports.models import CaseReporter

    reporter = world.session.scalar(select(CaseReporter).where(CaseReporter.case_id == case.id))
    assert reporter is not None
    assert reporter.user_id is None
    assert reporter.phone == SECRET_PHONE
    anon_push = client.post(
        f"/api/v1/reports/cases/{r.json()['ref']}/subscribe", json={"channel": "push", "address": "x"}
    )
    assert anon_push.status_code == 422  # push follows an account; an address is for sms or email (#21)


def test_short_idempotency_keys_are_refused(world: World, client: TestClient) -> None:
    r = client.post("/api/v1/reports", json=report_body(), headers={"Idempotency-Key": "1"})
    assert r.status_code == 422
    assert "16" in r.text
    assert world.session.scalar(select(func.count(Case.id))) == 0


def test_redacted_photo_is_public_as_the_blurred_copy(world: World, client: TestClient) -> None:
    import io

    from PIL import Image

    image = Image.new("RGB", (80, 60))
    image.putdata(
        [((x * 37) % 256, (y * 53) % 256, ((x + y) * 11) % 256) for y in range(60) for x in range(80)]
    )
    buf = io.BytesIO()
    image.save(buf, "JPEG")
    media_id = client.post(
        "/api/v1/reports/media", files={"file": ("p.jpg", buf.getvalue(), "image/jpeg")}
    ).json()["media_id"]
    ref = _submit(client, media_ids=[media_id])["ref"]
    officer = bearer(world, "officer_a")
    url = f"/api/v1/reports/cases/{ref}/media/{media_id}/redact"
    assert (
        client.post(url, json={"boxes": [[0, 0, 20, 20]]}, headers=bearer(world, "officer_b")).status_code
        == 403
    )
    assert client.post(url, json={"boxes": [[0, 0, 500, 20]]}, headers=officer).status_code == 422  # outside
    r = client.post(url, json={"boxes": [[0, 0, 20, 20]]}, headers=officer)
    assert r.status_code == 200, r.text
    assert r.json()["review_state"] == "redacted"
    public_photo = client.get(f"/api/v1/media/{media_id}")
    original = client.get(f"/api/v1/media/{media_id}/original", headers=officer)
    assert public_photo.status_code == 200
    assert original.status_code == 200
    assert public_photo.content != original.content
    assert len(client.get(f"/api/v1/reports/public/{ref}").json()["media"]) == 1


def test_public_search_ignores_diacritics(world: World, client: TestClient) -> None:
    _submit(client, description="Đèn đường hỏng trước chợ Tân An")
    _submit(client, description="Cây đổ")
    hits = client.get("/api/v1/reports/public?q=den duong").json()
    assert hits["total"] == 1
    assert "Đèn đường" in hits["items"][0]["description"]
    assert client.get("/api/v1/reports/public?q=100%25").json()["total"] == 0  # LIKE wildcards are escaped
    officer = bearer(world, "officer_a")
    assert client.get("/api/v1/reports/inbox?q=CÂY", headers=officer).json()["total"] == 1


def test_citizen_exports_and_erases_their_data(world: World, client: TestClient) -> None:
    citizen = bearer(world, "citizen")
    ref = client.post(
        "/api/v1/reports", json=report_body(category="lighting", answers={}), headers=citizen
    ).json()["ref"]
    assert client.get("/api/v1/reports/mine/export").status_code == 401
    exported = client.get("/api/v1/reports/mine/export", headers=citizen).json()
    assert exported["reports"][0]["ref"] == ref
    assert exported["reports"][0]["phone"] == SECRET_PHONE
    assert exported["subscriptions"]
    assert (
        client.get("/api/v1/reports/mine/export", headers=bearer(world, "citizen2")).json()["reports"] == []
    )
    erased = client.delete("/api/v1/reports/mine/personal-data", headers=citizen)
    assert erased.status_code == 200
    assert erased.json() == {"erased_reports": 1}
    detail = client.get(f"/api/v1/reports/cases/{ref}", headers=bearer(world, "officer_a")).json()
    assert detail["reporters"] == [
        {"user_id": None, "name": None, "phone": None, "email": None, "merged_from_id": None}
    ]
    assert client.get("/api/v1/reports/mine", headers=citizen).json()["items"] == []
    assert client.get(f"/api/v1/reports/public/{ref}").status_code == 200  # the report itself stays


def test_old_idempotency_records_are_pruned(world: World, client: TestClient) -> None:
    from datetime import timedelta

    from cityops.clock import utcnow
    from cityops.idempotency import TTL as IDEMPOTENCY_TTL
    from cityops.idempotency import IdempotencyRecord
    from cityops.idempotency import prune as prune_idempotency

    client.post("/api/v1/reports", json=report_body(), headers={"Idempotency-Key": "prune-me-0123456789"})
    assert prune_idempotency(world.session, utcnow()) == 0
    assert prune_idempotency(world.session, utcnow() + IDEMPOTENCY_TTL + timedelta(minutes=1)) == 1
    world.session.commit()
    assert world.session.scalar(select(func.count(IdempotencyRecord.id))) == 0
