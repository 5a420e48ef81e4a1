"""``cityops users …`` and ``cityops keys …`` against the test database (both backends)."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from cityops.audit.models import AuditEntry
from cityops.identity import plugin
from cityops.identity.models import ApiKey, Role, User
from cityops.identity.tokens import find_api_key
from tests.conftest import Backend


@pytest.fixture
def run(backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("CITYOPS_DATABASE_URL", backend.url)
    monkeypatch.setenv("CITYOPS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CITYOPS_ENV", "test")
    return CliRunner()


@pytest.fixture
def app() -> typer.Typer:  # shadows the web app fixture: these tests need no server
    cli = typer.Typer()
    plugin.register_cli(cli=cli)
    return cli


def test_users_create_and_list(
    run: CliRunner, app: typer.Typer, make_agency: object, sessions: sessionmaker[Session]
) -> None:
    agency = make_agency(code="ubnd-p-tan-an")  # type: ignore[operator]
    r = run.invoke(
        app,
        [
            "users",
            "create",
            "--username",
            "Can.Bo",
            "--role",
            "officer",
            "--agency",
            "ubnd-p-tan-an",
            "--phone",
            "0912 111 222",
            "--password",
            "mat-khau-dai-1",
        ],
    )
    assert r.exit_code == 0, r.output
    with sessions() as s:
        user = s.scalars(select(User).where(User.username == "can.bo")).one()
        assert user.role is Role.OFFICER
        assert user.phone == "+84912111222"
        assert user.agency_ids == [agency.id]
        entry = s.scalars(
            select(AuditEntry).where(AuditEntry.target_type == "user", AuditEntry.target_id == str(user.id))
        ).one()
        assert (entry.actor_type, entry.actor_label, entry.action) == ("system", "cli", "user.create")
    listed = run.invoke(app, ["users", "list"])
    assert listed.exit_code == 0
    assert "can.bo" in listed.stdout
    assert "ubnd-p-tan-an" in listed.stdout


def test_users_create_prompts_for_the_password(
    run: CliRunner, app: typer.Typer, sessions: sessionmaker[Session]
) -> None:
    r = run.invoke(
        app,
        ["users", "create", "--username", "hoi", "--role", "citizen"],
        input="mat-khau-dai-2\nmat-khau-dai-2\n",
    )
    assert r.exit_code == 0, r.output
    with sessions() as s:
        assert s.scalar(select(User.password_hash).where(User.username == "hoi"))


def test_users_create_refuses_bad_input(
    run: CliRunner, app: typer.Typer, sessions: sessionmaker[Session]
) -> None:
    assert (
        run.invoke(app, ["users", "create", "--username", "x", "--role", "king", "--no-password"]).exit_code
        != 0
    )
    r = run.invoke(
        app, ["users", "create", "--username", "ok", "--role", "officer", "--agency", "nope", "--no-password"]
    )
    assert r.exit_code == 1
    r = run.invoke(app, ["users", "create", "--username", "ok", "--role", "officer", "--password", "short"])
    assert r.exit_code == 1
    with sessions() as s:
        assert s.scalar(select(User.id)) is None


def test_keys_create_prints_the_secret_once_and_revoke(
    run: CliRunner, app: typer.Typer, sessions: sessionmaker[Session]
) -> None:
    r = run.invoke(
        app,
        ["keys", "create", "--name", "Trạm mặn", "--scope", "ingest", "--scope", "read", "--thing-id", "7"],
    )
    assert r.exit_code == 0, r.output
    key = r.stdout.strip().splitlines()[-1]
    with sessions() as s:
        row = find_api_key(s, key)
        assert row is not None
        assert sorted(row.scopes) == ["ingest", "read"]
        assert row.thing_id == 7
        key_id = row.id
    listed = run.invoke(app, ["keys", "list"])
    assert key not in listed.stdout
    assert run.invoke(app, ["keys", "create", "--name", "x", "--scope", "root"]).exit_code != 0
    assert run.invoke(app, ["keys", "revoke", str(key_id)]).exit_code == 0
    again = run.invoke(app, ["keys", "revoke", str(key_id)])
    assert again.exit_code == 0
    assert run.invoke(app, ["keys", "revoke", "9999"]).exit_code == 1
    with sessions() as s:
        assert find_api_key(s, key) is None
        assert s.get(ApiKey, key_id).revoked_at is not None  # type: ignore[union-attr]
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.target_type == "api_key")).all()
        assert actions == ["api_key.create", "api_key.revoke"]
