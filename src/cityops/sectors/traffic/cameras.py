"""The camera registry's liveness: heartbeats keep a camera online, silence flags it stale.

A camera (place type ``camera``) is expected to call ``POST /api/v1/traffic/cameras/{id}/heartbeat`` every
``heartbeat_s`` seconds (default 60) — usually its video management system does, with an ingest API key. A
heartbeat confirms the status: the place's ``status_at`` moves on, and only a change (stale or offline back to
online) writes a status-history entry, an audit record and a ``places.status_changed`` event. A camera online
whose last heartbeat is older than three intervals is moved to ``stale`` by :func:`mark_stale` (the background
task ``traffic.cameras_stale``, every minute). cityops stores no video and processes none.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.clock import ensure_utc, utcnow
from cityops.identity.policy import Principal
from cityops.places.models import Place, PlaceType
from cityops.places.service import change_status
from cityops.sectors.traffic.specs import CAMERA

DEFAULT_HEARTBEAT_S = 60
MISSED_BEATS = 3  # intervals without a heartbeat before a camera is stale
LABEL = "traffic-cameras"


def stale_after(place: Place) -> timedelta:
    """How long a camera may stay silent before it is flagged."""
    interval = (place.attributes or {}).get("heartbeat_s")
    return timedelta(seconds=MISSED_BEATS * (interval if isinstance(interval, int) else DEFAULT_HEARTBEAT_S))


def is_stale(place: Place, now: datetime) -> bool:
    """Online by its status, but silent for longer than three heartbeat intervals."""
    if place.status != "online" or place.status_at is None:
        return False
    return now - ensure_utc(place.status_at) > stale_after(place)


def heartbeat(session: Session, place: Place, actor: Principal | None) -> bool:
    """Record a heartbeat; True when the camera came (back) online."""
    if place.status == "online":
        place.status_at = utcnow()
        return False
    ptype = session.get(PlaceType, CAMERA.code)
    if ptype is None:  # pragma: no cover - the type is synced with the declarations
        raise LookupError("the camera place type is not synced")
    change_status(session, place, ptype, "online", note="heartbeat", actor=actor)
    return True


def mark_stale(session: Session, now: datetime | None = None) -> list[int]:
    """Move every silent online camera to ``stale``; returns their place ids."""
    now = now or utcnow()
    ptype = session.get(PlaceType, CAMERA.code)
    if ptype is None:
        return []
    moved = []
    for place in session.scalars(
        select(Place).where(Place.type_code == CAMERA.code, Place.status == "online").order_by(Place.id)
    ):
        if is_stale(place, now):
            change_status(session, place, ptype, "stale", note="no heartbeat", actor=None)
            moved.append(place.id)
    return moved
