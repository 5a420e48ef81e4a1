"""The dossier store: push with the system's own key, idempotent upserts, rejects with reasons, CSV/JSON import,
the citizen lookup by code + second factor (a wrong factor reveals nothing), its limits and log, the QR code,
overdue dossiers per agency. Both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cityops.app import create_app
from cityops.audit.models import AuditEntry
from cityops.identity.models import ApiScope
from cityops.sectors.public_services.demo import demo_dossiers
from cityops.sectors.public_services.dossiers import parse_time
from cityops.sectors.public_services.models import Dossier, DossierLookup, DossierStep
from cityops.sectors.public_services.receipts import lookup_url
from cityops.settings import Settings
from tests.kit.factories import Factory

BASE = "/api/v1/public-services/dossiers"
PHONE = "0912 345 678"


NOW = datetime.now(UTC).replace(microsecond=0)


def row(code: str = "HS-0001", **kw: Any) -> dict[str, Any]:
    now = NOW
    out: dict[str, Any] = {
        "maHoSo": code,
        "maTTHC": "1.001612",
        "tenTTHC": "Đăng ký khai sinh",
        "maDonVi": "ubnd-p-tan-an",
        "tenDonVi": "UBND phường Tân An",
        "trangThaiHoSo": "4",
        "ngayTiepNhan": (now - timedelta(days=3)).isoformat(),
        "ngayHenTra": (now + timedelta(days=2)).isoformat(),
        "soDienThoai": PHONE,
        "quaTrinhXuLy": [{"tenBuoc": "Tiếp nhận", "donViXuLy": "Bộ phận một cửa"}],
    }
    out.update(kw)
    return {k: v for k, v in out.items() if v is not None}


@pytest.fixture
def system(factory: Factory) -> dict[str, str]:
    return {"X-API-Key": factory.api_key([ApiScope.DOSSIERS])}


def push(client: TestClient, headers: dict[str, str], rows: list[dict[str, Any]]) -> Any:
    return client.post(BASE, json={"dossiers": rows}, headers=headers)


def test_push_is_idempotent_and_keeps_no_number(
    client: TestClient, system: dict[str, str], sessions: sessionmaker[Session]
) -> None:
    first = push(client, system, [row("HS-0001"), row("HS-0002", soDienThoai=None, soGiayTo="080123004521")])
    assert first.status_code == 200, first.text
    assert first.json() == {"created": 2, "updated": 0, "unchanged": 0, "rejected": []}
    again = push(client, system, [row("HS-0001"), row("HS-0002", soDienThoai=None, soGiayTo="080123004521")])
    assert again.json() == {"created": 0, "updated": 0, "unchanged": 2, "rejected": []}
    changed = push(client, system, [row("HS-0001", trangThaiHoSo="9")])
    assert changed.json()["updated"] == 1
    with sessions() as s:
        d = s.scalars(select(Dossier).where(Dossier.code == "HS-0001")).one()
        assert d.status == "9"
        assert [st.name for st in d.steps] == ["Tiếp nhận"]
        assert len(s.scalars(select(DossierStep)).all()) == 2  # the update replaced the steps, not added
        stored = " ".join(str(v) for v in vars(d).values())
        assert "5678" not in stored
        assert "345678" not in stored
        assert "0912" not in stored
        assert d.phone_hash
        assert d.id_hash is None
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "dossier.upsert")).all()
        assert len(audit) == 3


def test_bad_rows_rejected_with_reasons_good_rows_kept(
    client: TestClient, system: dict[str, str], sessions: sessionmaker[Session]
) -> None:
    rows = [
        row("HS-0101"),
        row("HS-0102", trangThaiHoSo="42"),
        row("HS-0103", soDienThoai=None),
        row("HS-0104", ngayTiepNhan="31/02/2026"),
        row("x", tenTTHC=None),
    ]
    r = push(client, system, rows)
    assert r.status_code == 200
    body = r.json()
    assert body["created"] == 1
    reasons = {item["row"]: item["reasons"] for item in body["rejected"]}
    assert set(reasons) == {2, 3, 4, 5}
    assert any(x.startswith("status:") for x in reasons[2])
    assert any("second factor" in x for x in reasons[3])
    assert any(x.startswith("received_at:") for x in reasons[4])
    assert any(x.startswith("code:") for x in reasons[5])
    assert any(x.startswith("procedure_name") for x in reasons[5])
    with sessions() as s:
        assert s.scalars(select(Dossier.code)).all() == ["HS-0101"]


def test_all_rows_rejected_is_422_and_changes_nothing(
    client: TestClient, system: dict[str, str], sessions: sessionmaker[Session]
) -> None:
    r = push(client, system, [row("HS-0201", trangThaiHoSo="0")])
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "rows_rejected"
    with sessions() as s:
        assert s.scalars(select(Dossier)).all() == []
        assert s.scalars(select(AuditEntry).where(AuditEntry.action == "dossier.upsert")).all() == []


@pytest.mark.parametrize(
    ("who", "status"),
    [("anonymous", 401), ("citizen", 403), ("officer", 403), ("operator", 403), ("admin", 200)],
)
def test_push_needs_the_system_key_or_admin(
    client: TestClient, factory: Factory, who: str, status: int
) -> None:
    r = push(client, factory.headers(who), [row(f"HS-{who.upper()}")])
    assert r.status_code == status


@pytest.mark.parametrize("scope", [ApiScope.READ, ApiScope.INGEST, ApiScope.OPEN311])
def test_push_refuses_other_keys(client: TestClient, factory: Factory, scope: ApiScope) -> None:
    r = push(client, {"X-API-Key": factory.api_key([scope])}, [row("HS-0301")])
    assert r.status_code == 403


def test_lookup_by_code_and_digits(client: TestClient, system: dict[str, str]) -> None:
    push(client, system, [row("HS-0401"), row("HS-0402", soDienThoai=None, soGiayTo="080 123 004 521")])
    ok = client.post(f"{BASE}/lookup", json={"code": "hs-0401", "digits": "5678"})
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert body["code"] == "HS-0401"
    assert body["status"] == "4"
    assert body["status_vi"] == "Đang xử lý"
    assert body["received_at"].endswith("+07:00")
    assert body["steps"][0]["agency_name"] == "Bộ phận một cửa"
    text = ok.text
    assert "5678" not in text
    assert "hash" not in text
    assert "salt" not in text
    by_id = client.post(f"{BASE}/lookup", json={"code": "HS-0402", "digits": "4521"})
    assert by_id.status_code == 200
    phone_digits_on_id_only = client.post(f"{BASE}/lookup", json={"code": "HS-0402", "digits": "5678"})
    assert phone_digits_on_id_only.status_code == 404


def test_wrong_factor_reveals_nothing(client: TestClient, system: dict[str, str]) -> None:
    push(client, system, [row("HS-0501")])
    wrong = client.post(f"{BASE}/lookup", json={"code": "HS-0501", "digits": "0000"})
    unknown = client.post(f"{BASE}/lookup", json={"code": "HS-9999", "digits": "5678"})
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"]["code"] == "dossier_not_found"
    assert set(wrong.headers) - {"x-request-id", "date"} == set(unknown.headers) - {"x-request-id", "date"}


@pytest.mark.parametrize(
    "body", [{"code": "HS-0601", "digits": "12a4"}, {"code": "HS-0601"}, {"code": "!!", "digits": "1234"}]
)
def test_malformed_lookup_is_422(
    client: TestClient, body: dict[str, str], sessions: sessionmaker[Session]
) -> None:
    r = client.post(f"{BASE}/lookup", json=body)
    assert r.status_code == 422
    assert "error" in r.json()
    with sessions() as s:
        assert s.scalars(select(DossierLookup)).all() == []


def test_failures_per_code_are_limited_from_every_address(settings: Settings, factory: Factory) -> None:
    limited = settings.model_copy(update={"dossier_failures_per_code_per_hour": 3})
    with TestClient(create_app(limited)) as c:
        key = {"X-API-Key": factory.api_key([ApiScope.DOSSIERS])}
        push(c, key, [row("HS-0701"), row("HS-0702")])
        for digits in ("0001", "0002", "0003"):
            assert c.post(f"{BASE}/lookup", json={"code": "HS-0701", "digits": digits}).status_code == 404
        # the right digits no longer help for this code this hour: guessing stops at 3 tries
        r = c.post(f"{BASE}/lookup", json={"code": "HS-0701", "digits": "5678"})
        assert r.status_code == 429
        assert r.json()["error"]["code"] == "rate_limited"
        assert int(r.headers["Retry-After"]) > 0
        # another code is not held back
        assert c.post(f"{BASE}/lookup", json={"code": "HS-0702", "digits": "5678"}).status_code == 200


def test_lookups_per_client_are_limited(settings: Settings, factory: Factory) -> None:
    limited = settings.model_copy(update={"dossier_lookups_per_client_per_hour": 2})
    with TestClient(create_app(limited)) as c:
        push(c, {"X-API-Key": factory.api_key([ApiScope.DOSSIERS])}, [row("HS-0801")])
        for _ in range(2):
            assert c.post(f"{BASE}/lookup", json={"code": "HS-0801", "digits": "5678"}).status_code == 200
        assert c.post(f"{BASE}/lookup", json={"code": "HS-0801", "digits": "5678"}).status_code == 429


def test_lookups_are_logged_without_personal_data(
    client: TestClient, system: dict[str, str], sessions: sessionmaker[Session]
) -> None:
    push(client, system, [row("HS-0901")])
    client.post(f"{BASE}/lookup", json={"code": "HS-0901", "digits": "5678"})
    client.post(f"{BASE}/lookup", json={"code": "HS-0901", "digits": "1111"})
    with sessions() as s:
        logs = s.scalars(select(DossierLookup).order_by(DossierLookup.id)).all()
        assert [lg.outcome for lg in logs] == ["found", "not_found"]
        assert logs[0].dossier_id is not None
        assert logs[1].dossier_id is None
        for lg in logs:
            values = " ".join(str(v) for v in vars(lg).values())
            assert "5678" not in values
            assert "1111" not in values
            assert "HS-0901" not in values
            assert "testclient" not in values


def test_staff_read_and_denials(client: TestClient, system: dict[str, str], factory: Factory) -> None:
    push(client, system, [row("HS-1001")])
    assert client.get(f"{BASE}/HS-1001").status_code == 401
    assert client.get(f"{BASE}/HS-1001", headers=factory.headers("citizen")).status_code == 403
    read_key = {"X-API-Key": factory.api_key([ApiScope.READ])}
    assert client.get(f"{BASE}/HS-1001", headers=read_key).status_code == 403
    r = client.get(f"{BASE}/HS-1001", headers=factory.headers("officer"))
    assert r.status_code == 200
    assert r.json()["agency_code"] == "ubnd-p-tan-an"
    assert client.get(f"{BASE}/HS-4040", headers=factory.headers("officer")).status_code == 404


def test_import_csv_and_json(client: TestClient, factory: Factory, sessions: sessionmaker[Session]) -> None:
    admin = factory.headers("admin")
    csv_text = (
        "\ufeffmaHoSo;tenTTHC;maDonVi;tenDonVi;trangThaiHoSo;ngayTiepNhan;ngayHenTra;soDienThoai\n"
        "HS-1101;Đăng ký kết hôn;ubnd-p-long-an;UBND phường Long An;2;01/12/2026 08:00;05/12/2026;0909111222\n"
        "HS-1102;Đăng ký kết hôn;ubnd-p-long-an;UBND phường Long An;2;01/12/2026;05/12/2026;12\n"
    )
    r = client.post(
        f"{BASE}/import", files={"file": ("hs.csv", csv_text.encode(), "text/csv")}, headers=admin
    )
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 1
    assert r.json()["rejected"][0]["row"] == 2
    assert "phone" in r.json()["rejected"][0]["reasons"][0]
    with sessions() as s:
        d = s.scalars(select(Dossier).where(Dossier.code == "HS-1101")).one()
        assert d.received_at == datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # 08:00 in Vietnam
        assert d.due_at == datetime(2026, 12, 5, 17, 0, tzinfo=UTC)  # to the end of 5 December, local
    import json

    data = json.dumps([row("HS-1103")]).encode()
    r = client.post(f"{BASE}/import", files={"file": ("hs.json", data, "application/json")}, headers=admin)
    assert r.json()["created"] == 1
    bad = client.post(
        f"{BASE}/import", files={"file": ("x.json", b"{nope", "application/json")}, headers=admin
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "unreadable_file"
    officer = client.post(
        f"{BASE}/import",
        files={"file": ("hs.json", data, "application/json")},
        headers=factory.headers("operator"),
    )
    assert officer.status_code == 403


def test_qr_opens_the_lookup_page_with_the_code_only(client: TestClient) -> None:
    r = client.get(f"{BASE}/qr.svg", params={"code": "hs-1201"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/svg+xml"
    assert b"<svg" in r.content
    assert b"<path" in r.content
    assert lookup_url("https://dvc.example.vn", "HS-1201") == "https://dvc.example.vn/#/dossier?code=HS-1201"
    assert client.get(f"{BASE}/qr.svg", params={"code": "<script>"}).status_code == 422


def test_overdue_per_agency_and_procedure(client: TestClient, system: dict[str, str]) -> None:
    now = datetime.now(UTC)
    late = {
        "ngayTiepNhan": (now - timedelta(days=9)).isoformat(),
        "ngayHenTra": (now - timedelta(days=1)).isoformat(),
    }
    push(
        client,
        system,
        [
            row("HS-1301", **late),
            row("HS-1302", **late),
            row("HS-1303", **late, maDonVi="so-xd", tenDonVi="Sở Xây dựng", tenTTHC="Cấp phép xây dựng"),
            row("HS-1304", **late, trangThaiHoSo="5"),  # waiting on the applicant: not the office's delay
            row("HS-1305", **late, trangThaiHoSo="10", ngayTra=(now - timedelta(days=2)).isoformat()),
            row("HS-1306"),  # not due yet
        ],
    )
    r = client.get(f"{BASE}/overdue")
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 3
    assert [(a["agency_code"], a["overdue"]) for a in body["agencies"]] == [
        ("ubnd-p-tan-an", 2),
        ("so-xd", 1),
    ]
    assert body["agencies"][1]["procedures"] == [{"procedure_name": "Cấp phép xây dựng", "overdue": 1}]


def test_parse_time_formats() -> None:
    assert parse_time("20261201083000") == datetime(2026, 12, 1, 1, 30, tzinfo=UTC)
    assert parse_time("2026-12-01T08:30:00+07:00") == datetime(2026, 12, 1, 1, 30, tzinfo=UTC)
    assert parse_time("01/12/2026") == datetime(2026, 11, 30, 17, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="not a date"):
        parse_time("hôm qua")


def test_demo_dossiers_are_all_accepted(client: TestClient, factory: Factory) -> None:
    rows = demo_dossiers()
    r = push(client, factory.headers("admin"), rows)
    assert r.json()["rejected"] == []
    assert r.json()["created"] == len(rows) == 7
    ok = client.post(f"{BASE}/lookup", json={"code": "DEMO-2612-0001", "digits": "5678"})
    assert ok.status_code == 200
    assert ok.json()["overdue"] is False
    assert client.get(f"{BASE}/overdue").json()["total"] >= 2
