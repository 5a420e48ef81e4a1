"""Admin routes of API key quotas: set a key's limits (audited) and read its current usage."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from cityops.audit.service import record
from cityops.deps import SessionDep
from cityops.errors import NotFound
from cityops.identity.deps import CurrentPrincipal
from cityops.identity.models import ApiKey
from cityops.identity.policy import Action, authorize
from cityops.security.quotas import LocalQuotaStore, QuotaStore, usage_view

router = APIRouter(prefix="/api/v1/keys", tags=["identity"])


class QuotaIn(BaseModel):
    """``null`` means unlimited."""

    model_config = ConfigDict(extra="forbid")

    per_minute: int | None = Field(default=None, ge=1, le=1_000_000)
    per_day: int | None = Field(default=None, ge=1, le=100_000_000)


def _key(session: SessionDep, key_id: int) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound("No such API key")
    return row


def _store(request: Request) -> QuotaStore:
    store: QuotaStore | None = getattr(request.app.state, "quota_store", None)
    return store if store is not None else LocalQuotaStore()


@router.put("/{key_id}/quota")
def set_quota(
    key_id: int, body: QuotaIn, principal: CurrentPrincipal, request: Request, session: SessionDep
) -> Any:
    """Set the key's requests per minute and per day (``null``: unlimited); answers its usage."""
    authorize(principal, Action.API_KEY_QUOTA)
    row = _key(session, key_id)
    before = {"quota_per_minute": row.quota_per_minute, "quota_per_day": row.quota_per_day}
    row.quota_per_minute, row.quota_per_day = body.per_minute, body.per_day
    after = {"quota_per_minute": row.quota_per_minute, "quota_per_day": row.quota_per_day}
    record(session, principal, "api_key.quota", "api_key", row.id, before, after, request)
    session.commit()
    keys = getattr(request.app.state, "quota_keys", None)
    if keys is not None:
        keys.forget()  # this node applies it at once; the others within KEY_CACHE_SECONDS
    return {"id": row.id, **usage_view(_store(request), row.id, row.quota_per_minute, row.quota_per_day)}


@router.get("/{key_id}/usage")
def get_usage(key_id: int, principal: CurrentPrincipal, request: Request, session: SessionDep) -> Any:
    """The key's limits, the requests counted in the current minute and day, and when each resets."""
    authorize(principal, Action.API_KEY_QUOTA)
    row = _key(session, key_id)
    return {"id": row.id, **usage_view(_store(request), row.id, row.quota_per_minute, row.quota_per_day)}
