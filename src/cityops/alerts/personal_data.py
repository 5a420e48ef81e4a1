"""The personal data alerts hold (``personal_data`` hook): a user's alert subscriptions (areas, language)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cityops.alerts.models import AlertSubscription
from cityops.specs import PersonalDataSpec


def export(session: Session, user_id: int) -> list[dict[str, Any]]:
    subs = session.scalars(
        select(AlertSubscription).where(AlertSubscription.user_id == user_id).order_by(AlertSubscription.id)
    )
    return [
        {
            "area_id": s.area_id,
            "min_severity": str(s.min_severity),
            "locale": s.locale,
            "active": s.active,
            "created_at": s.created_at.isoformat() if s.created_at else None,
        }
        for s in subs
    ]


def erase(session: Session, user_id: int) -> int:
    done = session.execute(delete(AlertSubscription).where(AlertSubscription.user_id == user_id))
    return int(getattr(done, "rowcount", 0) or 0)


SPEC = PersonalDataSpec(
    key="alert_subscriptions",
    description="the areas whose alerts a user follows",
    export=export,
    erase=erase,
)
