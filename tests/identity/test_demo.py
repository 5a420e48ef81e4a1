"""Demo agencies and users: complete, routed, idempotent, passwords shown only in dev (both backends)."""

from __future__ import annotations

import io

from fastapi.testclient import TestClient
from rich.console import Console
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.audit.models import AuditEntry
from cityops.identity.agencies import agencies_for
from cityops.identity.demo import AGENCIES, USERS, demo_password, load
from cityops.identity.models import Agency, AgencyJurisdiction, Role, User
from cityops.settings import Environment, Settings
from tests.fixtures_areas import LoadedAreas


def run_demo(session: Session, settings: Settings) -> str:
    out = io.StringIO()
    load(session, settings, Console(file=out, width=200))
    session.commit()
    return out.getvalue()


def counts(session: Session) -> tuple[int, int, int, int]:
    return (
        session.scalar(select(func.count()).select_from(Agency)) or 0,
        session.scalar(select(func.count()).select_from(AgencyJurisdiction)) or 0,
        session.scalar(select(func.count()).select_from(User)) or 0,
        session.scalar(select(func.count()).select_from(AuditEntry)) or 0,
    )


def test_demo_agencies_users_and_routing(
    session: Session, settings: Settings, loaded_areas: LoadedAreas, client: TestClient
) -> None:
    dev = settings.model_copy(update={"env": Environment.DEV})
    printed = run_demo(session, dev)
    assert "admin-demo" in printed  # dev mode prints the demo passwords
    first = counts(session)
    assert first[0] == len(AGENCIES) == 13
    assert first[2] == len(USERS)
    assert {u.role for u in session.scalars(select(User))} == set(Role)
    # every agency got its jurisdiction (areas are loaded)
    no_jurisdiction = session.scalars(select(Agency.code).where(~Agency.jurisdictions.any())).all()
    assert no_jurisdiction == []
    # routing: a pothole in phường Tân An → its committee first, then the Department of Construction
    routed = [a.code for a in agencies_for(session, loaded_areas.tan_an_ward_id, "roads")]
    assert routed == ["ubnd-p-tan-an", "so-xd"]
    assert [a.code for a in agencies_for(session, loaded_areas.khanh_hau_ward_id, "public_order")] == [
        "ubnd-p-khanh-hau",
        "ca-tinh",
    ]
    # staff belong to their agency and can sign in with the printed password
    officer = session.scalars(select(User).where(User.username == "tanan.officer")).one()
    tan_an = session.scalars(select(Agency).where(Agency.code == "ubnd-p-tan-an")).one()
    assert officer.agency_ids == [tan_an.id]
    r = client.post(
        "/api/v1/auth/login", json={"username": "tanan.officer", "password": demo_password("tanan.officer")}
    )
    assert r.status_code == 200
    # citizens sign in by phone too
    assert session.scalars(select(User.phone).where(User.username == "citizen")).one() == "+84912345678"
    # again: nothing new, nothing printed about passwords
    before = counts(session)
    again = run_demo(session, dev)
    assert counts(session) == before
    assert "admin-demo" not in again


def test_demo_hides_passwords_outside_dev(
    session: Session, settings: Settings, loaded_areas: LoadedAreas
) -> None:
    assert not settings.is_dev
    printed = run_demo(session, settings)
    assert "-demo" not in printed
    assert "not shown" in printed
    from cityops.identity.passwords import verify_password

    admin_hash = session.scalars(select(User.password_hash).where(User.username == "admin")).one()
    assert not verify_password(admin_hash, demo_password("admin"))


def test_demo_without_areas_creates_agencies_and_says_so(session: Session, settings: Settings) -> None:
    printed = run_demo(session, settings)
    assert "not loaded" in printed
    assert counts(session)[0] == len(AGENCIES)
    assert counts(session)[1] == 0
