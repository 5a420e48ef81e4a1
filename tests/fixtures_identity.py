"""Identity fixtures (users, tokens, agencies, API keys) shared by every capability's tests.

All factories commit through their own session, so the app under test sees the rows::

    def test_officer_sees_queue(client, make_user, make_agency, auth):
        agency = make_agency(area_id=loaded_areas.tan_an_ward_id)
        officer = make_user(Role.OFFICER, agency=agency)
        client.get("/api/v1/cases", headers=auth(officer))
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from cityops.audit.models import PURGE_FUNCTION
from cityops.identity import passwords, tokens
from cityops.identity.agencies import add_jurisdiction, create_agency
from cityops.identity.apikeys import create_api_key
from cityops.identity.models import Agency, AgencyKind, ApiScope, Role, SessionKind, User
from cityops.identity.policy import Principal
from cityops.identity.users import create_user
from cityops.settings import Settings

DEFAULT_PASSWORD = "correct horse battery staple"
# argon2 at production cost takes ~0.5 s per hash on a small machine; the format and logic stay the same.
passwords.use_cheap_parameters_for_tests()
_seq = itertools.count(1)


def close_audit_hatch(dbapi_conn: Any) -> None:
    """Give this SQLite DB-API connection a ``cityops_audit_purge()`` that says no, so the audit trigger
    refuses DELETE with its own "append-only" message (without it: "no such function")."""
    dbapi_conn.create_function(PURGE_FUNCTION, 0, lambda: 0)


# --- factories ------------------------------------------------------------------------------------------


def _agency_ids(agency: Agency | int | Iterable[Agency | int] | None) -> list[int]:
    if agency is None:
        return []
    items = [agency] if isinstance(agency, Agency | int) else list(agency)
    return [a.id if isinstance(a, Agency) else a for a in items]


@pytest.fixture
def make_user(sessions: sessionmaker[Session]) -> Callable[..., User]:
    """``make_user(role=Role.CITIZEN, agency=None, *, username=None, password=DEFAULT_PASSWORD, phone=None,
    full_name="", is_active=True) -> User`` (committed; ``agency`` an Agency, an id or a list of them)."""

    def make(
        role: Role | str = Role.CITIZEN,
        agency: Agency | int | Iterable[Agency | int] | None = None,
        *,
        username: str | None = None,
        password: str | None = DEFAULT_PASSWORD,
        phone: str | None = None,
        full_name: str = "",
        is_active: bool = True,
    ) -> User:
        n = next(_seq)
        with sessions() as s:
            user = create_user(
                s,
                role=Role(role),
                username=username or f"{Role(role).value}{n}",
                phone=phone,
                full_name=full_name or f"Test {Role(role).value} {n}",
                password=password,
                agency_ids=_agency_ids(agency),
                audit_label="test",
            )
            user.is_active = is_active
            s.commit()
            s.refresh(user)
            _ = user.memberships
            return user

    return make


@pytest.fixture
def make_agency(sessions: sessionmaker[Session]) -> Callable[..., Agency]:
    """``make_agency(code=None, name=None, kind=AgencyKind.WARD_COMMITTEE, *, area_id=None,
    categories=None) -> Agency``; with ``area_id`` it gets a jurisdiction there (``categories`` None: all)."""

    def make(
        code: str | None = None,
        name: str | None = None,
        kind: AgencyKind | str = AgencyKind.WARD_COMMITTEE,
        *,
        area_id: int | None = None,
        categories: Iterable[str] | None = None,
    ) -> Agency:
        n = next(_seq)
        with sessions() as s:
            agency = create_agency(
                s,
                code=code or f"agency-{n}",
                name=name or f"Cơ quan thử {n}",
                kind=AgencyKind(kind),
                audit_label="test",
            )
            if area_id is not None:
                for category in list(categories or []) or [None]:
                    add_jurisdiction(s, agency, area_id=area_id, category_code=category, audit_label="test")
            s.commit()
            s.refresh(agency)
            _ = agency.jurisdictions
            return agency

    return make


@pytest.fixture
def token_for(sessions: sessionmaker[Session], settings: Settings) -> Callable[..., str]:
    """``token_for(user, *, ttl_minutes=settings.token_ttl_minutes) -> str``: a bearer token."""

    def make(user: User, *, ttl_minutes: int | None = None) -> str:
        with sessions() as s:
            db_user = s.get(User, user.id)
            assert db_user is not None
            _, token = tokens.create_session(
                s, db_user, ttl_minutes=ttl_minutes or settings.token_ttl_minutes, kind=SessionKind.BEARER
            )
            s.commit()
            return token

    return make


@pytest.fixture
def auth(token_for: Callable[..., str]) -> Callable[[User], dict[str, str]]:
    """``auth(user) -> {"Authorization": "Bearer …"}``."""

    def make(user: User) -> dict[str, str]:
        return {"Authorization": f"Bearer {token_for(user)}"}

    return make


@pytest.fixture
def make_api_key(sessions: sessionmaker[Session]) -> Callable[..., str]:
    """``make_api_key(scopes, thing_id=None, *, name=None, expires_at=None, owner_agency_id=None) -> str``:
    the key, for ``X-API-Key`` (or Open311's ``api_key``)."""

    def make(
        scopes: Iterable[ApiScope | str],
        thing_id: int | None = None,
        *,
        name: str | None = None,
        expires_at: datetime | None = None,
        owner_agency_id: int | None = None,
    ) -> str:
        with sessions() as s:
            _, key = create_api_key(
                s,
                name=name or f"test key {next(_seq)}",
                scopes=list(scopes),
                thing_id=thing_id,
                expires_at=expires_at,
                owner_agency_id=owner_agency_id,
                audit_label="test",
            )
            s.commit()
            return key

    return make


@pytest.fixture
def principal_for(sessions: sessionmaker[Session]) -> Callable[[User | str], Principal]:
    """``principal_for(user_or_api_key) -> Principal``, for calling services and the policy directly."""

    def make(who: User | str) -> Principal:
        with sessions() as s:
            if isinstance(who, str):
                row = tokens.find_api_key(s, who)
                assert row is not None, "not a usable API key"
                return Principal.for_api_key(row)
            user = s.get(User, who.id)
            assert user is not None
            return Principal.for_user(user)

    return make


@pytest.fixture
def admin(make_user: Callable[..., User]) -> User:
    return make_user(Role.ADMIN, username="admin-fixture")


@pytest.fixture
def admin_headers(admin: User, auth: Callable[[User], dict[str, str]]) -> dict[str, str]:
    return auth(admin)
