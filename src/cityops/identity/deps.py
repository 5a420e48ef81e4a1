"""Who is asking: FastAPI dependencies that turn credentials into a :class:`Principal`.

Credentials, in order: ``Authorization: Bearer <token>``, ``X-API-Key: <key>``, the session cookie.
A bearer token or API key that is wrong, expired or revoked is refused with 401 (never silently
treated as anonymous). A stale session cookie is ignored (the request is anonymous), so public
pages keep working in a browser with an old cookie; endpoints that need a user still answer 401.

Cookie sessions and CSRF (double submit): at sign-in the server sets the HttpOnly session cookie and a
readable ``cityops_csrf`` cookie, and returns the same CSRF token in the JSON. For POST, PUT, PATCH and
DELETE authenticated by the cookie, the ``X-CSRF-Token`` header must equal the session's token,
else 403. Bearer and API-key requests need no CSRF token (browsers never add them on their own).

Routes::

    def create_thing(principal: CurrentPrincipal, ...): authorize(principal, Action.SENSING_MANAGE)
    @router.get("/x", dependencies=[Depends(requires(Action.AUDIT_READ))])
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from cityops.clock import utcnow
from cityops.deps import SessionDep
from cityops.errors import Forbidden, Unauthorized
from cityops.identity import tokens
from cityops.identity.models import SessionKind
from cityops.identity.policy import Action, Principal, authorize

SESSION_COOKIE = "cityops_session"
CSRF_COOKIE = "cityops_csrf"
CSRF_HEADER = "X-CSRF-Token"
API_KEY_HEADER = "X-API-Key"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# last_used_at is written at most this often per key, so busy devices do not write on every request.
LAST_USED_GRANULARITY = timedelta(minutes=1)

_BEARER_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def principal_for_api_key(session: Session, key: str) -> Principal | None:
    """The principal of a usable API key string, else None (e.g. Open311's ``api_key`` form field).

    Records ``last_used_at`` (coarsely) and commits it.
    """
    now = utcnow()
    row = tokens.find_api_key(session, key.strip(), now)
    if row is None:
        return None
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_GRANULARITY:
        row.last_used_at = now
        session.commit()
    return Principal.for_api_key(row)


def _from_bearer(session: Session, token: str) -> Principal:
    row = tokens.find_session(session, token)
    if row is None or row.kind is not SessionKind.BEARER:
        raise Unauthorized("The token is invalid, expired or revoked", headers=_BEARER_CHALLENGE)
    return Principal.for_user(row.user, session_id=row.id)


def _from_cookie(request: Request, session: Session, token: str) -> Principal:
    row = tokens.find_session(session, token)
    if row is None or row.kind is not SessionKind.COOKIE:
        return Principal.anonymous()
    if request.method in UNSAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not row.csrf_token or not hmac.compare_digest(sent.encode(), row.csrf_token.encode()):
            raise Forbidden(f"Missing or wrong {CSRF_HEADER} header for a cookie session", code="csrf_failed")
    return Principal.for_user(row.user, session_id=row.id)


def resolve_principal(request: Request, session: Session) -> Principal:
    """The principal of ``request`` (cached on ``request.state`` for the rest of the request)."""
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    principal: Principal
    authorization = request.headers.get("authorization")
    api_key = request.headers.get(API_KEY_HEADER)
    cookie = request.cookies.get(SESSION_COOKIE)
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            raise Unauthorized("Use 'Authorization: Bearer <token>'", headers=_BEARER_CHALLENGE)
        principal = _from_bearer(session, credentials.strip())
    elif api_key:
        found = principal_for_api_key(session, api_key)
        if found is None:
            raise Unauthorized("The API key is invalid, expired or revoked")
        principal = found
    elif cookie:
        principal = _from_cookie(request, session, cookie)
    else:
        principal = Principal.anonymous()
    request.state.principal = principal
    return principal


def get_principal(request: Request, session: SessionDep) -> Principal:
    return resolve_principal(request, session)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def requires(action: Action) -> Callable[[Principal], Principal]:
    """A dependency that authorizes ``action`` (no target) and returns the principal."""

    def dependency(principal: CurrentPrincipal) -> Principal:
        authorize(principal, action)
        return principal

    return dependency
