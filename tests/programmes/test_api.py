"""Programmes: the 2020 scheme imported as data, its progress figures, edits by admins only, audit."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.audit.models import AuditEntry
from cityops.identity.models import Role, User
from cityops.programmes.models import Disbursement, Programme, ProgrammeProject
from cityops.programmes.plugin import demo_document
from tests.fixtures_areas import LoadedAreas

CODE = "long-an-smart-city-2020"
BASE = f"/api/v1/programmes/{CODE}"


@pytest.fixture
def doc() -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(demo_document())
    return data


def _put(client: TestClient, headers: dict[str, str], doc: dict[str, Any]) -> Any:
    return client.put(f"/api/v1/programmes/{doc['code']}", json=doc, headers=headers)


def test_import_reads_back_with_phases_areas_and_progress(
    client: TestClient, loaded_areas: LoadedAreas, admin_headers: dict[str, str], doc: dict[str, Any]
) -> None:
    r = _put(client, admin_headers, doc)
    assert r.status_code == 200, r.text
    assert r.json()["created"] is True
    assert r.json()["projects_created"] == len(doc["projects"])

    r = client.get(BASE)
    assert r.status_code == 200
    body = r.json()
    assert body["budget_planned_vnd"] == 500_000_000_000
    assert body["area_id"] == loaded_areas.legacy_long_an_id
    pilot, rollout = body["phases"]
    assert pilot["code"] == "pilot-2020-2025"
    assert len(pilot["area_ids"]) == 1
    assert len(rollout["area_ids"]) == 4  # Bến Lức, Đức Hòa, Cần Đước, Cần Giuộc

    expected_disbursed = sum(d["amount_vnd"] for p in doc["projects"] for d in p["disbursements"])
    progress = body["progress"]
    assert progress["disbursed_vnd"] == expected_disbursed
    assert progress["disbursement_rate_pct"] == round(100 * expected_disbursed / 500_000_000_000, 2)
    live = [p for p in doc["projects"] if p["status"] != "cancelled"]
    completed = sum(1 for p in live if p["status"] == "completed")
    assert progress["completion_pct"] == round(100 * completed / len(live), 2)
    assert sum(progress["disbursed_by_year"].values()) == expected_disbursed
    ioc = next(p for p in body["projects"] if p["code"] == "ioc")
    assert ioc["disbursed_vnd"] == 68_000_000_000
    assert ioc["phase"] == "pilot-2020-2025"

    listed = client.get("/api/v1/programmes")
    assert listed.status_code == 200
    assert [p["code"] for p in listed.json()] == [CODE]


def test_import_twice_changes_nothing(
    client: TestClient,
    session: Session,
    loaded_areas: LoadedAreas,
    admin_headers: dict[str, str],
    doc: dict[str, Any],
) -> None:
    assert _put(client, admin_headers, doc).status_code == 200
    disbursements = session.scalar(select(func.count()).select_from(Disbursement))
    r = _put(client, admin_headers, doc)
    assert r.status_code == 200
    assert r.json() | {"warnings": []} == {
        "code": CODE,
        "created": False,
        "phases": 2,
        "projects_created": 0,
        "projects_updated": 0,
        "disbursements_added": 0,
        "warnings": [],
    }
    assert session.scalar(select(func.count()).select_from(Disbursement)) == disbursements


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["projects"][0].update(phase="no-such-phase"), "phase"),
        (lambda d: d["projects"][0].update(status="completed", progress_pct=50), "progress_pct"),
        (lambda d: d["projects"][0].update(budget_planned_vnd=-1), "budget_planned_vnd"),
        (lambda d: d["phases"][0].update(ends_on="2019-01-01"), "ends_on"),
        (lambda d: d.update(unexpected=1), "unexpected"),
    ],
)
def test_bad_documents_are_422_and_write_nothing(
    client: TestClient,
    session: Session,
    loaded_areas: LoadedAreas,
    admin_headers: dict[str, str],
    doc: dict[str, Any],
    mutate: Callable[[dict[str, Any]], None],
    field: str,
) -> None:
    bad = copy.deepcopy(doc)
    mutate(bad)
    r = _put(client, admin_headers, bad)
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "validation_error"
    assert field in r.text
    assert session.scalar(select(func.count()).select_from(Programme)) == 0


def test_unknown_area_is_422_naming_it(
    client: TestClient,
    session: Session,
    loaded_areas: LoadedAreas,
    admin_headers: dict[str, str],
    doc: dict[str, Any],
) -> None:
    doc["phases"][0]["areas"] = [{"code": "999", "level": "district", "on": "2020-07-01"}]
    r = _put(client, admin_headers, doc)
    assert r.status_code == 422
    assert r.json()["error"]["details"]["area"]["code"] == "999"
    assert session.scalar(select(func.count()).select_from(Programme)) == 0


def test_path_and_body_codes_must_agree(
    client: TestClient, loaded_areas: LoadedAreas, admin_headers: dict[str, str], doc: dict[str, Any]
) -> None:
    r = client.put("/api/v1/programmes/other", json=doc, headers=admin_headers)
    assert r.status_code == 422


def test_only_admins_write(
    client: TestClient,
    loaded_areas: LoadedAreas,
    make_user: Callable[..., User],
    auth: Callable[[User], dict[str, str]],
    admin_headers: dict[str, str],
    doc: dict[str, Any],
) -> None:
    assert _put(client, {}, doc).status_code == 401
    officer = auth(make_user(Role.OFFICER))
    assert _put(client, officer, doc).status_code == 403
    assert _put(client, admin_headers, doc).status_code == 200
    path = f"{BASE}/projects/ioc"
    assert (
        client.patch(path, json={"progress_pct": 90, "status": "in_progress"}, headers=officer).status_code
        == 403
    )
    body = {"disbursed_on": "2026-03-01", "amount_vnd": 1_000_000_000, "document": "QĐ 1/2026"}
    assert client.post(f"{path}/disbursements", json=body, headers=officer).status_code == 403
    assert client.post(f"{path}/disbursements", json=body).status_code == 401


def test_project_update_and_disbursement_are_audited(
    client: TestClient,
    session: Session,
    loaded_areas: LoadedAreas,
    admin_headers: dict[str, str],
    doc: dict[str, Any],
) -> None:
    assert _put(client, admin_headers, doc).status_code == 200
    path = f"{BASE}/projects/tourism"
    r = client.patch(path, json={"status": "in_progress", "progress_pct": 15}, headers=admin_headers)
    assert r.status_code == 200
    assert r.json()["status"] == "in_progress"
    assert r.json()["progress_pct"] == 15
    r = client.patch(path, json={"status": "completed"}, headers=admin_headers)
    assert r.status_code == 422  # completed needs progress 100
    assert client.patch(path, json={}, headers=admin_headers).status_code == 422
    assert (
        client.patch(f"{BASE}/projects/nope", json={"progress_pct": 1}, headers=admin_headers).status_code
        == 404
    )

    body = {"disbursed_on": "2026-03-01", "amount_vnd": 2_500_000_000, "document": "Báo cáo Q1/2026"}
    r = client.post(f"{path}/disbursements", json=body, headers=admin_headers)
    assert r.status_code == 201
    assert client.post(f"{path}/disbursements", json=body, headers=admin_headers).status_code == 409
    assert (
        client.post(f"{path}/disbursements", json=body | {"amount_vnd": 0}, headers=admin_headers).status_code
        == 422
    )
    listed = client.get(f"{path}/disbursements")
    assert listed.status_code == 200
    assert [d["amount_vnd"] for d in listed.json()] == [2_500_000_000]
    assert client.get(BASE).json()["progress"]["disbursed_by_year"]["2026"] == 2_500_000_000

    actions = set(session.scalars(select(AuditEntry.action)))
    assert {"programme.import", "programme.project.update", "programme.disbursement.add"} <= actions
    project = session.scalar(select(ProgrammeProject).where(ProgrammeProject.code == "tourism"))
    assert project is not None
    assert project.progress_pct == 15


def test_unknown_programme_is_404(client: TestClient) -> None:
    r = client.get("/api/v1/programmes/none")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
