"""Personal data across capabilities: one export, account deletion, and the retention sweep.

Reports keep the reporter's details apart from the case (``CaseReporter``) and already export and erase
them (:mod:`cityops.reports.followup`); this module reuses that and adds what lies elsewhere: the user
record, alert subscriptions, Web Push subscriptions and sign-in sessions.

Retention: ``privacy_retention_days`` after a case was closed, rejected or resolved, the sweep removes its
reporters' names, phone numbers, e-mail addresses, device/account ids and user links, and the case's
exact address; the case itself (category, place on the map, timeline) stays for statistics. Finished
notification deliveries (which hold phone numbers and e-mail addresses) and one-time codes older than that
are deleted too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from cityops.alerts.models import AlertSubscription
from cityops.audit.service import record
from cityops.clock import utcnow
from cityops.errors import Forbidden, NotFound
from cityops.identity.models import Role, User
from cityops.identity.policy import Principal
from cityops.identity.tokens import revoke_user_sessions
from cityops.notify.models import Delivery, OtpCode, PushSubscription
from cityops.reports import followup
from cityops.reports.access import Actor
from cityops.reports.models import Case, CaseReporter
from cityops.settings import Settings

FINISHED_STATES = ("closed", "rejected", "resolved")


def export_all(session: Session, user_id: int) -> dict[str, Any]:
    """Everything cityops holds about the user ``user_id``, as JSON-ready data."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such user")
    alert_subs = session.scalars(
        select(AlertSubscription).where(AlertSubscription.user_id == user_id).order_by(AlertSubscription.id)
    )
    pushes = session.scalars(
        select(PushSubscription).where(PushSubscription.user_id == user_id).order_by(PushSubscription.id)
    )
    return {
        "exported_at": utcnow().isoformat(),
        "account": {
            "id": user.id,
            "username": user.username,
            "phone": user.phone,
            "email": user.email,
            "full_name": user.full_name,
            "role": Role(user.role).value,
            "created_at": user.created_at.isoformat() if user.created_at else None,
        },
        "reports": followup.export_personal_data(session, user_id),
        "alert_subscriptions": [
            {
                "area_id": s.area_id,
                "min_severity": str(s.min_severity),
                "locale": s.locale,
                "active": s.active,
                "created_at": s.created_at.isoformat() if s.created_at else None,
            }
            for s in alert_subs
        ],
        "push_subscriptions": [
            {"endpoint": p.endpoint, "created_at": p.created_at.isoformat() if p.created_at else None}
            for p in pushes
        ],
    }


@dataclass(frozen=True)
class Deletion:
    erased_reports: int
    alert_subscriptions: int
    push_subscriptions: int


def delete_account(session: Session, principal: Principal, *, now: datetime | None = None) -> Deletion:
    """Close the signed-in citizen's account: reports stay (anonymous), everything personal goes.

    The user row stays as an inactive, nameless tombstone so the links that other records hold (audit,
    case events) keep pointing at "a deleted account", not at nothing. Staff accounts are closed by an
    admin instead (their actions must stay attributable).
    """
    now = now or utcnow()
    if principal.user_id is None:
        raise Forbidden("Only a signed-in citizen can delete their account")
    user = session.get(User, principal.user_id)
    if user is None:
        raise NotFound("No such user")
    if Role(user.role) is not Role.CITIZEN:
        raise Forbidden("Staff accounts are closed by an administrator")
    erased = followup.erase_personal_data(session, Actor(principal), user.id, now=now)
    alerts = session.execute(delete(AlertSubscription).where(AlertSubscription.user_id == user.id))
    pushes = session.execute(delete(PushSubscription).where(PushSubscription.user_id == user.id))
    revoke_user_sessions(session, user.id, now)
    addresses = {a for a in (user.phone, user.email, f"user:{user.id}") if a}
    session.execute(
        delete(Delivery).where(
            or_(Delivery.user_id == user.id, Delivery.address.in_(addresses)),
            Delivery.status.in_(("sent", "failed")),
        )
    )
    if user.phone:
        session.execute(delete(OtpCode).where(OtpCode.phone == user.phone))
    user.username = None
    user.phone = None
    user.email = None
    user.full_name = ""
    user.name_key = ""
    user.password_hash = None
    user.is_active = False
    session.flush()
    result = Deletion(
        erased, int(getattr(alerts, "rowcount", 0) or 0), int(getattr(pushes, "rowcount", 0) or 0)
    )
    record(session, principal, "privacy.delete_account", "user", user.id, None, {"erased_reports": erased})
    return result


@dataclass(frozen=True)
class SweepStats:
    reporters: int
    addresses: int
    deliveries: int = 0
    otp_codes: int = 0


def retention_sweep(session: Session, settings: Settings, *, now: datetime | None = None) -> SweepStats:
    """Remove personal fields of cases finished more than ``privacy_retention_days`` ago."""
    cutoff = (now or utcnow()) - timedelta(days=settings.privacy_retention_days)
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
    deliveries = session.execute(
        delete(Delivery).where(Delivery.status.in_(("sent", "failed")), Delivery.created_at < cutoff)
    )
    otps = session.execute(delete(OtpCode).where(OtpCode.created_at < cutoff))
    session.flush()
    return SweepStats(
        reporters=len(reporters),
        addresses=len(cases),
        deliveries=int(getattr(deliveries, "rowcount", 0) or 0),
        otp_codes=int(getattr(otps, "rowcount", 0) or 0),
    )
