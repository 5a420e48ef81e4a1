"""Delivering alerts to the subscribers of the areas they concern, through ``cityops.notify`` channels.

The alerts plugin consumes ``alerts.opened`` and ``alerts.escalated`` events and calls
:func:`deliver_event`. Each subscriber whose area is among the alert's areas and whose minimum severity
is reached gets one message (Vietnamese first; English when the subscription's locale is ``en``).
An alert reaches the subscribers of its areas, of their current successors and direct predecessors
(a subscription to an old Long An ward still hears of its merged successor, and the other way round) and
of every unit above them (a province subscriber hears of every ward). A subscription with
``push_subscription_id`` goes to that one browser by Web Push.
Redelivered events send nothing twice: the (action, severity) pairs already delivered are kept in
``Alert.details["delivered"]``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from cityops.alerts.models import Alert, AlertSubscription, Rule, Severity
from cityops.alerts.rules import SEVERITY_EN, SEVERITY_VI
from cityops.notify.channels import Message, Recipient
from cityops.notify.models import PushSubscription
from cityops.notify.notifier import Notifier
from cityops.settings import Settings

DELIVERED_ACTIONS = ("opened", "escalated")


def areas_concerned(session: Session, area_ids: Iterable[int]) -> set[int]:
    """``area_ids`` with their current successors, direct predecessors and every unit above them."""
    from cityops.areas.lineage import direct_predecessors, successors_of
    from cityops.areas.models import Area
    from cityops.areas.service import ancestors

    found: set[int] = set()
    for area_id in set(area_ids):
        area = session.get(Area, area_id)
        if area is None:
            continue
        related = {area, *successors_of(session, area_id)}
        for unit in list(related):
            related.update(a for a, _link in direct_predecessors(session, unit.id))
        for unit in list(related):
            related.update(ancestors(session, unit))
        found.update(unit.id for unit in related)
    return found


def subscribers(session: Session, area_ids: Iterable[int], severity: Severity) -> list[AlertSubscription]:
    """Active subscriptions to any of ``area_ids`` (following lineage and parents) whose minimum severity
    ``severity`` reaches (one per person or browser)."""
    ids = sorted(areas_concerned(session, area_ids))
    if not ids:
        return []
    rows = session.scalars(
        select(AlertSubscription)
        .outerjoin(PushSubscription, PushSubscription.id == AlertSubscription.push_subscription_id)
        .where(
            AlertSubscription.area_id.in_(ids),
            AlertSubscription.active.is_(True),
            # a browser's subscription that the push service said is gone (deleted or disabled) gets nothing
            or_(
                AlertSubscription.push_subscription_id.is_(None),
                and_(PushSubscription.id.is_not(None), PushSubscription.disabled_at.is_(None)),
            ),
        )
        .order_by(AlertSubscription.id)
    ).all()
    seen: set[tuple[Any, ...]] = set()
    out = []
    for sub in rows:
        if Severity(sub.min_severity).rank > severity.rank:
            continue
        key = (sub.user_id, sub.phone, sub.email, sub.push_subscription_id)
        if key in seen:
            continue
        seen.add(key)
        out.append(sub)
    return out


def message_for(alert: Alert, rule: Rule | None, sub: AlertSubscription) -> Message:
    name_vi = rule.name_vi if rule else "Cảnh báo"
    name_en = (rule.name_en or rule.name_vi) if rule else "Alert"
    recipient = (
        Recipient(user_id=sub.user_id, push={"ref": str(sub.push_subscription_id)})
        if sub.push_subscription_id is not None
        else Recipient(user_id=sub.user_id, phone=sub.phone, email=sub.email)
    )
    return Message(
        recipient,
        subject_vi=f"[{SEVERITY_VI[alert.severity]}] {name_vi}",
        body_vi=alert.message_vi,
        subject_en=f"[{SEVERITY_EN[alert.severity]}] {name_en}",
        body_en=alert.message_en,
        locale=sub.locale,
        category="alert",
        data={
            "alert_id": alert.id,
            "severity": alert.severity.value,
            "opened_at": alert.opened_at.isoformat() if alert.opened_at else None,
            "url": f"/#/alerts/{alert.id}",
        },
    )


def deliver(session: Session, notifier: Notifier, alert: Alert, action: str) -> int:
    """Send ``alert`` to its areas' subscribers once per (action, severity); returns messages queued."""
    if action not in DELIVERED_ACTIONS:
        return 0
    marker = f"{action}:{alert.severity.value}"
    details = dict(alert.details or {})
    done = list(details.get("delivered", []))
    if marker in done:
        return 0
    rule = session.get(Rule, alert.rule_id) if alert.rule_id else None
    subs = subscribers(session, alert.area_ids or [], alert.severity)
    for sub in subs:
        notifier.send(session, message_for(alert, rule, sub))
    details["delivered"] = [*done, marker]
    alert.details = details
    session.flush()
    return len(subs)


def deliver_event(session: Session, settings: Settings, subject: str, payload: dict[str, Any]) -> int:
    """Handle one ``alerts.*`` event (the caller commits; notify sends after the commit)."""
    alert = session.get(Alert, int(payload.get("alert_id", 0)))
    if alert is None:
        return 0
    action = subject.rsplit(".", 1)[-1]
    return deliver(session, Notifier.from_settings(settings), alert, action)
