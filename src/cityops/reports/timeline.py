"""The append-only case timeline (every transition, assignment, comment and note) plus its audit twin."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cityops.reports import integrations
from cityops.reports.access import Actor
from cityops.reports.models import Case, CaseEvent


def snapshot(case: Case) -> dict[str, Any]:
    """The case fields an audit record compares (no personal data)."""
    return {
        "state": case.state,
        "agency_id": case.agency_id,
        "assignee_id": case.assignee_id,
        "reject_reason": case.reject_reason,
        "master_id": case.master_id,
        "resolve_due_at": case.resolve_due_at.isoformat() if case.resolve_due_at else None,
    }


def record(
    session: Session,
    case: Case,
    actor: Actor,
    at: datetime,
    kind: str,
    *,
    action: str | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
    public: bool = False,
    comment: str | None = None,
    data: dict[str, Any] | None = None,
    before: dict[str, Any] | None = None,
) -> CaseEvent:
    """Append one timeline entry and write the matching audit record."""
    event = CaseEvent(
        case_id=case.id,
        at=at,
        actor_id=actor.user_id,
        actor_role=actor.role,
        kind=kind,
        action=action,
        from_state=from_state,
        to_state=to_state,
        public=public,
        comment=comment,
        data=data or {},
    )
    session.add(event)
    integrations.audit(
        session,
        actor,
        f"case.{action or kind}",
        case.id,
        before=before,
        after=snapshot(case) | ({"comment": comment} if comment and kind != "note" else {}),
    )
    return event
