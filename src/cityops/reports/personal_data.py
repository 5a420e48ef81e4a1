"""The personal data reports hold (``personal_data`` hook): reporters' contact details and case addresses.

Export and erasure reuse :mod:`cityops.reports.followup` (a citizen's own reports, subscriptions, ratings).
Retention: ``privacy_retention_days`` after a case was closed, rejected or resolved, its reporters' names,
phone numbers, e-mail addresses, device/account ids and user links go, and so does the case's exact
address; the case itself (category, place on the map, timeline) stays for statistics.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cityops.clock import utcnow
from cityops.identity.models import User
from cityops.identity.policy import Principal
from cityops.reports import followup
from cityops.reports.access import Actor
from cityops.reports.models import Case, CaseReporter
from cityops.specs import PersonalDataSpec

FINISHED_STATES = ("closed", "rejected", "resolved")


def erase(session: Session, user_id: int) -> int:
    """Unlink the citizen from their reports and erase the contact details they gave (cases stay)."""
    user = session.get(User, user_id)
    actor = Actor(Principal.for_user(user) if user is not None else Principal.anonymous())
    return followup.erase_personal_data(session, actor, user_id, now=utcnow())


def purge(session: Session, cutoff: datetime) -> Mapping[str, int]:
    """Clear the reporters and addresses of cases finished before ``cutoff``."""
    finished_before = or_(
        Case.closed_at < cutoff,
        (Case.closed_at.is_(None)) & (Case.resolved_at < cutoff),
        (Case.closed_at.is_(None))
        & (Case.resolved_at.is_(None))
        & (Case.state == "rejected")
        & (Case.updated_at < cutoff),
    )
    old = select(Case.id).where(Case.state.in_(FINISHED_STATES), finished_before)
    personal = or_(
        CaseReporter.user_id.is_not(None),
        CaseReporter.name.is_not(None),
        CaseReporter.phone.is_not(None),
        CaseReporter.email.is_not(None),
        CaseReporter.device_id.is_not(None),
        CaseReporter.account_id.is_not(None),
    )
    reporters = session.scalars(select(CaseReporter).where(CaseReporter.case_id.in_(old), personal)).all()
    for rep in reporters:
        rep.user_id = None
        rep.name = rep.phone = rep.email = rep.device_id = rep.account_id = None
    cases = session.scalars(select(Case).where(Case.id.in_(old), Case.address.is_not(None))).all()
    for case in cases:
        case.address = None
    session.flush()
    return {"reporters": len(reporters), "addresses": len(cases)}


SPEC = PersonalDataSpec(
    key="reports",
    description="reports a citizen made, with the contact details given; case subscriptions and ratings",
    export=followup.export_personal_data,
    erase=erase,
    purge=purge,
    erase_key="erased_reports",
)
