"""Reading the audit log (admins only). There is deliberately no route that changes it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request

from cityops.audit.models import AuditEntry
from cityops.audit.service import query
from cityops.clock import ensure_utc
from cityops.deps import SessionDep
from cityops.errors import NotFound
from cityops.identity.deps import CurrentPrincipal
from cityops.identity.policy import Action, authorize

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


def entry_view(e: AuditEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": e.at.isoformat(),
        "actor": {"type": e.actor_type, "id": e.actor_id, "label": e.actor_label},
        "action": e.action,
        "target": {"type": e.target_type, "id": e.target_id},
        "before": e.before,
        "after": e.after,
        "ip": e.ip,
        "request_id": e.request_id,
    }


@router.get("")
def list_entries(
    request: Request,
    principal: CurrentPrincipal,
    session: SessionDep,
    target_type: Annotated[str | None, Query(max_length=64)] = None,
    target_id: Annotated[str | None, Query(max_length=64)] = None,
    actor_type: Annotated[str | None, Query(pattern="^(user|api_key|system|anonymous)$")] = None,
    actor_id: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[
        str | None, Query(max_length=64, description="An action or its prefix (`user`).")
    ] = None,
    since: Annotated[
        datetime | None, Query(description="From this time (inclusive; no zone = local).")
    ] = None,
    until: Annotated[datetime | None, Query(description="Before this time (exclusive).")] = None,
    before_id: Annotated[int | None, Query(ge=1, description="Page: entries older than this id.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Any:
    """Audit entries, newest first; follow ``next`` for older pages."""
    authorize(principal, Action.AUDIT_READ)
    stmt = query(
        target_type=target_type,
        target_id=target_id,
        actor_type=actor_type,
        actor_id=actor_id,
        action=action,
        since=ensure_utc(since) if since else None,
        until=ensure_utc(until) if until else None,
        before_id=before_id,
    ).limit(limit + 1)
    rows = list(session.scalars(stmt))
    more = len(rows) > limit
    rows = rows[:limit]
    next_url = None
    if more:
        params = {k: v for k, v in request.query_params.items() if k != "before_id"}
        params["before_id"] = str(rows[-1].id)
        next_url = f"{request.url.path}?{urlencode(params)}"
    return {"items": [entry_view(e) for e in rows], "next": next_url}


@router.get("/{entry_id}")
def get_entry(entry_id: int, principal: CurrentPrincipal, session: SessionDep) -> Any:
    authorize(principal, Action.AUDIT_READ)
    entry = session.get(AuditEntry, entry_id)
    if entry is None:
        raise NotFound("No such audit entry")
    return entry_view(entry)
