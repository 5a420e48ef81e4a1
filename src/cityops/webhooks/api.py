"""Admin API of the webhooks: subscriptions, their delivery log, the dead letters and replays (audited)."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from cityops.audit.service import record, snapshot
from cityops.clock import utcnow
from cityops.deps import SessionDep
from cityops.errors import Invalid, NotFound
from cityops.identity.deps import CurrentPrincipal
from cityops.identity.policy import Action, authorize
from cityops.webhooks.models import WebhookDelivery, WebhookSubscription
from cityops.webhooks.service import KNOWN_TYPES, replay

router = APIRouter(prefix="/api/v1/admin/webhooks", tags=["webhooks"])


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=8, max_length=2048)
    event_types: list[str] = Field(min_length=1, max_length=len(KNOWN_TYPES))
    datastream_ids: list[int] | None = Field(default=None, max_length=1000)
    description: str = Field(default="", max_length=255)
    max_attempts: int = Field(default=8, ge=1, le=20)


def _sub_view(sub: WebhookSubscription) -> dict[str, Any]:
    return {
        "id": sub.id,
        "url": sub.url,
        "event_types": list(sub.event_types),
        "datastream_ids": sub.datastream_ids,
        "description": sub.description,
        "max_attempts": sub.max_attempts,
        "active": sub.active,
        "created_at": sub.created_at.isoformat(),
    }


def _delivery_view(d: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": d.id,
        "subscription_id": d.subscription_id,
        "event_id": d.event_id,
        "event_type": d.event_type,
        "state": d.state,
        "attempts": d.attempts,
        "last_status": d.last_status,
        "last_error": d.last_error,
        "duration_ms": d.duration_ms,
        "next_at": d.next_at.isoformat(),
        "created_at": d.created_at.isoformat(),
        "sent_at": d.sent_at.isoformat() if d.sent_at else None,
    }


def _subscription(session: SessionDep, sub_id: int) -> WebhookSubscription:
    sub = session.get(WebhookSubscription, sub_id)
    if sub is None:
        raise NotFound(f"Webhook subscription {sub_id} does not exist")
    return sub


@router.get("")
def list_subscriptions(principal: CurrentPrincipal, session: SessionDep) -> Any:
    authorize(principal, Action.WEBHOOK_MANAGE)
    subs = session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id))
    return {"items": [_sub_view(s) for s in subs]}


@router.post("", status_code=201)
def create_subscription(
    body: SubscriptionIn, principal: CurrentPrincipal, request: Request, session: SessionDep
) -> Any:
    """Subscribe a URL; the response's ``secret`` (for verifying signatures) is shown this once."""
    authorize(principal, Action.WEBHOOK_MANAGE)
    if not body.url.startswith(("https://", "http://")):
        raise Invalid("The webhook URL must be http(s)", details={"field": "url"})
    unknown = sorted(set(body.event_types) - KNOWN_TYPES)
    if unknown:
        raise Invalid("Unknown event type", details={"unknown": unknown, "allowed": sorted(KNOWN_TYPES)})
    if body.datastream_ids is not None and "observations.created" not in body.event_types:
        raise Invalid("datastream_ids filters observations.created; subscribe to it", details={})
    sub = WebhookSubscription(
        url=body.url,
        secret=secrets.token_hex(32),
        event_types=sorted(set(body.event_types)),
        datastream_ids=sorted(set(body.datastream_ids)) if body.datastream_ids else None,
        description=body.description,
        max_attempts=body.max_attempts,
        active=True,
        created_at=utcnow(),
    )
    session.add(sub)
    session.flush()
    after = {k: v for k, v in snapshot(sub).items() if k != "secret"}
    record(session, principal, "webhook.create", "webhook", sub.id, after=after, request=request)
    session.commit()
    return {**_sub_view(sub), "secret": sub.secret}


@router.delete("/{sub_id}", status_code=204)
def delete_subscription(
    sub_id: int, principal: CurrentPrincipal, request: Request, session: SessionDep
) -> Response:
    authorize(principal, Action.WEBHOOK_MANAGE)
    sub = _subscription(session, sub_id)
    before = {k: v for k, v in snapshot(sub).items() if k != "secret"}
    session.delete(sub)
    record(session, principal, "webhook.delete", "webhook", sub_id, before=before, request=request)
    session.commit()
    return Response(status_code=204)


@router.get("/{sub_id}/deliveries")
def list_deliveries(
    sub_id: int,
    principal: CurrentPrincipal,
    session: SessionDep,
    state: Annotated[str | None, Query(pattern="^(pending|sent|dead)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Any:
    """The delivery log of one subscription, newest first."""
    authorize(principal, Action.WEBHOOK_MANAGE)
    _subscription(session, sub_id)
    stmt = select(WebhookDelivery).where(WebhookDelivery.subscription_id == sub_id)
    if state:
        stmt = stmt.where(WebhookDelivery.state == state)
    rows = session.scalars(stmt.order_by(WebhookDelivery.id.desc()).limit(limit))
    return {"items": [_delivery_view(d) for d in rows]}


@router.get("/dead-letters")
def list_dead_letters(
    principal: CurrentPrincipal,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Any:
    """Deliveries that failed ``max_attempts`` times, newest first."""
    authorize(principal, Action.WEBHOOK_MANAGE)
    stmt = select(WebhookDelivery).where(WebhookDelivery.state == "dead")
    rows = session.scalars(stmt.order_by(WebhookDelivery.id.desc()).limit(limit))
    return {"items": [_delivery_view(d) for d in rows]}


@router.post("/deliveries/{delivery_id}/replay")
def replay_delivery(
    delivery_id: int, principal: CurrentPrincipal, request: Request, session: SessionDep
) -> Any:
    """Queue a dead delivery again (sent by the next delivery run)."""
    authorize(principal, Action.WEBHOOK_MANAGE)
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise NotFound(f"Webhook delivery {delivery_id} does not exist")
    if delivery.state != "dead":
        raise Invalid("Only a dead delivery can be replayed", details={"state": delivery.state})
    before = _delivery_view(delivery)
    replay(session, delivery)
    session.flush()
    after = _delivery_view(delivery)
    record(session, principal, "webhook.replay", "webhook_delivery", delivery_id, before, after, request)
    session.commit()
    return after
