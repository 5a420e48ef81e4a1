"""Users, agencies, jurisdiction and API keys through the API: grants, denials, audit (both backends)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cityops.audit.models import AuditEntry
from cityops.clock import utcnow
from cityops.identity.agencies import agencies_for
from cityops.identity.deps import principal_for_api_key
from cityops.identity.models import ApiKey, ApiScope, Role, User
from cityops.identity.policy import Action, can
from tests.fixtures_areas import LoadedAreas
from tests.fixtures_identity import DEFAULT_PASSWORD

Auth = Callable[[User], dict[str, str]]


def audit_actions(sessions: sessionmaker[Session], target_type: str) -> list[str]:
    with sessions() as s:
        return list(
            s.scalars(
                select(AuditEntry.action).where(AuditEntry.target_type == target_type).order_by(AuditEntry.id)
            )
        )


def test_citizen_and_anonymous_cannot_list_users(
    client: TestClient, make_user: Callable[..., User], auth: Auth
) -> None:
    citizen = make_user(Role.CITIZEN)
    officer = make_user(Role.OFFICER)
    assert client.get("/api/v1/users").status_code == 401
    r = client.get("/api/v1/users", headers=auth(citizen))
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "forbidden"
    assert client.get("/api/v1/users", headers=auth(officer)).status_code == 403


def test_admin_lists_and_filters_users(
    client: TestClient, make_user: Callable[..., User], admin_headers: dict[str, str]
) -> None:
    make_user(Role.OFFICER, full_name="Nguyễn Văn Đức")
    make_user(Role.CITIZEN, full_name="Trần Thị Lan")
    r = client.get("/api/v1/users", headers=admin_headers)
    assert r.status_code == 200
    assert r.json()["total"] == 3  # with the admin
    r = client.get("/api/v1/users", params={"q": "van duc"}, headers=admin_headers)
    assert [u["full_name"] for u in r.json()["items"]] == ["Nguyễn Văn Đức"]
    r = client.get("/api/v1/users", params={"role": "citizen"}, headers=admin_headers)
    assert [u["role"] for u in r.json()["items"]] == ["citizen"]
    assert client.get("/api/v1/users", params={"role": "king"}, headers=admin_headers).status_code == 422


def test_admin_creates_user_audited_without_password_hash(
    client: TestClient,
    admin_headers: dict[str, str],
    make_agency: Callable[..., object],
    sessions: sessionmaker[Session],
) -> None:
    agency = make_agency()
    body = {
        "role": "officer",
        "username": "Can.Bo.Moi",
        "phone": "0912 000 111",
        "full_name": "Cán bộ mới",
        "password": "mat-khau-moi-123",
        "agency_ids": [agency.id],  # type: ignore[attr-defined]
    }
    r = client.post("/api/v1/users", json=body, headers=admin_headers)
    assert r.status_code == 201, r.text
    user = r.json()
    assert user["username"] == "can.bo.moi"
    assert user["phone"] == "+84912000111"
    assert user["agency_ids"] == [agency.id]  # type: ignore[attr-defined]
    with sessions() as s:
        entry = s.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "user.create", AuditEntry.target_id == str(user["id"])
            )
        ).one()
        assert entry.actor_type == "user"
        assert entry.after is not None
        assert entry.after["role"] == "officer"
        assert "password_hash" not in entry.after
        assert "mat-khau-moi-123" not in str(entry.after)
    # the new user can sign in
    assert (
        client.post(
            "/api/v1/auth/login", json={"username": "can.bo.moi", "password": "mat-khau-moi-123"}
        ).status_code
        == 200
    )
    # duplicates and bad input: clear 4xx, nothing created
    assert client.post("/api/v1/users", json=body, headers=admin_headers).status_code == 409
    bad = [
        {"role": "officer"},
        {"role": "officer", "username": "x y"},
        {"role": "officer", "username": "ok.name", "password": "short"},
        {"role": "officer", "username": "ok.name", "phone": "12"},
        {"role": "officer", "username": "ok.name", "agency_ids": [9999]},
        {"role": "officer", "username": "ok.name", "agency_ids": ["1"]},
        {"role": "emperor", "username": "ok.name"},
    ]
    for payload in bad:
        r = client.post("/api/v1/users", json=payload, headers=admin_headers)
        assert r.status_code == 422, (payload, r.text)
    r = client.get("/api/v1/users", params={"q": "ok.name"}, headers=admin_headers)
    assert r.json()["total"] == 0


def test_patch_user_role_and_active_audited_with_before_after(
    client: TestClient,
    make_user: Callable[..., User],
    admin: User,
    admin_headers: dict[str, str],
    auth: Auth,
    sessions: sessionmaker[Session],
) -> None:
    user = make_user(Role.OFFICER)
    old_headers = auth(user)
    r = client.patch(f"/api/v1/users/{user.id}", json={"role": "supervisor"}, headers=admin_headers)
    assert r.status_code == 200, r.text
    assert r.json()["role"] == "supervisor"
    assert client.get("/api/v1/auth/me", headers=old_headers).status_code == 401  # role change signs out
    with sessions() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "user.update")).one()
        assert entry.before is not None
        assert entry.after is not None
        assert (entry.before["role"], entry.after["role"]) == ("officer", "supervisor")
        assert entry.after["changed_fields"] == ["role"]
        assert entry.actor_id == str(admin.id)
    # strict: "false" is not a bool, 0 is not False
    assert (
        client.patch(f"/api/v1/users/{user.id}", json={"is_active": 0}, headers=admin_headers).status_code
        == 422
    )
    assert (
        client.patch(
            f"/api/v1/users/{user.id}", json={"is_active": "false"}, headers=admin_headers
        ).status_code
        == 422
    )
    assert (
        client.patch("/api/v1/users/99999", json={"is_active": False}, headers=admin_headers).status_code
        == 404
    )
    # an admin cannot lock themselves out
    r = client.patch(f"/api/v1/users/{admin.id}", json={"is_active": False}, headers=admin_headers)
    assert r.status_code == 409
    assert (
        client.patch(f"/api/v1/users/{admin.id}", json={"role": "citizen"}, headers=admin_headers).status_code
        == 409
    )
    # others cannot patch at all
    assert (
        client.patch(
            f"/api/v1/users/{user.id}", json={"role": "admin"}, headers=auth(make_user(Role.SUPERVISOR))
        ).status_code
        == 403
    )


def test_user_view_self_or_admin(client: TestClient, make_user: Callable[..., User], auth: Auth) -> None:
    a, b = make_user(Role.CITIZEN), make_user(Role.CITIZEN)
    assert client.get(f"/api/v1/users/{a.id}", headers=auth(a)).status_code == 200
    assert client.get(f"/api/v1/users/{b.id}", headers=auth(a)).status_code == 403
    assert client.get("/api/v1/users/99999", headers=auth(a)).status_code == 403  # no probing of ids


def test_agencies_public_list_and_admin_only_create(
    client: TestClient,
    make_user: Callable[..., User],
    auth: Auth,
    admin_headers: dict[str, str],
    sessions: sessionmaker[Session],
) -> None:
    officer = make_user(Role.OFFICER)
    body = {"code": "ubnd-thu", "name": "Ủy ban nhân dân phường Thử", "kind": "ward_committee"}
    assert client.post("/api/v1/agencies", json=body).status_code == 401
    assert client.post("/api/v1/agencies", json=body, headers=auth(officer)).status_code == 403
    r = client.post("/api/v1/agencies", json=body, headers=admin_headers)
    assert r.status_code == 201, r.text
    assert client.post("/api/v1/agencies", json=body, headers=admin_headers).status_code == 409
    assert (
        client.post(
            "/api/v1/agencies", json={**body, "code": "z", "kind": "army"}, headers=admin_headers
        ).status_code
        == 422
    )
    listed = client.get("/api/v1/agencies", params={"q": "phuong thu"}).json()["items"]
    assert [a["code"] for a in listed] == ["ubnd-thu"]
    assert client.get("/api/v1/agencies", params={"q": "khong co"}).json()["items"] == []
    assert audit_actions(sessions, "agency") == ["agency.create"]


def test_jurisdiction_management_and_routing(
    client: TestClient,
    loaded_areas: LoadedAreas,
    admin_headers: dict[str, str],
    make_user: Callable[..., User],
    auth: Auth,
    sessions: sessionmaker[Session],
) -> None:
    ward = client.post(
        "/api/v1/agencies",
        json={"code": "ubnd-tan-an", "name": "UBND phường Tân An", "kind": "ward_committee"},
        headers=admin_headers,
    ).json()
    dept = client.post(
        "/api/v1/agencies",
        json={"code": "so-yt", "name": "Sở Y tế", "kind": "department"},
        headers=admin_headers,
    ).json()
    url = f"/api/v1/agencies/{ward['id']}/jurisdictions"
    body = {"area_id": loaded_areas.tan_an_ward_id, "category_code": None}
    assert client.post(url, json=body, headers=auth(make_user(Role.OPERATOR))).status_code == 403
    r = client.post(url, json=body, headers=admin_headers)
    assert r.status_code == 201, r.text
    assert client.post(url, json=body, headers=admin_headers).status_code == 409
    assert client.post(url, json={"area_id": 999999}, headers=admin_headers).status_code == 422
    assert (
        client.post("/api/v1/agencies/99999/jurisdictions", json=body, headers=admin_headers).status_code
        == 404
    )
    r = client.post(
        f"/api/v1/agencies/{dept['id']}/jurisdictions",
        json={"area_id": loaded_areas.province_id, "category_code": "health"},
        headers=admin_headers,
    )
    assert r.status_code == 201
    dept_jur = r.json()["id"]
    shown = client.get(f"/api/v1/agencies/{ward['id']}").json()
    assert shown["jurisdictions"] == [
        {"id": shown["jurisdictions"][0]["id"], "area_id": loaded_areas.tan_an_ward_id, "category_code": None}
    ]
    with sessions() as s:
        # the ward committee (smaller area) first; the province-wide department for health too
        assert [a.code for a in agencies_for(s, loaded_areas.tan_an_ward_id, "health")] == [
            "ubnd-tan-an",
            "so-yt",
        ]
        assert [a.code for a in agencies_for(s, loaded_areas.tan_an_ward_id, "roads")] == ["ubnd-tan-an"]
        assert [a.code for a in agencies_for(s, loaded_areas.khanh_hau_ward_id, "health")] == ["so-yt"]
        assert agencies_for(s, loaded_areas.khanh_hau_ward_id, "roads") == []
    wrong = client.delete(f"/api/v1/agencies/{ward['id']}/jurisdictions/{dept_jur}", headers=admin_headers)
    assert wrong.status_code == 404
    assert (
        client.delete(
            f"/api/v1/agencies/{dept['id']}/jurisdictions/{dept_jur}", headers=admin_headers
        ).status_code
        == 204
    )
    with sessions() as s:
        assert agencies_for(s, loaded_areas.khanh_hau_ward_id, "health") == []
    assert audit_actions(sessions, "agency").count("agency.jurisdiction.add") == 2
    assert "agency.jurisdiction.remove" in audit_actions(sessions, "agency")


def test_officer_cannot_create_keys(
    client: TestClient, make_user: Callable[..., User], auth: Auth, sessions: sessionmaker[Session]
) -> None:
    for role in (Role.OFFICER, Role.SUPERVISOR, Role.OPERATOR, Role.CITIZEN):
        r = client.post("/api/v1/keys", json={"name": "k", "scopes": ["read"]}, headers=auth(make_user(role)))
        assert r.status_code == 403
    assert client.get("/api/v1/keys", headers=auth(make_user(Role.OFFICER))).status_code == 403
    with sessions() as s:
        assert s.scalar(select(ApiKey.id)) is None


def test_api_key_lifecycle_secret_shown_once(
    client: TestClient, admin_headers: dict[str, str], sessions: sessionmaker[Session]
) -> None:
    r = client.post(
        "/api/v1/keys",
        json={"name": "Trạm mặn Tân An", "scopes": ["ingest"], "thing_id": 12},
        headers=admin_headers,
    )
    assert r.status_code == 201, r.text
    created = r.json()
    key = created["key"]
    assert key.startswith(created["prefix"])
    listed = client.get("/api/v1/keys", headers=admin_headers).json()["items"]
    assert [k["id"] for k in listed] == [created["id"]]
    assert key not in str(listed)
    assert "key" not in listed[0]
    with sessions() as s:
        row = s.get(ApiKey, created["id"])
        assert row is not None
        assert row.secret_hash != key
        assert key not in str([e.after for e in s.scalars(select(AuditEntry))])
    # the key authenticates (a key is not a user: /auth/me says 403)
    assert client.get("/api/v1/auth/me", headers={"X-API-Key": key}).status_code == 403
    assert client.get("/api/v1/agencies", headers={"X-API-Key": key}).status_code == 200
    assert client.get("/api/v1/keys", headers={"X-API-Key": key}).status_code == 403
    # revoke: then 401
    assert client.delete(f"/api/v1/keys/{created['id']}", headers=admin_headers).status_code == 204
    assert client.get("/api/v1/agencies", headers={"X-API-Key": key}).status_code == 401
    assert client.delete("/api/v1/keys/99999", headers=admin_headers).status_code == 404
    assert client.get("/api/v1/keys", headers=admin_headers).json()["items"] == []
    assert (
        len(
            client.get("/api/v1/keys", params={"include_revoked": True}, headers=admin_headers).json()[
                "items"
            ]
        )
        == 1
    )
    assert audit_actions(sessions, "api_key") == ["api_key.create", "api_key.revoke"]


def test_api_key_bad_input(client: TestClient, admin_headers: dict[str, str]) -> None:
    for body in [
        {"name": "k", "scopes": []},
        {"name": "k", "scopes": ["admin"]},
        {"name": "k", "scopes": ["read"], "thing_id": 3},  # thing_id only limits ingest keys
        {"name": "k", "scopes": ["ingest"], "thing_id": "3"},
        {"name": "k", "scopes": ["read"], "expires_at": "2020-01-01T00:00:00+07:00"},
        {"name": "k", "scopes": ["read"], "expires_at": "2099-01-01T00:00:00"},
        {"name": "k", "scopes": ["read"], "owner_user_id": 99999},
    ]:
        r = client.post("/api/v1/keys", json=body, headers=admin_headers)
        assert r.status_code == 422, (body, r.text)
    assert client.get("/api/v1/keys", headers=admin_headers).json()["items"] == []


def test_expired_api_key_is_401(
    client: TestClient, make_api_key: Callable[..., str], sessions: sessionmaker[Session]
) -> None:
    key = make_api_key([ApiScope.READ])
    assert client.get("/api/v1/agencies", headers={"X-API-Key": key}).status_code == 200
    with sessions() as s:
        row = s.scalars(select(ApiKey)).one()
        assert row.last_used_at is not None  # recorded on use
        row.expires_at = utcnow() - timedelta(seconds=1)
        s.commit()
    assert client.get("/api/v1/agencies", headers={"X-API-Key": key}).status_code == 401
    assert client.get("/api/v1/agencies", headers={"X-API-Key": "cok_made_up"}).status_code == 401


def test_read_key_cannot_ingest_and_ingest_key_is_bound_to_its_thing(
    make_api_key: Callable[..., str], session: Session
) -> None:
    read = principal_for_api_key(session, make_api_key([ApiScope.READ]))
    ingest = principal_for_api_key(session, make_api_key([ApiScope.INGEST], thing_id=5))
    assert read is not None
    assert ingest is not None

    class Batch:
        def __init__(self, thing_id: int) -> None:
            self.thing_id = thing_id

    assert can(read, Action.SENSING_READ)
    assert not can(read, Action.SENSING_INGEST, Batch(5))
    assert can(ingest, Action.SENSING_INGEST, Batch(5))
    assert not can(ingest, Action.SENSING_INGEST, Batch(6))
    assert principal_for_api_key(session, "cok_nope") is None
    assert principal_for_api_key(session, "") is None


def test_user_password_login_after_admin_password_reset(
    client: TestClient,
    make_user: Callable[..., User],
    admin_headers: dict[str, str],
    auth: Auth,
    sessions: sessionmaker[Session],
) -> None:
    user = make_user(Role.CITIZEN, username="quen")
    old_session = auth(user)
    r = client.patch(f"/api/v1/users/{user.id}", json={"password": "mat-khau-moi-456"}, headers=admin_headers)
    assert r.status_code == 200
    assert (
        client.post("/api/v1/auth/login", json={"username": "quen", "password": DEFAULT_PASSWORD}).status_code
        == 401
    )
    assert (
        client.post(
            "/api/v1/auth/login", json={"username": "quen", "password": "mat-khau-moi-456"}
        ).status_code
        == 200
    )
    assert client.get("/api/v1/auth/me", headers=old_session).status_code == 401  # signed out everywhere
    with sessions() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "user.update")).one()
        assert entry.target_id == str(user.id)
        assert entry.after is not None
        assert entry.after["password_changed"] is True
        assert "mat-khau-moi-456" not in str(entry.after)


def test_patch_agency_audited_and_refuses_cycles(
    client: TestClient,
    admin_headers: dict[str, str],
    make_user: Callable[..., User],
    auth: Auth,
    sessions: sessionmaker[Session],
) -> None:
    a = client.post("/api/v1/agencies", json={"code": "a", "name": "Sở A"}, headers=admin_headers).json()
    b = client.post("/api/v1/agencies", json={"code": "b", "name": "Phòng B"}, headers=admin_headers).json()
    url = f"/api/v1/agencies/{b['id']}"
    assert client.patch(url, json={"name": "x"}, headers=auth(make_user(Role.OPERATOR))).status_code == 403
    r = client.patch(url, json={"name": "Phòng Quản lý đô thị", "parent_id": a["id"]}, headers=admin_headers)
    assert r.status_code == 200, r.text
    assert r.json()["parent_id"] == a["id"]
    assert client.get("/api/v1/agencies", params={"q": "quan ly do thi"}).json()["items"][0]["code"] == "b"
    cycle = client.patch(f"/api/v1/agencies/{a['id']}", json={"parent_id": b["id"]}, headers=admin_headers)
    assert cycle.status_code == 422
    assert client.patch(url, json={"parent_id": 99999}, headers=admin_headers).status_code == 422
    assert client.patch(url, json={"parent_id": None}, headers=admin_headers).json()["parent_id"] is None
    assert (
        client.patch("/api/v1/agencies/99999", json={"name": "x"}, headers=admin_headers).status_code == 404
    )
    with sessions() as s:
        updates = s.scalars(select(AuditEntry).where(AuditEntry.action == "agency.update")).all()
    assert len(updates) == 2
    assert updates[0].before is not None
    assert updates[0].before["name"] == "Phòng B"


def test_me_lists_agencies_and_allowed_actions(
    client: TestClient, make_user: Callable[..., User], make_agency: Callable[..., object], auth: Auth
) -> None:
    agency = make_agency(code="ubnd-x", name="UBND xã X")
    officer = make_user(Role.OFFICER, agency=agency)
    me = client.get("/api/v1/auth/me", headers=auth(officer)).json()
    assert me["agencies"] == [
        {"id": agency.id, "code": "ubnd-x", "name": "UBND xã X", "kind": "ward_committee", "parent_id": None}
    ]  # type: ignore[attr-defined]
    assert "auth.me" in me["actions"]
    assert "user.list" not in me["actions"]
    admin_me = client.get("/api/v1/auth/me", headers=auth(make_user(Role.ADMIN))).json()
    assert "user.list" in admin_me["actions"]


def test_personal_data_changes_are_audited_without_the_values(
    client: TestClient,
    make_user: Callable[..., User],
    admin_headers: dict[str, str],
    sessions: sessionmaker[Session],
) -> None:
    user = make_user(Role.CITIZEN, full_name="Tên Cũ")
    r = client.patch(
        f"/api/v1/users/{user.id}",
        json={"full_name": "Tên Mới", "email": "moi@example.vn"},
        headers=admin_headers,
    )
    assert r.status_code == 200
    with sessions() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "user.update")).one()
    assert entry.after is not None
    assert entry.after["changed_fields"] == ["email", "full_name"]
    assert "Tên Mới" not in str(entry.after)
    assert "moi@example.vn" not in str(entry.after)
    assert "Tên Cũ" not in str(entry.before)
    # a no-op patch records nothing
    client.patch(f"/api/v1/users/{user.id}", json={"full_name": "Tên Mới"}, headers=admin_headers)
    with sessions() as s:
        assert len(s.scalars(select(AuditEntry).where(AuditEntry.action == "user.update")).all()) == 1
