"""Creating and revoking API keys (audited). The full key exists only in the return value of create."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from cityops.audit.service import record, snapshot
from cityops.clock import utcnow
from cityops.errors import Invalid
from cityops.identity import tokens
from cityops.identity.models import ApiKey, ApiScope
from cityops.text import nfc

if TYPE_CHECKING:
    from starlette.requests import Request

    from cityops.identity.policy import Principal


def create_api_key(
    session: Session,
    *,
    name: str,
    scopes: Iterable[ApiScope | str],
    thing_id: int | None = None,
    owner_user_id: int | None = None,
    owner_agency_id: int | None = None,
    expires_at: datetime | None = None,
    actor: Principal | None = None,
    request: Request | None = None,
    audit_label: str | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; returns ``(row, key)`` — show ``key`` to its owner once, it is not stored."""
    clean_name = nfc(name)
    if not clean_name:
        raise Invalid("An API key needs a name", details={"field": "name"})
    try:
        scope_list = sorted({ApiScope(s).value for s in scopes})
    except ValueError:
        raise Invalid(
            "Unknown scope", details={"allowed": [s.value for s in ApiScope], "given": list(map(str, scopes))}
        ) from None
    if not scope_list:
        raise Invalid("An API key needs at least one scope", details={"allowed": [s.value for s in ApiScope]})
    if thing_id is not None and ApiScope.INGEST.value not in scope_list:
        raise Invalid("thing_id limits an ingest key; add the ingest scope", details={"field": "thing_id"})
    if expires_at is not None and expires_at <= utcnow():
        raise Invalid("expires_at is in the past", details={"field": "expires_at"})
    key, prefix, secret_hash = tokens.new_api_key()
    row = ApiKey(
        name=clean_name,
        prefix=prefix,
        secret_hash=secret_hash,
        scopes=scope_list,
        thing_id=thing_id,
        owner_user_id=owner_user_id,
        owner_agency_id=owner_agency_id,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    record(
        session,
        actor,
        "api_key.create",
        "api_key",
        row.id,
        after=snapshot(row),
        request=request,
        label=audit_label,
    )
    return row, key


def revoke_api_key(
    session: Session,
    row: ApiKey,
    *,
    actor: Principal | None = None,
    request: Request | None = None,
    audit_label: str | None = None,
) -> bool:
    """Revoke a key (audited); False when it was already revoked (nothing changes)."""
    if row.revoked_at is not None:
        return False
    before = snapshot(row)
    row.revoked_at = utcnow()
    session.flush()
    record(
        session,
        actor,
        "api_key.revoke",
        "api_key",
        row.id,
        before=before,
        after=snapshot(row),
        request=request,
        label=audit_label,
    )
    return True


def api_key_view(row: ApiKey) -> dict[str, object]:
    return {
        "id": row.id,
        "name": row.name,
        "prefix": row.prefix,
        "scopes": list(row.scopes),
        "thing_id": row.thing_id,
        "owner_user_id": row.owner_user_id,
        "owner_agency_id": row.owner_agency_id,
        "created_at": row.created_at.isoformat(),
        "expires_at": row.expires_at.isoformat() if row.expires_at else None,
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
        "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
    }
