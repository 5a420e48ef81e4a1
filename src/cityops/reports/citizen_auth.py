"""Citizen sign-in by phone number and a one-time code (SMS through :mod:`cityops.notify`; logged in dev).

``POST /api/v1/reports/auth/otp`` sends a code; ``POST /api/v1/reports/auth/otp/verify`` checks it and
answers a bearer token (or a cookie session), creating the citizen account on first sign-in. Codes,
their rate limits and attempt limits are the notify capability's; sessions are identity's. Only citizen
accounts sign in this way: a staff member's phone cannot be used to obtain a staff session by SMS.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from cityops.deps import SessionDep, SettingsDep
from cityops.errors import Forbidden, Invalid, Unauthorized
from cityops.identity.deps import CSRF_COOKIE, SESSION_COOKIE
from cityops.identity.models import Role, SessionKind, User
from cityops.identity.phones import normalize_phone
from cityops.identity.policy import Principal
from cityops.identity.tokens import create_session
from cityops.notify import issue_otp, verify_otp
from cityops.reports import integrations

router = APIRouter(prefix="/api/v1/reports/auth", tags=["reports"])


class OtpSentOut(BaseModel):
    sent: bool
    expires_in: int


class SignedInUser(BaseModel):
    id: int
    role: str


class OtpSignInOut(BaseModel):
    """The session: a bearer ``token``, or (``session``) cookies and the ``csrf_token`` to echo."""

    token: str | None
    token_type: str
    expires_at: str
    user: SignedInUser
    csrf_token: str | None = None


class OtpRequestIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    phone: str = Field(min_length=8, max_length=32)


class OtpVerifyIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    phone: str = Field(min_length=8, max_length=32)
    code: str = Field(min_length=1, max_length=12)
    session: bool = False  # true: an HttpOnly cookie session instead of a bearer token


def _phone(value: str) -> str:
    try:
        return normalize_phone(value)
    except ValueError as exc:
        raise Invalid(f"The phone number is not valid: {exc}", code="invalid_phone") from None


@router.post("/otp", status_code=202, response_model=OtpSentOut)
def request_code(body: OtpRequestIn, session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    """Send a sign-in code to ``phone`` (the same answer whether or not an account exists)."""
    phone = _phone(body.phone)
    issue_otp(session, settings, phone)
    return {"sent": True, "expires_in": settings.otp_ttl_seconds}


@router.post("/otp/verify", response_model=OtpSignInOut, response_model_exclude_unset=True)
def verify_code(
    body: OtpVerifyIn, request: Request, response: Response, session: SessionDep, settings: SettingsDep
) -> dict[str, Any]:
    """Check the code; sign the citizen in (creating the account the first time)."""
    phone = _phone(body.phone)
    if not verify_otp(session, phone, body.code):
        raise Unauthorized("The code is wrong, expired or used", code="invalid_code")
    user = session.scalar(select(User).where(User.phone == phone))
    if user is None:
        user = User(phone=phone, role=Role.CITIZEN, full_name="", is_active=True)
        session.add(user)
        session.flush()
    if user.role is not Role.CITIZEN:
        raise Forbidden("Staff accounts sign in with their password")
    if not user.is_active:
        raise Forbidden("This account is disabled")
    kind = SessionKind.COOKIE if body.session else SessionKind.BEARER
    row, token = create_session(
        session,
        user,
        ttl_minutes=settings.token_ttl_minutes,
        kind=kind,
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )
    integrations.audit(
        session, Principal.for_user(user, session_id=row.id), "auth.otp_login", user.id, target_type="user"
    )
    session.commit()
    out: dict[str, Any] = {
        "token": None if body.session else token,
        "token_type": "cookie" if body.session else "bearer",
        "expires_at": row.expires_at.isoformat(),
        "user": {"id": user.id, "role": user.role.value},
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
        )
        assert row.csrf_token is not None
        response.set_cookie(
            CSRF_COOKIE, row.csrf_token, max_age=max_age, samesite="lax", secure=settings.cookie_secure
        )
        out["csrf_token"] = row.csrf_token
    return out
