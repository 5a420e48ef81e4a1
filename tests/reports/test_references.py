"""Every id a request names is checked against what the caller may use (#21 findings 2, 3 and 7):
media only by its uploader, a merge needs the permission on both cases, templates of one's own agencies."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cityops.media.models import MediaItem
from cityops.reports.models import Case, CaseMedia, CaseReporter, ResponseTemplate
from tests.reports.conftest import A_POINT, B_POINT, World, jpeg_bytes
from tests.reports.test_api import bearer, report_body


def _upload(client: TestClient, data: bytes, headers: dict[str, str] | None = None) -> dict[str, object]:
    r = client.post(
        "/api/v1/reports/media", files={"file": ("p.jpg", data, "image/jpeg")}, headers=headers or {}
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_a_stranger_cannot_attach_my_photo_nor_borrow_its_position(
    world: World, client: TestClient, app: object
) -> None:
    mine = _upload(client, jpeg_bytes(gps=True))
    assert mine["upload_token"]
    stranger = TestClient(client.app)  # another browser: no uploader cookie
    body = report_body(category="lighting", answers={}, media_ids=[mine["media_id"]])
    del body["lat"], body["lon"]
    r = stranger.post("/api/v1/reports", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "unknown_media"
    assert world.session.scalar(select(func.count()).select_from(Case)) == 0
    # the same answer as for an id that does not exist: nothing to probe
    r = stranger.post("/api/v1/reports", json={**body, "media_ids": [99999]})
    assert r.json()["error"]["code"] == "unknown_media"
    # the uploader (its cookie) may: the position comes from its own photo
    r = client.post("/api/v1/reports", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["location_source"] == "exif"


def test_a_client_without_cookies_proves_its_upload_with_the_token(world: World, client: TestClient) -> None:
    mine = _upload(client, jpeg_bytes())
    fresh = TestClient(client.app)
    r = fresh.post(
        "/api/v1/reports",
        json=report_body(category="lighting", answers={}, media_ids=[mine["media_id"]]),
        headers={"X-Upload-Token": str(mine["upload_token"])},
    )
    assert r.status_code == 201, r.text


def test_the_same_picture_uploaded_by_two_people_keeps_each_ones_position(
    world: World, client: TestClient
) -> None:
    first = _upload(client, jpeg_bytes(gps=True))
    other = TestClient(client.app)
    second = _upload(other, jpeg_bytes(gps=False))
    assert first["media_id"] == second["media_id"]  # stored once
    body = report_body(category="lighting", answers={}, media_ids=[second["media_id"]], address="Chợ Tân An")
    del body["lat"], body["lon"]
    r = other.post("/api/v1/reports", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["location_source"] == "address"  # not the first uploader's EXIF position


def test_an_officer_cannot_resolve_with_another_agencys_photo(world: World, client: TestClient) -> None:
    citizen = TestClient(client.app)  # another browser than the officer's
    photo = _upload(citizen, jpeg_bytes((10, 200, 10)))  # a citizen's photo of a ward B case
    r = citizen.post(
        "/api/v1/reports",
        json=report_body(
            category="lighting", answers={}, lat=B_POINT[0], lon=B_POINT[1], media_ids=[photo["media_id"]]
        ),
    )
    assert r.status_code == 201, r.text
    mine = client.post("/api/v1/reports", json=report_body(category="lighting", answers={})).json()["ref"]
    officer = bearer(world, "officer_a")
    supervisor = bearer(world, "supervisor_a")
    me = world.users["officer_a"].id
    steps = [(officer, {"action": "acknowledge"}), (supervisor, {"action": "assign", "assignee_id": me})]
    for headers, step in [*steps, (officer, {"action": "start"})]:
        assert (
            client.post(f"/api/v1/reports/cases/{mine}/actions", json=step, headers=headers).status_code
            == 200
        )
    r = client.post(
        f"/api/v1/reports/cases/{mine}/actions",
        json={"action": "resolve", "after_media_ids": [photo["media_id"]]},
        headers=officer,
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "unknown_media"
    case = world.session.scalar(select(Case).where(Case.ref == mine))
    assert case is not None
    assert case.state == "in_progress"
    assert (
        world.session.scalar(select(func.count()).select_from(CaseMedia).where(CaseMedia.case_id == case.id))
        == 0
    )
    assert client.get(f"/api/v1/media/{photo['media_id']}/original", headers=officer).status_code == 404
    # their own after-photo works
    after = _upload(client, jpeg_bytes((1, 2, 3)), headers=officer)
    r = client.post(
        f"/api/v1/reports/cases/{mine}/actions",
        json={"action": "resolve", "after_media_ids": [after["media_id"]]},
        headers=officer,
    )
    assert r.status_code == 200, r.text
    assert world.session.get(MediaItem, after["media_id"]) is not None


def test_merge_needs_the_permission_on_both_cases(world: World, client: TestClient) -> None:
    dup = client.post("/api/v1/reports", json=report_body(category="lighting", answers={})).json()["ref"]
    other = client.post(
        "/api/v1/reports", json=report_body(category="lighting", answers={}, lat=B_POINT[0], lon=B_POINT[1])
    ).json()["ref"]
    r = client.post(
        f"/api/v1/reports/cases/{dup}/actions",
        json={"action": "merge", "master_ref": other},
        headers=bearer(world, "supervisor_a"),
    )
    assert r.status_code == 403, r.text
    assert r.json()["error"]["details"] == {"ref": other}
    master = world.session.scalar(select(Case).where(Case.ref == other))
    assert master is not None
    assert (
        world.session.scalar(
            select(func.count()).select_from(CaseReporter).where(CaseReporter.case_id == master.id)
        )
        == 1
    )
    dup_case = world.session.scalar(select(Case).where(Case.ref == dup))
    assert dup_case is not None
    assert dup_case.master_id is None
    # the operator handles both: allowed
    r = client.post(
        f"/api/v1/reports/cases/{dup}/actions",
        json={"action": "merge", "master_ref": other},
        headers=bearer(world, "operator"),
    )
    assert r.status_code == 200, r.text


def test_another_agencys_template_is_unknown(world: World, client: TestClient) -> None:
    template = ResponseTemplate(agency_id=world.ward_b_committee.id, action=None, title="B", body="Văn bản B")
    world.session.add(template)
    world.session.commit()
    ref = client.post(
        "/api/v1/reports", json=report_body(category="lighting", answers={}, lat=A_POINT[0], lon=A_POINT[1])
    ).json()["ref"]
    r = client.post(
        f"/api/v1/reports/cases/{ref}/actions",
        json={"action": "acknowledge", "template_id": template.id},
        headers=bearer(world, "officer_a"),
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "unknown_template"
