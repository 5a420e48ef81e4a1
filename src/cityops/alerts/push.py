"""Area alerts to phones by Web Push: a browser registers, chooses wards, and manages them with its device key.

* ``GET /api/v1/push/public-key`` — the VAPID ``applicationServerKey`` browsers subscribe with.
* ``POST /api/v1/push/devices`` — register ``PushSubscription.toJSON()`` with the areas to follow; anyone
  (``push.subscribe``), signed in or not. Answers 201 with ``device_key``, shown only here: the browser
  keeps it and sends it as ``X-Device-Key`` to read, change or delete its subscription. The endpoint
  (personal data) is never an identifier in a request and never in an answer, audit entry or log.
* ``GET/PUT/DELETE /api/v1/push/devices/current`` (``X-Device-Key``) — the device's areas, replace them,
  or unsubscribe (the push subscription, its area subscriptions and its finished deliveries go).

Delivery: :mod:`cityops.alerts.delivery` sends an alert to the area subscriptions whose area the alert
concerns (following lineage); a subscription with ``push_subscription_id`` reaches that one browser.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cityops.alerts.models import AlertSubscription, Severity
from cityops.areas.models import Area
from cityops.audit.service import record
from cityops.clock import utcnow
from cityops.deps import SessionDep
from cityops.errors import Invalid, NotFound, Unauthorized
from cityops.identity.deps import CurrentPrincipal
from cityops.identity.policy import Action, Principal, authorize
from cityops.notify.models import Delivery, PushSubscription
from cityops.notify.notifier import save_push_subscription
from cityops.notify.vapid import public_key
from cityops.settings import Settings

router = APIRouter(prefix="/api/v1/push", tags=["alerts"])
MAX_AREAS = 50


class PushKeys(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")
    p256dh: str = Field(min_length=16, max_length=255)
    auth: str = Field(min_length=8, max_length=255)


class BrowserSubscription(BaseModel):
    """What ``PushSubscription.toJSON()`` gives (``expirationTime`` is ignored)."""

    model_config = ConfigDict(strict=True, extra="ignore")
    endpoint: str = Field(min_length=12, max_length=1024)
    keys: PushKeys


class AreasIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    area_ids: list[int] = Field(min_length=1, max_length=MAX_AREAS)
    min_severity: Literal["info", "watch", "warning", "critical"] = "watch"
    locale: Literal["vi", "en"] = "vi"


class DeviceIn(AreasIn):
    subscription: BrowserSubscription


class DeviceOut(BaseModel):
    area_ids: list[int]
    min_severity: Severity
    locale: str
    device_key: str | None = None  # only when the device registers


class PublicKeyOut(BaseModel):
    enabled: bool
    public_key: str | None


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _check_areas(session: Session, area_ids: list[int]) -> list[int]:
    ids = sorted(set(area_ids))
    found = set(session.scalars(select(Area.id).where(Area.id.in_(ids))))
    missing = [i for i in ids if i not in found]
    if missing:
        raise Invalid("No such area", code="unknown_area", details={"field": "area_ids", "ids": missing})
    return ids


def _device(session: Session, device_key: str | None) -> PushSubscription:
    if not device_key:
        raise Unauthorized("Send the device key in X-Device-Key", code="device_key_required")
    sub = session.scalar(select(PushSubscription).where(PushSubscription.key_hash == _hash(device_key)))
    if sub is None:
        raise NotFound("No push subscription for this device key", code="unknown_device")
    return sub


def _areas_of(session: Session, sub: PushSubscription) -> list[AlertSubscription]:
    return list(
        session.scalars(
            select(AlertSubscription)
            .where(AlertSubscription.push_subscription_id == sub.id)
            .order_by(AlertSubscription.area_id)
        )
    )


def _replace_areas(session: Session, sub: PushSubscription, body: AreasIn) -> DeviceOut:
    ids = _check_areas(session, body.area_ids)
    session.execute(delete(AlertSubscription).where(AlertSubscription.push_subscription_id == sub.id))
    now = utcnow()
    session.add_all(
        AlertSubscription(
            area_id=area_id,
            user_id=sub.user_id,
            push_subscription_id=sub.id,
            min_severity=Severity(body.min_severity),
            locale=body.locale,
            active=True,
            created_at=now,
        )
        for area_id in ids
    )
    session.flush()
    return DeviceOut(area_ids=ids, min_severity=Severity(body.min_severity), locale=body.locale)


def _audit(
    session: Session, principal: Principal, action: str, sub_id: int, out: DeviceOut | None, request: Request
) -> None:
    """Audited without the endpoint or the key: the areas and the minimum severity only."""
    after = None if out is None else {"area_ids": out.area_ids, "min_severity": out.min_severity.value}
    record(session, principal, action, "push_subscription", sub_id, None, after, request)


@router.get("/public-key", response_model=PublicKeyOut)
def get_public_key(request: Request) -> PublicKeyOut:
    """The VAPID public key (generated into the data directory on first use when none is configured)."""
    key = public_key(_settings(request))
    return PublicKeyOut(enabled=key is not None, public_key=key)


@router.post("/devices", response_model=DeviceOut, status_code=201)
def register_device(
    body: DeviceIn, session: SessionDep, principal: CurrentPrincipal, request: Request
) -> DeviceOut:
    """Register this browser for the alerts of ``area_ids``; the answer's ``device_key`` is shown once."""
    authorize(principal, Action.PUSH_SUBSCRIBE)
    _check_areas(session, body.area_ids)
    sub = save_push_subscription(
        session, body.subscription.model_dump(), principal.user_id, settings=_settings(request)
    )
    device_key = secrets.token_urlsafe(32)
    sub.key_hash = _hash(device_key)  # registering again (same endpoint) hands out a new key
    out = _replace_areas(session, sub, body)
    _audit(session, principal, "push_subscription.register", sub.id, out, request)
    session.commit()
    return out.model_copy(update={"device_key": device_key})


DeviceKey = Annotated[str | None, Header(alias="X-Device-Key")]


@router.get("/devices/current", response_model=DeviceOut)
def get_device(session: SessionDep, principal: CurrentPrincipal, device_key: DeviceKey = None) -> DeviceOut:
    authorize(principal, Action.PUSH_SUBSCRIBE)
    sub = _device(session, device_key)
    rows = _areas_of(session, sub)
    first = rows[0] if rows else None
    return DeviceOut(
        area_ids=[r.area_id for r in rows],
        min_severity=first.min_severity if first else Severity.WATCH,
        locale=first.locale if first else "vi",
    )


@router.put("/devices/current", response_model=DeviceOut)
def update_device(
    body: AreasIn,
    session: SessionDep,
    principal: CurrentPrincipal,
    request: Request,
    device_key: DeviceKey = None,
) -> DeviceOut:
    """Replace the device's areas, minimum severity and language."""
    authorize(principal, Action.PUSH_SUBSCRIBE)
    sub = _device(session, device_key)
    out = _replace_areas(session, sub, body)
    _audit(session, principal, "push_subscription.update", sub.id, out, request)
    session.commit()
    return out


@router.delete("/devices/current", status_code=204)
def delete_device(
    session: SessionDep, principal: CurrentPrincipal, request: Request, device_key: DeviceKey = None
) -> Response:
    """Unsubscribe: the push subscription, its area subscriptions and its finished deliveries are deleted."""
    authorize(principal, Action.PUSH_SUBSCRIBE)
    sub = _device(session, device_key)
    sub_id = sub.id
    erase_device(session, sub_id)
    _audit(session, principal, "push_subscription.delete", sub_id, None, request)
    session.commit()
    return Response(status_code=204)


def erase_device(session: Session, sub_id: int) -> None:
    """Delete one browser's push subscription with its area subscriptions and finished deliveries."""
    session.execute(delete(AlertSubscription).where(AlertSubscription.push_subscription_id == sub_id))
    session.execute(
        delete(Delivery).where(Delivery.address == f"push:{sub_id}", Delivery.status.in_(("sent", "failed")))
    )
    session.execute(delete(PushSubscription).where(PushSubscription.id == sub_id))
