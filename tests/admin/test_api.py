"""Admin API: the administration's own categories and the rollout of live areas (both backends)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cityops.admin.models import AreaRollout
from cityops.areas.models import Area
from cityops.audit.models import AuditEntry
from cityops.identity.models import Role
from cityops.reports.categories import sync_categories
from cityops.reports.models import Category
from cityops.text import search_key
from tests.alerts.support import make_user
from tests.kit.queries import app_engine, count_queries

NEW: dict[str, Any] = {
    "code": "bien_bao_hong",
    "name_vi": "Biển báo giao thông hỏng",
    "name_en": "Damaged traffic sign",
    "group": "Giao thông",
    "sla_hours": 16.0,
    "urgent": True,
    "questions": [
        {
            "code": "kind",
            "label": "Loại biển",
            "label_en": "Sign type",
            "datatype": "singlevaluelist",
            "required": True,
            "values": [["cam", "Biển cấm"], ["chi_dan", "Biển chỉ dẫn"]],
            "values_en": [["cam", "Prohibitory"], ["chi_dan", "Guide"]],
        }
    ],
}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _users(sessions: sessionmaker[Session]) -> tuple[str, str]:
    with sessions() as s:
        _, admin = make_user(s, "quantri", Role.ADMIN)
        _, officer = make_user(s, "canbo", Role.OFFICER)
        sync_categories(s)
        s.commit()
    return admin, officer


def test_admin_adds_a_category_that_sync_keeps(client: TestClient, sessions: sessionmaker[Session]) -> None:
    admin, officer = _users(sessions)
    assert client.post("/api/v1/admin/categories", json=NEW).status_code == 401
    assert client.post("/api/v1/admin/categories", json=NEW, headers=auth(officer)).status_code == 403
    created = client.post("/api/v1/admin/categories", json=NEW, headers=auth(admin))
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["sector"], body["editable"], body["sla_hours"], body["urgent"]) == (
        "admin",
        True,
        16.0,
        True,
    )
    assert body["questions"][0]["values_en"] == [["cam", "Prohibitory"], ["chi_dan", "Guide"]]
    # The citizen's category list offers it; a later sync of the sectors' categories leaves it active.
    assert "bien_bao_hong" in [c["code"] for c in client.get("/api/v1/reports/categories").json()]
    with sessions() as s:
        sync_categories(s)
        s.commit()
        row = s.get(Category, "bien_bao_hong")
        assert row is not None
        assert row.active is True
        assert row.name_key == search_key("Biển báo giao thông hỏng Damaged traffic sign")
        audits = s.scalars(select(AuditEntry).where(AuditEntry.action == "category.create")).all()
        assert [a.target_id for a in audits] == ["bien_bao_hong"]


def test_bad_categories_are_refused_and_change_nothing(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    admin, _ = _users(sessions)
    with sessions() as s:
        before = len(s.scalars(select(Category)).all())
        declared = s.scalars(select(Category).where(Category.sector != "admin")).first()
        assert declared is not None
        declared_code = declared.code
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({**NEW, "code": "Biển báo"}, 422, "invalid_code"),
        ({**NEW, "code": declared_code}, 409, "category_exists"),
        ({**NEW, "sla_hours": 0}, 422, "validation_error"),
        ({**NEW, "name_vi": ""}, 422, "validation_error"),
        ({**NEW, "questions": [{**NEW["questions"][0], "values": []}]}, 422, "question_values_required"),
        ({**NEW, "questions": [NEW["questions"][0], NEW["questions"][0]]}, 422, "duplicate_question"),
    ]
    for body, status, code in cases:
        answer = client.post("/api/v1/admin/categories", json=body, headers=auth(admin))
        assert answer.status_code == status, (body, answer.text)
        assert answer.json()["error"]["code"] == code
    patched = client.patch(
        f"/api/v1/admin/categories/{declared_code}", json={"sla_hours": 8.0}, headers=auth(admin)
    )
    assert patched.status_code == 409
    assert patched.json()["error"]["code"] == "category_declared"
    assert (
        client.patch("/api/v1/admin/categories/nope", json={"urgent": True}, headers=auth(admin)).status_code
        == 404
    )
    with sessions() as s:
        assert len(s.scalars(select(Category)).all()) == before
    # An added category can be changed and switched off.
    assert client.post("/api/v1/admin/categories", json=NEW, headers=auth(admin)).status_code == 201
    off = client.patch(
        "/api/v1/admin/categories/bien_bao_hong",
        json={"active": False, "sla_hours": 24.0},
        headers=auth(admin),
    )
    assert off.status_code == 200
    assert (off.json()["active"], off.json()["sla_hours"]) == (False, 24.0)
    assert "bien_bao_hong" not in [c["code"] for c in client.get("/api/v1/reports/categories").json()]


def _areas(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as s:
        province = Area(
            code="72", level="province", kind="Tỉnh", name="Tây Ninh", name_key=search_key("Tây Ninh")
        )
        s.add(province)
        s.flush()
        ids = {"province": province.id}
        for code, name in (("27694", "Phường Long An"), ("27695", "Phường Tân An"), ("27700", "Xã Bến Lức")):
            area = Area(
                code=code,
                level="commune",
                kind="Xã",
                name=name,
                name_key=search_key(name),
                parent_id=province.id,
            )
            s.add(area)
            s.flush()
            ids[name] = area.id
        s.commit()
    return ids


def test_rollout_from_pilot_wards_to_the_province(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    admin, officer = _users(sessions)
    ids = _areas(sessions)
    pilot: dict[str, Any] = {
        "area_ids": [ids["Phường Long An"], ids["Phường Tân An"]],
        "live": True,
        "stage": "pilot",
    }
    assert client.put("/api/v1/admin/rollout", json=pilot, headers=auth(officer)).status_code == 403
    answer = client.put("/api/v1/admin/rollout", json=pilot, headers=auth(admin))
    assert answer.status_code == 200, answer.text
    assert {a["name"] for a in answer.json()} == {"Phường Long An", "Phường Tân An"}
    live = client.get("/api/v1/live-areas").json()
    assert sorted(a["area_id"] for a in live) == sorted(pilot["area_ids"])
    assert live[0]["settings"] == {"accept_reports": True, "alerts": True, "note": ""}
    listed = client.get("/api/v1/admin/rollout?q=ben luc", headers=auth(admin)).json()
    assert [(a["name"], a["live"]) for a in listed] == [("Xã Bến Lức", False)]

    # Bad input changes nothing: an unknown area, an unknown stage, no area.
    for bad in (
        {"area_ids": [ids["Xã Bến Lức"], 999999], "live": True},
        {"area_ids": [ids["Xã Bến Lức"]], "live": True, "stage": "soon"},
        {"area_ids": [], "live": True},
    ):
        assert client.put("/api/v1/admin/rollout", json=bad, headers=auth(admin)).status_code == 422
    assert len(client.get("/api/v1/live-areas").json()) == 2

    # The whole province: the province and every unit under it, with its settings.
    province = {
        "area_ids": [ids["province"]],
        "live": True,
        "stage": "province",
        "include_children": True,
        "settings": {"accept_reports": True, "alerts": False, "note": "toàn tỉnh"},
    }
    assert len(client.put("/api/v1/admin/rollout", json=province, headers=auth(admin)).json()) == 4
    assert len(client.get("/api/v1/live-areas").json()) == 4
    off = {"area_ids": [ids["Xã Bến Lức"]], "live": False}
    assert client.put("/api/v1/admin/rollout", json=off, headers=auth(admin)).json()[0]["live"] is False
    assert ids["Xã Bến Lức"] not in [a["area_id"] for a in client.get("/api/v1/live-areas").json()]
    with sessions() as s:
        rows = {r.area_id: r for r in s.scalars(select(AreaRollout))}
        assert rows[ids["Phường Long An"]].stage == "province"
        assert rows[ids["Phường Long An"]].settings["note"] == "toàn tỉnh"
        assert (
            len(s.scalars(select(AuditEntry).where(AuditEntry.action == "area_rollout.set")).all())
            == 2 + 4 + 1
        )


def test_listings_cost_the_same_for_few_or_many_areas(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    """The rollout listing and the public live areas are one statement each (plus the caller's sign-in)."""
    admin, _ = _users(sessions)
    ids = _areas(sessions)
    counts = []
    for area_ids in (
        [ids["Phường Long An"]],
        [ids["Phường Long An"], ids["Phường Tân An"], ids["Xã Bến Lức"]],
    ):
        client.put("/api/v1/admin/rollout", json={"area_ids": area_ids, "live": True}, headers=auth(admin))
        with count_queries(app_engine(client)) as public:
            assert len(client.get("/api/v1/live-areas").json()) == len(area_ids)
        with count_queries(app_engine(client)) as listing:
            assert client.get("/api/v1/admin/rollout?live_only=true", headers=auth(admin)).status_code == 200
        counts.append((public.count, listing.count))
    assert counts[0] == counts[1]
    assert counts[0][0] == 1, counts
