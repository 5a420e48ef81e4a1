"""Thin adapters over sibling capabilities (audit, events outbox, notifications, area lookup).

Reports calls the siblings only through these functions, so a sibling's signature change is fixed in
one place. Each adapter degrades to a log line when its capability is not installed.
"""

from __future__ import annotations

import importlib
import logging
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from cityops.settings import Settings

log = logging.getLogger("cityops.reports")


def _optional(module: str, name: str) -> Any:
    """``module.name`` if that capability is installed, else ``None``."""
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


def audit(
    session: Session,
    actor: Any,
    action: str,
    target_id: int,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    target_type: str = "case",
) -> None:
    """Record a change in the audit log (``target_type`` is ``case`` unless told)."""
    try:
        from cityops.audit.service import record
    except ImportError:  # pragma: no cover - audit not installed
        log.info("audit %s case %s", action, target_id)
        return
    principal = getattr(actor, "principal", actor)
    if principal is not None and getattr(principal, "is_anonymous", False):
        label = "reporter-token" if getattr(actor, "token_case_id", None) else "anonymous"
        record(session, None, action, target_type, target_id, before=before, after=after, label=label)
        return
    record(session, principal, action, target_type, target_id, before=before, after=after)


def emit(session: Session, subject: str, payload: dict[str, Any]) -> None:
    """Put an event in the transactional outbox (published after commit)."""
    outbox_emit = _optional("cityops.events.outbox", "emit")
    if outbox_emit is None:  # pragma: no cover - events not installed
        log.info("event %s %s", subject, payload)
        return
    outbox_emit(session, subject, payload)


def notify(
    session: Session, settings: Settings, recipient: Any, template: str, context: dict[str, Any]
) -> None:
    """Send a notification through the pluggable channels (dev mode logs it)."""
    send = _optional("cityops.notify", "notify")
    if send is None:  # pragma: no cover - notify not installed
        log.info("notify %s %s %s", recipient, template, context)
        return
    send(session, settings, recipient, template, context)


def find_area_id(session: Session, lat: float, lon: float, at: date | None = None) -> int | None:
    """The commune/ward containing the point on ``at`` (default today), or ``None``."""
    try:
        from cityops.areas.lookup import find_area
    except ImportError:  # pragma: no cover - areas lookup not installed yet
        return None
    area = find_area(session, lat, lon, at=at, level="commune")
    return area.id if area is not None else None
