"""Opaque random tokens for sessions and API keys. Only SHA-256 digests are stored.

A token is 256 random bits (``secrets.token_urlsafe(32)``); see :class:`cityops.identity.models.ApiKey`
for why a fast digest is right for such secrets while passwords get argon2.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from cityops.clock import utcnow
from cityops.identity.models import ApiKey, AuthSession, SessionKind, User

API_KEY_PREFIX = "cok_"  # cityops key; makes leaked keys easy to spot by secret scanners
PREFIX_SHOWN = 12  # characters of the key kept in clear to tell keys apart


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_session(
    session: Session,
    user: User,
    *,
    ttl_minutes: int,
    kind: SessionKind = SessionKind.BEARER,
    ip: str | None = None,
    user_agent: str | None = None,
    now: datetime | None = None,
) -> tuple[AuthSession, str]:
    """Open a session for ``user``; returns the row and the token (the only time it exists in clear)."""
    now = now or utcnow()
    token = new_secret()
    row = AuthSession(
        token_hash=digest(token),
        user_id=user.id,
        kind=kind,
        csrf_token=secrets.token_urlsafe(32) if kind is SessionKind.COOKIE else None,
        created_at=now,
        expires_at=now + timedelta(minutes=ttl_minutes),
        ip=ip,
        user_agent=(user_agent or "")[:255] or None,
    )
    session.add(row)
    session.flush()
    return row, token


def find_session(session: Session, token: str, now: datetime | None = None) -> AuthSession | None:
    """The usable (not expired, not revoked) session of ``token`` whose user is active, else None."""
    row = session.scalar(select(AuthSession).where(AuthSession.token_hash == digest(token)))
    if row is None or not row.usable(now or utcnow()) or not row.user.is_active:
        return None
    return row


def revoke_session(row: AuthSession, now: datetime | None = None) -> None:
    if row.revoked_at is None:
        row.revoked_at = now or utcnow()


def revoke_user_sessions(
    session: Session, user_id: int, now: datetime | None = None, *, keep_session_id: int | None = None
) -> None:
    """Sign a user out everywhere (deactivation, role change, password change), except ``keep_session_id``."""
    stmt = update(AuthSession).where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
    if keep_session_id is not None:
        stmt = stmt.where(AuthSession.id != keep_session_id)
    session.execute(
        stmt.values(revoked_at=now or utcnow()), execution_options={"synchronize_session": "fetch"}
    )


def new_api_key() -> tuple[str, str, str]:
    """``(key, prefix, secret_hash)`` for a new API key."""
    key = API_KEY_PREFIX + new_secret()
    return key, key[:PREFIX_SHOWN], digest(key)


def find_api_key(session: Session, key: str, now: datetime | None = None) -> ApiKey | None:
    """The usable (not expired, not revoked) API key for ``key``, else None."""
    if not key.startswith(API_KEY_PREFIX):
        return None
    row = session.scalar(select(ApiKey).where(ApiKey.secret_hash == digest(key)))
    if row is None or not row.usable(now or utcnow()):
        return None
    return row


def purge_sessions(session: Session, *, keep_days: int = 30, now: datetime | None = None) -> int:
    """Delete sessions that expired or were revoked more than ``keep_days`` ago (they hold IPs and
    user agents, personal data with no further use). Returns how many were deleted; the caller commits.
    Meant for a periodic maintenance job."""
    horizon = (now or utcnow()) - timedelta(days=keep_days)
    result = session.execute(
        delete(AuthSession).where(
            (AuthSession.expires_at < horizon)
            | (AuthSession.revoked_at.is_not(None) & (AuthSession.revoked_at < horizon))
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
