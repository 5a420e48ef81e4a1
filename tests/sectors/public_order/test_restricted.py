"""Public-order cases are restricted: the police agency holding them and the IOC operator see them; no public
path (list, search, map, one case, Open311, duplicate suggestions) ever holds them, and moderation cannot
publish them."""

from __future__ import annotations

from fastapi.testclient import TestClient

from cityops.identity.models import AgencyKind
from cityops.reports.categories import restricted_codes
from tests.kit.factories import Factory

SECRET = "Nhóm thanh niên gây rối đêm qua"  # only in the restricted case
PLAIN = "Đèn đường hỏng đầu hẻm"
OPEN311 = "/open311/v2/requests.json?start_date=2026-03-01T00:00:00Z&end_date=2026-03-05T00:00:00Z"


def _world(factory: Factory) -> dict[str, object]:
    area = factory.area()
    police = factory.agency(area=area, kind=AgencyKind.POLICE, categories=["public_order"])
    ward = factory.agency(area=area, categories=["lighting"])
    reporter = factory.user("citizen")
    restricted = factory.case(
        area=area,
        category="public_order",
        description=SECRET,
        reporter=reporter,
        answers={"incident_type": "disturbance"},
    )
    plain = factory.case(area=area, category="lighting", description=PLAIN)
    return {
        "area": area,
        "police": police,
        "ward": ward,
        "reporter": reporter,
        "restricted": restricted,
        "plain": plain,
    }


def test_the_public_order_category_is_restricted() -> None:
    assert "public_order" in restricted_codes()
    assert "construction" not in restricted_codes()
    assert "lighting" not in restricted_codes()


def test_no_public_path_holds_a_restricted_case(client: TestClient, factory: Factory) -> None:
    w = _world(factory)
    restricted, plain = w["restricted"], w["plain"]
    assert restricted.hidden is True  # type: ignore[attr-defined]
    assert restricted.agency_id == w["police"].id  # type: ignore[attr-defined]
    assert plain.hidden is False  # type: ignore[attr-defined]
    callers = ({}, factory.headers("citizen"), {"X-API-Key": factory.api_key(["read"])})
    for headers in callers:
        for url in (
            "/api/v1/reports/public",
            "/api/v1/reports/public?q=thanh+nien",
            "/api/v1/reports/public?category=public_order",
            "/api/v1/reports/public.geojson",
            OPEN311,
            f"{OPEN311}&service_code=public_order",
            f"/open311/v2/requests.json?service_request_id={restricted.ref}",  # type: ignore[attr-defined]
            "/open311/v2/requests.xml?start_date=2026-03-01T00:00:00Z&end_date=2026-03-05T00:00:00Z",
        ):
            r = client.get(url, headers=headers)
            assert r.status_code == 200, url
            assert restricted.ref not in r.text, url  # type: ignore[attr-defined]
            assert "thanh niên" not in r.text, url
        # the control: the plain case is public on the same paths
        assert plain.ref in client.get("/api/v1/reports/public", headers=headers).text  # type: ignore[attr-defined]
        assert plain.ref in client.get(OPEN311, headers=headers).text  # type: ignore[attr-defined]
        ref = restricted.ref  # type: ignore[attr-defined]
        assert client.get(f"/api/v1/reports/public/{ref}", headers=headers).status_code == 404
        assert client.get(f"/open311/v2/requests/{ref}.json", headers=headers).status_code == 404


def test_a_new_report_is_never_shown_a_restricted_neighbour(client: TestClient, factory: Factory) -> None:
    w = _world(factory)
    area = w["area"]
    lat, lon = area.lat, area.lon  # type: ignore[attr-defined]
    body = {"description": "Lại gây rối", "lat": lat, "lon": lon, "consent": True}
    r = client.post("/api/v1/reports", json={**body, "category": "public_order"})
    assert r.status_code == 201
    assert r.json().get("duplicates", []) == []
    # the control: a lighting report at the same place is offered its public neighbour
    r = client.post("/api/v1/reports", json={**body, "category": "lighting"})
    assert r.status_code == 201
    assert [d["ref"] for d in r.json()["duplicates"]] == [w["plain"].ref]  # type: ignore[attr-defined]


def test_staff_see_it_only_as_its_police_agency_or_the_operator(client: TestClient, factory: Factory) -> None:
    w = _world(factory)
    ref = w["restricted"].ref  # type: ignore[attr-defined]
    police_officer = factory.user("officer", w["police"])  # type: ignore[arg-type]
    ward_officer = factory.user("officer", w["ward"])  # type: ignore[arg-type]
    url = f"/api/v1/reports/cases/{ref}"
    assert client.get(url, headers=factory.headers(police_officer)).status_code == 200
    assert client.get(url, headers=factory.headers("operator")).status_code == 200
    assert client.get(url, headers=factory.headers(ward_officer)).status_code == 404  # existence not leaked
    assert client.get(url, headers=factory.headers("admin")).status_code == 403  # admins run no cases
    inbox = client.get("/api/v1/reports/inbox", headers=factory.headers(ward_officer)).json()
    assert ref not in {i["ref"] for i in inbox["items"]}
    inbox = client.get("/api/v1/reports/inbox", headers=factory.headers(police_officer)).json()
    assert ref in {i["ref"] for i in inbox["items"]}
    note = {"text": "ghi chú"}
    assert client.post(f"{url}/notes", json=note, headers=factory.headers(ward_officer)).status_code == 404


def test_moderation_cannot_publish_a_restricted_case(client: TestClient, factory: Factory) -> None:
    w = _world(factory)
    ref = w["restricted"].ref  # type: ignore[attr-defined]
    r = client.post(
        f"/api/v1/reports/cases/{ref}/visibility", json={"hidden": False}, headers=factory.headers("operator")
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "restricted_category"
    assert ref not in client.get("/api/v1/reports/public").text
    # the control: the plain case can be hidden and shown
    plain = w["plain"].ref  # type: ignore[attr-defined]
    for hidden in (True, False):
        r = client.post(
            f"/api/v1/reports/cases/{plain}/visibility",
            json={"hidden": hidden},
            headers=factory.headers("operator"),
        )
        assert r.status_code == 200
        assert r.json()["hidden"] is hidden
