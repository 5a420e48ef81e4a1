"""The indicators API: lists with pinned query counts, values with lineage, CSV/XLSX, hand entry with its
validation and permissions, targets and their status, exact status codes."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.audit.models import AuditEntry
from cityops.identity.models import Role, User
from cityops.indicators.engine import recompute
from cityops.indicators.models import IndicatorValue
from cityops.indicators.registry import Registry
from cityops.indicators.service import status_of
from cityops.reports.models import Case
from tests.fixtures_areas import LoadedAreas
from tests.kit.queries import app_engine, count_queries

Auth = Callable[[User], dict[str, str]]
MARCH = date(2026, 3, 1)


@pytest.fixture
def computed(
    session: Session, registry: Registry, loaded_areas: LoadedAreas, make_case: Callable[..., Case]
) -> LoadedAreas:
    """Two March cases: one in phường Long An, one filed under old Phường 1 (its predecessor)."""
    t = datetime(2026, 3, 3, 3, 0, tzinfo=UTC)
    make_case(t, loaded_areas.long_an_ward_id)
    make_case(t + timedelta(days=1), loaded_areas.old_phuong_1_id)
    session.commit()
    recompute(session, MARCH, MARCH, ["cases.received"], registry)
    session.commit()
    return loaded_areas


def test_sets_and_indicators_lists(client: TestClient, registry: Registry) -> None:
    engine = app_engine(client)
    with count_queries(engine) as q:
        sets = client.get("/api/v1/indicator-sets")
    assert sets.status_code == 200
    assert q.count == 2, q  # member counts, the sets
    by_code = {s["code"]: s for s in sets.json()}
    assert by_code["vn_smart_city_2026"]["document"] == "Thông tư 03/2026/TT-BXD; TCVN 14506:2025"
    assert by_code["iso_37122"]["indicators"] >= 5

    with count_queries(engine) as q:
        page = client.get("/api/v1/indicators", params={"limit": 1})
    assert q.count == 3, q  # the page, its memberships, the total
    with count_queries(engine) as q:
        full = client.get("/api/v1/indicators", params={"limit": 50})
    assert q.count == 3, q  # no N+1: the same with 1 row or 50
    assert page.json()["total"] == full.json()["total"] == len(registry.indicators)
    manual = client.get("/api/v1/indicators", params={"source": "manual"}).json()["items"]
    assert manual
    assert all(i["source"] == "manual" and i["source_document"] for i in manual)
    in_set = client.get("/api/v1/indicators", params={"set": "vn_smart_city_2019"}).json()["items"]
    assert all(any(m["set"] == "vn_smart_city_2019" for m in i["sets"]) for i in in_set)
    env = client.get("/api/v1/indicators", params={"sector": "environment", "source": "observations"}).json()
    assert {i["code"] for i in env["items"]} >= {"environment.good_air_days", "environment.salinity_days_4"}
    one = client.get("/api/v1/indicators/cases.on_time_rate")
    assert one.status_code == 200
    assert (one.json()["unit"], one.json()["direction"], one.json()["period"]) == ("%", "higher", "month")
    missing = client.get("/api/v1/indicators/no.such")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "unknown_indicator"
    assert client.get("/api/v1/indicators", params={"limit": 0}).status_code == 422


def test_values_follow_lineage_and_export(client: TestClient, computed: LoadedAreas) -> None:
    url = "/api/v1/indicators/cases.received/values"
    engine = app_engine(client)
    with count_queries(engine) as q:
        got = client.get(
            url, params={"area_id": computed.old_phuong_1_id, "from": "2026-03-01", "to": "2026-03-31"}
        )
    assert got.status_code == 200
    body = got.json()
    assert body["area_id"] == computed.long_an_ward_id  # the old unit reads its successor's cells
    assert [(v["period_start"], v["value"], v["origin"]) for v in body["items"]] == [
        ("2026-03-01", 2.0, "computed")
    ]
    assert q.count <= 7, q
    province = client.get(url, params={"area_id": computed.province_id}).json()["items"]
    assert province[0]["value"] == 2.0
    assert client.get(url, params={"from": "2026-04-01", "to": "2026-03-01"}).status_code == 422
    assert client.get(url, params={"area_id": 999_999}).status_code == 404
    assert client.get(url, params={"from": "march"}).status_code == 422

    as_csv = client.get(url, params={"area_id": computed.long_an_ward_id, "format": "csv"})
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert [(r["area"], r["period_start"], r["value"]) for r in rows] == [
        ("Phường Long An", "2026-03-01", "2.0")
    ]
    as_xlsx = client.get(url, params={"area_id": computed.long_an_ward_id, "format": "xlsx"})
    assert as_xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(as_xlsx.content)).active
    assert sheet is not None
    assert [c.value for c in sheet[1]][:5] == ["indicator", "area_id", "area", "period_start", "value"]
    assert [c.value for c in sheet[2]][2:5] == ["Phường Long An", "2026-03-01", 2.0]
    assert client.get(url, params={"format": "pdf"}).status_code == 422


def test_manual_entry_validation_and_permissions(
    client: TestClient, session: Session, registry: Registry, loaded_areas: LoadedAreas,
    make_user: Callable[..., User], auth: Auth,
) -> None:  # fmt: skip
    url = "/api/v1/indicators/ict.fibre_households/values"
    body = {
        "area_id": loaded_areas.province_id, "period_start": "2025-01-01", "value": 78.5,
        "source_document": "Báo cáo Sở KH&CN số 12/BC-SKHCN",
    }  # fmt: skip
    operator = make_user(Role.OPERATOR)
    officer = make_user(Role.OFFICER)
    assert client.post(url, json=body).status_code == 401
    assert client.post(url, json=body, headers=auth(officer)).status_code == 403
    headers = auth(operator)
    bad = {
        "period_start": ({**body, "period_start": "2025-03-01"}, 422, "bad_period"),
        "source": ({**body, "source_document": "   "}, 422, "missing_source"),
        "old unit": ({**body, "area_id": loaded_areas.legacy_long_an_id}, 422, "former_area"),
        "computed": (body, 422, "computed_indicator"),
    }
    for name, (payload, status, code) in bad.items():
        target = url if name != "computed" else "/api/v1/indicators/cases.on_time_rate/values"
        got = client.post(target, json=payload, headers=headers)
        assert (got.status_code, got.json()["error"]["code"]) == (status, code), name
    assert client.post(url, json={**body, "value": "78"}, headers=headers).status_code == 422  # strict
    assert client.post(url, json={**body, "extra": 1}, headers=headers).status_code == 422
    assert client.post("/api/v1/indicators/no.such/values", json=body, headers=headers).status_code == 404
    assert session.scalar(select(IndicatorValue.id)) is None  # nothing changed

    created = client.post(url, json=body, headers=headers)
    assert created.status_code == 201
    got = created.json()
    assert (got["origin"], got["value"], got["entered_by"]) == ("manual", 78.5, operator.id)
    again = client.post(url, json={**body, "value": 80.0, "note": "sửa"}, headers=headers)
    assert again.status_code == 201
    assert client.get(url).json()["items"][0]["value"] == 80.0
    audits = session.scalars(select(AuditEntry).where(AuditEntry.action == "indicator.value")).all()
    assert len(audits) == 2


def test_targets_and_status(
    client: TestClient, session: Session, registry: Registry, loaded_areas: LoadedAreas,
    make_user: Callable[..., User], auth: Auth,
) -> None:  # fmt: skip
    url = "/api/v1/indicators/cases.on_time_rate/targets"
    province = loaded_areas.province_id
    session.add(
        IndicatorValue(
            indicator_code="cases.on_time_rate", area_id=province, period_start=date(2026, 5, 1), value=86.0,
            inputs=10, origin="computed", method="cases.on_time_rate", computed_at=datetime.now(UTC),
        )
    )  # fmt: skip
    session.commit()
    body = {"area_id": province, "year": 2026, "value": 90.0, "note": "Kế hoạch 2026"}
    assert client.put(url, json=body).status_code == 401
    assert client.put(url, json=body, headers=auth(make_user(Role.OPERATOR))).status_code == 403
    admin = auth(make_user(Role.ADMIN))
    ward_of_old = {**body, "area_id": loaded_areas.old_phuong_1_id}
    assert client.put(url, json=ward_of_old, headers=admin).status_code == 422
    assert client.put(url, json={**body, "year": 1999}, headers=admin).status_code == 422
    put = client.put(url, json=body, headers=admin)
    assert put.status_code == 200
    (target,) = put.json()["items"]
    assert (target["value"], target["latest_value"], target["latest_period"]) == (90.0, 86.0, "2026-05-01")
    assert target["status"] == "at_risk"  # 86 is within 5 % below 90 (≥ 85.5)
    assert client.put(url, json={**body, "value": 95.0}, headers=admin).status_code == 200
    with count_queries(app_engine(client)) as q:
        listed = client.get(url)
    assert q.count == 3, q  # the indicator, the targets, their year's values
    assert listed.json()["items"][0]["status"] == "off_track"  # 86 < 90.25


@pytest.mark.parametrize(
    ("direction", "value", "target", "status"),
    [
        ("higher", 90.0, 90.0, "on_track"),
        ("higher", 85.5, 90.0, "at_risk"),  # within 5 % below
        ("higher", 85.4, 90.0, "off_track"),
        ("lower", 48.0, 48.0, "on_track"),
        ("lower", 50.4, 48.0, "at_risk"),  # within 5 % above
        ("lower", 50.5, 48.0, "off_track"),
        ("none", 1.0, 2.0, None),
        ("higher", None, 2.0, None),
    ],
)
def test_status_rule(direction: str, value: float | None, target: float, status: str | None) -> None:
    assert status_of(direction, value, target) == status
