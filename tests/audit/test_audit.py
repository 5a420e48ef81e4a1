"""The audit log: written in the caller's transaction, readable by admins only, immutable (both backends)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from cityops.audit.maintenance import audit_purge_allowed
from cityops.audit.models import AuditEntry, append_only_ddl
from cityops.audit.service import history, record, snapshot
from cityops.clock import utcnow
from cityops.db import make_engine
from cityops.identity.models import ApiScope, Role, User
from cityops.identity.policy import Principal
from tests.conftest import Backend
from tests.fixtures_identity import close_audit_hatch

Auth = Callable[[User], dict[str, str]]


def count(sessions: sessionmaker[Session]) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(AuditEntry)) or 0


def seed(sessions: sessionmaker[Session]) -> list[int]:
    """Five entries by different actors about different targets."""
    actor = Principal.for_user(User(id=41, username="tester", role=Role.ADMIN))
    with sessions() as s:
        ids = [
            record(s, actor, "user.create", "user", 101, after={"role": "citizen"}).id,
            record(
                s, actor, "user.update", "user", 101, before={"role": "citizen"}, after={"role": "officer"}
            ).id,
            record(s, None, "agency.create", "agency", 102, after={"code": "a"}, label="cli").id,
            record(s, Principal.anonymous(), "case.create", "case", 103, after={"x": 1}).id,
            record(s, actor, "user_x.create", "user", 109).id,
        ]
        s.commit()
    return ids


def test_record_actor_kinds_and_json_safe_values(session: Session) -> None:
    user = Principal.for_user(User(id=5, username="can.bo", role=Role.OFFICER))
    e1 = record(session, user, "user.update", "user", 5, before={"at": utcnow(), "role": Role.OFFICER})
    e2 = record(session, None, "sla.sweep", "case", None, label="scheduler")
    e3 = record(session, Principal.anonymous(), "case.create", "case", 7)
    session.commit()
    assert (e1.actor_type, e1.actor_id, e1.actor_label) == ("user", "5", "can.bo")
    assert e1.before is not None
    assert e1.before["role"] == "officer"
    assert isinstance(e1.before["at"], str)
    assert (e2.actor_type, e2.actor_id, e2.actor_label, e2.target_id) == ("system", None, "scheduler", None)
    assert (e3.actor_type, e3.actor_label, e3.target_id) == ("anonymous", "anonymous", "7")
    assert [e.action for e in history(session, "user", 5)] == ["user.update"]


def test_record_follows_the_callers_transaction(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        record(s, None, "user.create", "user", 1)
        s.rollback()
    assert count(sessions) == 0


def test_snapshot_never_holds_secrets_or_personal_data(
    session: Session, make_user: Callable[..., User]
) -> None:
    user = session.get(User, make_user(Role.CITIZEN, phone="0912 345 678", full_name="Nguyễn Thị Dân").id)
    assert user is not None
    snap = snapshot(user)
    assert "password_hash" not in snap
    assert snap["role"] == "citizen"
    assert isinstance(snap["created_at"], str)
    assert snap["phone"] == snap["full_name"] == "[redacted]"
    assert snap["email"] is None  # absence is not personal
    assert "912345678" not in str(snap)
    assert snapshot(user, redact=False)["phone"] == "+84912345678"


def test_audit_api_is_admin_only(
    client: TestClient, make_user: Callable[..., User], auth: Auth, make_api_key: Callable[..., str]
) -> None:
    assert client.get("/api/v1/audit").status_code == 401
    for role in (Role.CITIZEN, Role.OFFICER, Role.SUPERVISOR, Role.OPERATOR):
        assert client.get("/api/v1/audit", headers=auth(make_user(role))).status_code == 403
    assert (
        client.get("/api/v1/audit", headers={"X-API-Key": make_api_key([ApiScope.READ])}).status_code == 403
    )


def test_audit_api_filters_and_pages(
    client: TestClient, admin_headers: dict[str, str], sessions: sessionmaker[Session]
) -> None:
    ids = seed(sessions)

    def get(**params: object) -> dict[str, object]:
        r = client.get("/api/v1/audit", params=params, headers=admin_headers)
        assert r.status_code == 200, r.text
        body: dict[str, object] = r.json()
        return body

    def actions(body: dict[str, object]) -> list[str]:
        return [e["action"] for e in body["items"]]  # type: ignore[attr-defined, index]

    assert actions(get(target_type="user", target_id="101")) == ["user.update", "user.create"]
    assert actions(get(action="user", actor_id="41")) == ["user.update", "user.create"]  # prefix, not user_x
    assert actions(get(action="user_x.create")) == ["user_x.create"]
    assert "agency.create" in actions(get(actor_type="system"))
    assert actions(get(actor_type="anonymous")) == ["case.create"]
    assert actions(get(actor_type="user", actor_id="41", target_type="user")) == [
        "user_x.create",
        "user.update",
        "user.create",
    ]
    one = get(target_type="user", target_id="101", limit=1)
    update = one["items"][0]  # type: ignore[index]
    assert update["before"] == {"role": "citizen"}
    assert update["after"] == {"role": "officer"}
    assert update["actor"] == {"type": "user", "id": "41", "label": "tester"}
    page2 = client.get(str(one["next"]), headers=admin_headers).json()
    assert actions(page2) == ["user.create"]
    assert page2["next"] is None
    now = utcnow()
    assert (
        len(
            get(
                since=(now - timedelta(minutes=5)).isoformat(), until=(now + timedelta(minutes=5)).isoformat()
            )["items"]
        )
        >= 5
    )  # type: ignore[arg-type]
    assert get(since=(now + timedelta(hours=1)).isoformat())["items"] == []
    assert client.get("/api/v1/audit", params={"actor_type": "god"}, headers=admin_headers).status_code == 422
    assert client.get("/api/v1/audit", params={"limit": 0}, headers=admin_headers).status_code == 422
    assert client.get(f"/api/v1/audit/{ids[0]}", headers=admin_headers).json()["action"] == "user.create"
    assert client.get("/api/v1/audit/999999", headers=admin_headers).status_code == 404


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "POST"])
def test_no_api_changes_the_audit_log(
    method: str, client: TestClient, admin_headers: dict[str, str], sessions: sessionmaker[Session]
) -> None:
    ids = seed(sessions)
    before = count(sessions)
    for url in (f"/api/v1/audit/{ids[0]}", "/api/v1/audit"):
        r = client.request(method, url, headers=admin_headers, json={"action": "forged"})
        assert r.status_code == 405, (method, url)
        assert r.json()["error"]["code"] == "method_not_allowed"
    assert count(sessions) == before
    with sessions() as s:
        assert s.scalar(select(AuditEntry.action).where(AuditEntry.id == ids[0])) == "user.create"


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET action = 'forged'",
        "DELETE FROM audit_log",
        "UPDATE audit_log SET after = NULL WHERE id > 0",
    ],
)
def test_database_refuses_update_and_delete(
    statement: str, backend: Backend, sessions: sessionmaker[Session]
) -> None:
    seed(sessions)
    engine = make_engine(backend.url)
    try:
        with engine.connect() as conn:
            if backend.name == "sqlite":
                close_audit_hatch(conn.connection.driver_connection)
            with pytest.raises(DBAPIError, match="append-only"):
                conn.execute(text(statement))
            conn.rollback()
    finally:
        engine.dispose()
    assert count(sessions) == 5
    with sessions() as s:
        assert "forged" not in s.scalars(select(AuditEntry.action)).all()


def test_sqlite_connection_without_the_hatch_function_cannot_delete(
    backend: Backend, sessions: sessionmaker[Session]
) -> None:
    if backend.name != "sqlite":
        pytest.skip("SQLite-specific escape hatch")
    seed(sessions)
    path = make_url(backend.url).database
    assert path
    raw = sqlite3.connect(path)  # e.g. the sqlite3 shell: no function registered
    try:
        with pytest.raises(sqlite3.OperationalError, match="cityops_audit_purge"):
            raw.execute("DELETE FROM audit_log")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            raw.execute("UPDATE audit_log SET action = 'forged'")
    finally:
        raw.close()
    assert count(sessions) == 5


def test_purge_hatch_opens_only_inside_the_block(backend: Backend, sessions: sessionmaker[Session]) -> None:
    seed(sessions)
    engine = make_engine(backend.url)
    try:
        with engine.begin() as conn:
            if backend.name == "sqlite":
                close_audit_hatch(conn.connection.driver_connection)
                with audit_purge_allowed(conn):
                    conn.execute(text("DELETE FROM audit_log WHERE action = 'case.create'"))
                with pytest.raises(DBAPIError, match="append-only"):
                    conn.execute(text("DELETE FROM audit_log"))
            else:
                with audit_purge_allowed(conn), pytest.raises(DBAPIError, match="append-only"):
                    conn.execute(text("DELETE FROM audit_log"))  # PostgreSQL: no hatch at all
    finally:
        engine.dispose()
    assert count(sessions) == (4 if backend.name == "sqlite" else 5)


def test_triggers_installed_by_create_all(engine: Engine, backend: Backend) -> None:
    with engine.connect() as conn:
        if backend.name == "sqlite":
            names = set(conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars())
            assert {"audit_log_no_update", "audit_log_no_delete"} <= names
        else:
            names = set(conn.execute(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")).scalars())
            assert "audit_log_no_change" in names


def test_append_only_ddl_per_dialect() -> None:
    assert any("BEFORE UPDATE OR DELETE ON audit_log" in s for s in append_only_ddl("postgresql"))
    assert any("BEFORE DELETE ON audit_log" in s for s in append_only_ddl("sqlite"))
    with pytest.raises(ValueError, match="mysql"):
        append_only_ddl("mysql")


def test_entries_made_by_the_api_carry_ip_and_request_id(
    client: TestClient, admin_headers: dict[str, str], sessions: sessionmaker[Session]
) -> None:
    r = client.post(
        "/api/v1/agencies",
        json={"code": "so-thu", "name": "Sở Thử"},
        headers={**admin_headers, "X-Request-ID": "trace-123"},
    )
    assert r.status_code == 201
    with sessions() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "agency.create")).one()
    assert entry.request_id == "trace-123"
    assert entry.ip == "testclient"
    assert entry.target_id == str(r.json()["id"])


def test_readyz_fails_when_the_triggers_are_missing(
    client: TestClient, backend: Backend, engine: Engine
) -> None:
    r = client.get("/readyz")
    assert r.json()["checks"]["audit_append_only"] == "ok"
    drop = (
        ["DROP TRIGGER audit_log_no_update", "DROP TRIGGER audit_log_no_delete"]
        if backend.name == "sqlite"
        else ["DROP TRIGGER audit_log_no_change ON audit_log"]
    )
    with engine.begin() as conn:
        for stmt in drop:
            conn.exec_driver_sql(stmt)
    try:
        r = client.get("/readyz")
        assert r.status_code == 503
        assert "missing" in r.json()["checks"]["audit_append_only"]
    finally:
        with engine.begin() as conn:
            for stmt in append_only_ddl(backend.name):
                conn.exec_driver_sql(stmt)
    assert client.get("/readyz").json()["checks"]["audit_append_only"] == "ok"
