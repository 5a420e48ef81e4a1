"""Native identity API: sign-in, users, agencies and their jurisdiction, API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from cityops.audit.service import record
from cityops.deps import SessionDep, SettingsDep
from cityops.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from cityops.identity import passwords, throttle, tokens
from cityops.identity.agencies import (
    add_jurisdiction,
    agency_view,
    create_agency,
    remove_jurisdiction,
    update_agency,
)
from cityops.identity.apikeys import api_key_view, create_api_key, revoke_api_key
from cityops.identity.deps import CSRF_COOKIE, SESSION_COOKIE, CurrentPrincipal
from cityops.identity.models import (
    Agency,
    AgencyJurisdiction,
    AgencyKind,
    ApiKey,
    ApiScope,
    AuthSession,
    Membership,
    Role,
    SessionKind,
    User,
)
from cityops.identity.policy import Action, Principal, allowed_actions, authorize
from cityops.identity.users import create_user, find_login, update_user, user_view
from cityops.paging import Page, page_params, total
from cityops.text import search_key

router = APIRouter(prefix="/api/v1", tags=["identity"])

STRICT = ConfigDict(strict=True, extra="forbid")
# Strict models take enums only as instances when FastAPI validates parsed JSON; accept their values.
RoleIn = Annotated[Role, Field(strict=False)]
AgencyKindIn = Annotated[AgencyKind, Field(strict=False)]


class LoginIn(BaseModel):
    model_config = STRICT
    username: str = Field(min_length=1, max_length=254, description="Username or phone number.")
    password: str = Field(min_length=1, max_length=1024)
    session: bool = Field(False, description="Set a browser session cookie instead of returning a token.")


class UserCreateIn(BaseModel):
    model_config = STRICT
    role: RoleIn
    username: str | None = None
    phone: str | None = None
    email: str | None = None
    full_name: str = ""
    password: str | None = None
    agency_ids: list[int] = Field(default_factory=list)


class UserPatchIn(BaseModel):
    model_config = STRICT
    role: RoleIn | None = None
    is_active: bool | None = None
    full_name: str | None = None
    email: str | None = None
    password: str | None = None
    agency_ids: list[int] | None = None


class AgencyCreateIn(BaseModel):
    model_config = STRICT
    code: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=255)
    kind: AgencyKindIn = AgencyKind.OTHER
    parent_id: int | None = None


class JurisdictionIn(BaseModel):
    model_config = STRICT
    area_id: int
    category_code: str | None = Field(None, max_length=64, description="None: every category.")


class ApiKeyCreateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")  # not strict: expires_at arrives as an ISO string
    name: str = Field(min_length=1, max_length=128)
    scopes: list[ApiScope] = Field(min_length=1)
    thing_id: int | None = Field(None, strict=True)
    owner_user_id: int | None = Field(None, strict=True)
    owner_agency_id: int | None = Field(None, strict=True)
    expires_at: datetime | None = None


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


# --- sign-in ---------------------------------------------------------------------------------------


@router.post("/auth/login")
def login(
    body: LoginIn, request: Request, response: Response, session: SessionDep, settings: SettingsDep
) -> Any:
    """Sign in with a username (or phone) and password: a bearer token, or a cookie session.

    Throttled per account and per client IP (429 with ``Retry-After``). With ``session: true`` the
    token goes only into an HttpOnly cookie (``token`` is null) and the response carries the CSRF
    token to send as ``X-CSRF-Token`` on unsafe requests.
    """
    user = find_login(session, body.username)
    keys = throttle.ThrottleKeys(
        throttle.account_key(body.username, user.id if user else None), _client_ip(request)
    )
    throttle.check(session, settings, keys)
    ok = passwords.verify_password(user.password_hash if user else None, body.password)
    if user is None or not ok or not user.is_active:
        throttle.record(session, settings, keys, success=False)
        session.commit()
        raise Unauthorized("Wrong username or password", code="invalid_credentials")
    throttle.record(session, settings, keys, success=True)
    if user.password_hash and passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(body.password)
    kind = SessionKind.COOKIE if body.session else SessionKind.BEARER
    row, token = tokens.create_session(
        session,
        user,
        ttl_minutes=settings.token_ttl_minutes,
        kind=kind,
        ip=_client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )
    actor = Principal.for_user(user, session_id=row.id)
    record(
        session,
        actor,
        "auth.login",
        "user",
        user.id,
        after={"session_id": row.id, "kind": kind.value},
        request=request,
    )
    session.commit()
    out: dict[str, Any] = {
        "token": None if body.session else token,
        "token_type": "cookie" if body.session else "bearer",
        "expires_at": row.expires_at.isoformat(),
        "user": user_view(user),
    }
    if body.session:
        max_age = settings.token_ttl_minutes * 60
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=max_age,
            httponly=True,
            samesite="lax",
            secure=settings.cookie_secure,
            path="/",
        )
        assert row.csrf_token is not None
        response.set_cookie(
            CSRF_COOKIE,
            row.csrf_token,
            max_age=max_age,
            httponly=False,
            samesite="lax",
            secure=settings.cookie_secure,
            path="/",
        )
        out["csrf_token"] = row.csrf_token
    return out


@router.post("/auth/logout", status_code=204)
def logout(
    principal: CurrentPrincipal, request: Request, response: Response, session: SessionDep
) -> Response:
    """End the current session (bearer token or cookie)."""
    authorize(principal, Action.AUTH_ME)
    if principal.session_id is not None:
        row = session.get(AuthSession, principal.session_id)
        if row is not None:
            tokens.revoke_session(row)
            record(
                session,
                principal,
                "auth.logout",
                "user",
                principal.user_id,
                after={"session_id": row.id},
                request=request,
            )
            session.commit()
    out = Response(status_code=204)
    out.delete_cookie(SESSION_COOKIE, path="/")
    out.delete_cookie(CSRF_COOKIE, path="/")
    return out


class PasswordChangeIn(BaseModel):
    model_config = STRICT
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


@router.post("/auth/password", status_code=204)
def change_password(
    body: PasswordChangeIn,
    principal: CurrentPrincipal,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """Change your own password; every other session of yours is signed out. Throttled like sign-in."""
    authorize(principal, Action.AUTH_ME)
    user = session.get(User, principal.user_id)
    if user is None:
        raise Unauthorized()
    keys = throttle.ThrottleKeys(throttle.account_key("", user.id), _client_ip(request))
    throttle.check(session, settings, keys)
    if not passwords.verify_password(user.password_hash, body.current_password):
        throttle.record(session, settings, keys, success=False)
        session.commit()
        raise Forbidden("The current password is wrong", code="invalid_credentials")
    update_user(
        session,
        user,
        password=body.new_password,
        actor=principal,
        request=request,
        keep_session_id=principal.session_id,
    )
    session.commit()
    return Response(status_code=204)


@router.get("/auth/me")
def me(principal: CurrentPrincipal, session: SessionDep) -> Any:
    """The signed-in user, their agencies, and the actions they may take (for hiding what they cannot use).

    ``actions`` lists only actions that need no particular object; case actions depend on the case.
    """
    authorize(principal, Action.AUTH_ME)
    user = session.get(User, principal.user_id)
    if user is None:
        raise Unauthorized()
    agencies = session.scalars(select(Agency).where(Agency.id.in_(user.agency_ids)).order_by(Agency.code))
    return {
        **user_view(user),
        "agencies": [agency_view(a, with_jurisdictions=False) for a in agencies],
        "actions": [a.value for a in allowed_actions(principal)],
    }


# --- users -----------------------------------------------------------------------------------------


def _get_user(session: SessionDep, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such user")
    return user


@router.get("/users")
def list_users(
    principal: CurrentPrincipal,
    session: SessionDep,
    page: Annotated[Page, Depends(page_params(100))],
    role: Role | None = None,
    agency_id: int | None = None,
    q: Annotated[str | None, Query(max_length=100, description="Username, phone or name contains.")] = None,
) -> Any:
    authorize(principal, Action.USER_LIST)
    stmt = select(User)
    if role is not None:
        stmt = stmt.where(User.role == role)
    if agency_id is not None:
        stmt = stmt.where(User.id.in_(select(Membership.user_id).where(Membership.agency_id == agency_id)))
    if q:
        for word in search_key(q).split():
            stmt = stmt.where(
                User.name_key.contains(word, autoescape=True) | User.phone.contains(word, autoescape=True)
            )
    users = session.scalars(page.of(stmt.order_by(User.id)))
    return {
        "items": [user_view(u) for u in users],
        "total": total(session, stmt),
        "limit": page.limit,
        "offset": page.offset,
    }


@router.post("/users", status_code=201)
def create_user_route(
    body: UserCreateIn, principal: CurrentPrincipal, request: Request, session: SessionDep
) -> Any:
    authorize(principal, Action.USER_CREATE)
    user = create_user(
        session,
        role=body.role,
        username=body.username,
        phone=body.phone,
        email=body.email,
        full_name=body.full_name,
        password=body.password,
        agency_ids=body.agency_ids,
        actor=principal,
        request=request,
    )
    session.commit()
    return user_view(user)


@router.get("/users/{user_id}")
def get_user(user_id: int, principal: CurrentPrincipal, session: SessionDep) -> Any:
    user = session.get(User, user_id)
    # Same answer for "no such user" and "not yours", so ids cannot be probed.
    authorize(principal, Action.USER_VIEW, user)
    if user is None:
        raise NotFound("No such user")
    return user_view(user)


@router.patch("/users/{user_id}")
def patch_user(
    user_id: int, body: UserPatchIn, principal: CurrentPrincipal, request: Request, session: SessionDep
) -> Any:
    authorize(principal, Action.USER_UPDATE)
    user = _get_user(session, user_id)
    if user.id == principal.user_id and (
        (body.role is not None and body.role != user.role) or body.is_active is False
    ):
        raise Conflict("You cannot change your own role or deactivate yourself; ask another admin")
    fields = body.model_dump(exclude_unset=True)
    update_user(session, user, actor=principal, request=request, **fields)
    session.commit()
    return user_view(user)


# --- agencies ---------------------------------------------------------------------------------------


def _get_agency(session: SessionDep, agency_id: int) -> Agency:
    agency = session.get(Agency, agency_id)
    if agency is None:
        raise NotFound("No such agency")
    return agency


@router.get("/agencies")
def list_agencies(
    principal: CurrentPrincipal,
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=100, description="Name contains (diacritics ignored).")] = None,
    kind: AgencyKind | None = None,
) -> Any:
    """Public list of agencies with their jurisdiction."""
    authorize(principal, Action.AGENCY_LIST)
    stmt = select(Agency).order_by(Agency.code)
    if kind is not None:
        stmt = stmt.where(Agency.kind == kind)
    if q:
        for word in search_key(q).split():
            stmt = stmt.where(Agency.name_key.contains(word, autoescape=True))
    return {"items": [agency_view(a) for a in session.scalars(stmt)]}


@router.get("/agencies/{agency_id}")
def get_agency(agency_id: int, principal: CurrentPrincipal, session: SessionDep) -> Any:
    authorize(principal, Action.AGENCY_LIST)
    return agency_view(_get_agency(session, agency_id))


@router.post("/agencies", status_code=201)
def create_agency_route(
    body: AgencyCreateIn, principal: CurrentPrincipal, request: Request, session: SessionDep
) -> Any:
    authorize(principal, Action.AGENCY_CREATE)
    agency = create_agency(
        session,
        code=body.code,
        name=body.name,
        kind=body.kind,
        parent_id=body.parent_id,
        actor=principal,
        request=request,
    )
    session.commit()
    return agency_view(agency)


class AgencyPatchIn(BaseModel):
    model_config = STRICT
    name: str | None = Field(None, min_length=1, max_length=255)
    kind: AgencyKindIn | None = None
    parent_id: int | None = None


@router.patch("/agencies/{agency_id}")
def patch_agency(
    agency_id: int, body: AgencyPatchIn, principal: CurrentPrincipal, request: Request, session: SessionDep
) -> Any:
    """Rename an agency, change its kind or parent (``parent_id: null`` detaches it)."""
    authorize(principal, Action.AGENCY_UPDATE)
    agency = _get_agency(session, agency_id)
    fields = body.model_dump(exclude_unset=True)
    update_agency(session, agency, actor=principal, request=request, **fields)
    session.commit()
    return agency_view(agency)


@router.post("/agencies/{agency_id}/jurisdictions", status_code=201)
def add_jurisdiction_route(
    agency_id: int, body: JurisdictionIn, principal: CurrentPrincipal, request: Request, session: SessionDep
) -> Any:
    authorize(principal, Action.JURISDICTION_MANAGE)
    agency = _get_agency(session, agency_id)
    row = add_jurisdiction(
        session,
        agency,
        area_id=body.area_id,
        category_code=body.category_code,
        actor=principal,
        request=request,
    )
    session.commit()
    return {
        "id": row.id,
        "agency_id": row.agency_id,
        "area_id": row.area_id,
        "category_code": row.category_code,
    }


@router.delete("/agencies/{agency_id}/jurisdictions/{jurisdiction_id}", status_code=204)
def remove_jurisdiction_route(
    agency_id: int, jurisdiction_id: int, principal: CurrentPrincipal, request: Request, session: SessionDep
) -> Response:
    authorize(principal, Action.JURISDICTION_MANAGE)
    row = session.get(AgencyJurisdiction, jurisdiction_id)
    if row is None or row.agency_id != agency_id:
        raise NotFound("No such jurisdiction for this agency")
    remove_jurisdiction(session, row, actor=principal, request=request)
    session.commit()
    return Response(status_code=204)


# --- API keys ---------------------------------------------------------------------------------------


@router.get("/keys")
def list_keys(
    principal: CurrentPrincipal,
    session: SessionDep,
    include_revoked: bool = False,
) -> Any:
    authorize(principal, Action.API_KEY_LIST)
    stmt = select(ApiKey).order_by(ApiKey.id)
    if not include_revoked:
        stmt = stmt.where(ApiKey.revoked_at.is_(None))
    return {"items": [api_key_view(k) for k in session.scalars(stmt)]}


@router.post("/keys", status_code=201)
def create_key(
    body: ApiKeyCreateIn, principal: CurrentPrincipal, request: Request, session: SessionDep
) -> Any:
    """Create an API key. The response's ``key`` is shown this once and never again."""
    authorize(principal, Action.API_KEY_CREATE)
    if body.expires_at is not None and body.expires_at.tzinfo is None:
        raise Invalid("expires_at needs a time zone (e.g. 2026-01-01T00:00:00+07:00)")
    if body.owner_user_id is not None and session.get(User, body.owner_user_id) is None:
        raise Invalid("Unknown owner user", details={"owner_user_id": body.owner_user_id})
    if body.owner_agency_id is not None and session.get(Agency, body.owner_agency_id) is None:
        raise Invalid("Unknown owner agency", details={"owner_agency_id": body.owner_agency_id})
    row, key = create_api_key(
        session,
        name=body.name,
        scopes=body.scopes,
        thing_id=body.thing_id,
        owner_user_id=body.owner_user_id,
        owner_agency_id=body.owner_agency_id,
        expires_at=body.expires_at,
        actor=principal,
        request=request,
    )
    session.commit()
    return {**api_key_view(row), "key": key}


@router.delete("/keys/{key_id}", status_code=204)
def revoke_key(key_id: int, principal: CurrentPrincipal, request: Request, session: SessionDep) -> Response:
    authorize(principal, Action.API_KEY_REVOKE)
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound("No such API key")
    revoke_api_key(session, row, actor=principal, request=request)
    session.commit()
    return Response(status_code=204)
