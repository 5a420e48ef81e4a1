"""Alerts as Smart Data Models ``Alert`` entities (read-only: alerts are opened by the rules, acknowledged
and closed through /api/v1/alerts). Only open and acknowledged alerts are listed; any alert is read by id."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.alerts.models import Alert, AlertState

TYPE = "Alert"
ID_RE = re.compile(r"^urn:ngsi-ld:Alert:cityops:alert:(\d+)$")
SEVERITY = {"info": "informational", "watch": "low", "warning": "medium", "critical": "critical"}


def alert_id_of(eid: str) -> int | None:
    m = ID_RE.match(eid)
    return int(m.group(1)) if m else None


def _iso(at: datetime | None) -> str | None:
    return at.isoformat().replace("+00:00", "Z") if at else None


def to_entity(a: Alert) -> dict[str, Any]:
    def prop(value: Any) -> dict[str, Any]:
        return {"type": "Property", "value": value}

    e: dict[str, Any] = {
        "id": f"urn:ngsi-ld:Alert:cityops:alert:{a.id}",
        "type": TYPE,
        "category": prop("environment"),
        "severity": prop(SEVERITY.get(str(a.severity), str(a.severity))),
        "description": {"type": "LanguageProperty", "languageMap": {"vi": a.message_vi, "en": a.message_en}},
        "dateIssued": prop(_iso(a.opened_at)),
        "validFrom": prop(_iso(a.opened_at)),
        "alertStatus": prop(str(a.state)),
        "areaServed": prop([str(i) for i in a.area_ids or []]),
    }
    if a.closed_at:
        e["validTo"] = prop(_iso(a.closed_at))
    if a.last_value is not None:
        e["lastValue"] = prop(a.last_value)
    e["createdAt"] = _iso(a.opened_at)
    e["modifiedAt"] = _iso(a.closed_at or a.acknowledged_at or a.opened_at)
    return e


def get(session: Session, eid: str) -> dict[str, Any] | None:
    aid = alert_id_of(eid)
    row = session.get(Alert, aid) if aid is not None else None
    return to_entity(row) if row is not None else None


def current(session: Session, ids: list[str] | None) -> list[dict[str, Any]]:
    stmt = select(Alert).where(Alert.state != AlertState.CLOSED)
    if ids is not None:
        wanted = [i for i in (alert_id_of(x) for x in ids) if i is not None]
        if not wanted:
            return []
        stmt = select(Alert).where(Alert.id.in_(wanted))
    return [to_entity(a) for a in session.scalars(stmt.order_by(Alert.id)).all()]
