"""Delivering alerts to the subscribers of the areas they concern, through ``cityops.notify`` channels.

The alerts plugin consumes ``alerts.opened`` and ``alerts.escalated`` events and calls
:func:`deliver_event`. Each subscriber whose area is among the alert's areas and whose minimum severity
is reached gets one message (Vietnamese first; English when the subscription's locale is ``en``).
Redelivered events send nothing twice: the (action, severity) pairs already delivered are kept in
``Alert.details["delivered"]``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.alerts.models import Alert, AlertSubscription, Rule, Severity
from cityops.alerts.rules import SEVERITY_EN, SEVERITY_VI
from cityops.notify.channels import Message, Recipient
from cityops.notify.notifier import Notifier
from cityops.settings import Settings

DELIVERED_ACTIONS = ("opened", "escalated")


def subscribers(session: Session, area_ids: Iterable[int], severity: Severity) -> list[AlertSubscription]:
    """Active subscriptions to any of ``area_ids`` whose minimum severity ``severity`` reaches (one per person)."""
    ids = sorted(set(area_ids))
    if not ids:
        return []
    rows = session.scalars(
        select(AlertSubscription)
        .where(AlertSubscription.area_id.in_(ids), AlertSubscription.active.is_(True))
        .order_by(AlertSubscription.id)
    ).all()
    seen: set[tuple[Any, ...]] = set()
    out = []
    for sub in rows:
        if Severity(sub.min_severity).rank > severity.rank:
            continue
        key = (sub.user_id, sub.phone, sub.email)
        if key in seen:
            continue
        seen.add(key)
        out.append(sub)
    return out


def message_for(alert: Alert, rule: Rule | None, sub: AlertSubscription) -> Message:
    name_vi = rule.name_vi if rule else "Cảnh báo"
    name_en = (rule.name_en or rule.name_vi) if rule else "Alert"
    return Message(
        Recipient(user_id=sub.user_id, phone=sub.phone, email=sub.email),
        subject_vi=f"[{SEVERITY_VI[alert.severity]}] {name_vi}",
        body_vi=alert.message_vi,
        subject_en=f"[{SEVERITY_EN[alert.severity]}] {name_en}",
        body_en=alert.message_en,
        locale=sub.locale,
        category="alert",
        data={"alert_id": alert.id, "severity": alert.severity.value},
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
