"""The personal data notify holds (``personal_data`` hook): Web Push subscriptions, deliveries (which carry
phone numbers and e-mail addresses) and one-time sign-in codes.

Erasure deletes the user's push subscriptions, their finished deliveries and their codes; it runs before
identity blanks the account, whose phone and e-mail find them. Retention deletes finished deliveries and
codes older than the cutoff (deliveries still being retried stay).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from cityops.identity.models import User
from cityops.notify.models import Delivery, OtpCode, PushSubscription
from cityops.specs import PersonalDataSpec

FINISHED = ("sent", "failed")


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def export(session: Session, user_id: int) -> list[dict[str, Any]]:
    pushes = session.scalars(
        select(PushSubscription).where(PushSubscription.user_id == user_id).order_by(PushSubscription.id)
    )
    return [
        {"endpoint": p.endpoint, "created_at": p.created_at.isoformat() if p.created_at else None}
        for p in pushes
    ]


def erase(session: Session, user_id: int) -> int:
    """Delete the user's push subscriptions, finished deliveries and codes; returns the subscriptions."""
    push_ids = session.scalars(select(PushSubscription.id).where(PushSubscription.user_id == user_id)).all()
    pushes = session.execute(delete(PushSubscription).where(PushSubscription.user_id == user_id))
    user = session.get(User, user_id)
    phone, email = (user.phone, user.email) if user is not None else (None, None)
    addresses = {a for a in (phone, email, f"user:{user_id}", *(f"push:{i}" for i in push_ids)) if a}
    session.execute(
        delete(Delivery).where(
            or_(Delivery.user_id == user_id, Delivery.address.in_(addresses)), Delivery.status.in_(FINISHED)
        )
    )
    if phone:
        session.execute(delete(OtpCode).where(OtpCode.phone == phone))
    return _count(pushes)


def purge(session: Session, cutoff: datetime) -> Mapping[str, int]:
    deliveries = session.execute(
        delete(Delivery).where(Delivery.status.in_(FINISHED), Delivery.created_at < cutoff)
    )
    otps = session.execute(delete(OtpCode).where(OtpCode.created_at < cutoff))
    return {"deliveries": _count(deliveries), "otp_codes": _count(otps)}


SPEC = PersonalDataSpec(
    key="push_subscriptions",
    description="Web Push subscriptions; notifications sent (addresses) and one-time codes",
    export=export,
    erase=erase,
    purge=purge,
)
