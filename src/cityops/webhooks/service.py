"""Webhook queueing and delivery.

A bus event becomes one :class:`WebhookDelivery` per matching subscription (:func:`enqueue`, run by the
event consumers, never on a request); :func:`deliver_due` (a background task) POSTs the due ones, signed
with HMAC-SHA256, and reschedules failures with exponential back-off until the subscription's
``max_attempts``, after which a delivery is *dead* until an admin replays it (:func:`replay`).

Payloads carry public data only: a case event keeps its reference, category, area, agency and state
change (never a description, a contact or the reporter); alert and observation events are public already.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import orjson
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from cityops.clock import utcnow
from cityops.db import is_postgres, session_scope
from cityops.webhooks.models import WebhookDelivery, WebhookSubscription

if TYPE_CHECKING:
    from cityops.events.bus import Event

log = logging.getLogger("cityops.webhooks")

# bus subject -> webhook event type an integrator subscribes to
EVENT_TYPES: dict[str, str] = {
    "cases.created": "case.created",
    "cases.transitioned": "case.updated",
    "cases.updated": "case.updated",
    "alerts.opened": "alert.opened",
    "alerts.closed": "alert.closed",
    "observations.created": "observations.created",
}
KNOWN_TYPES: frozenset[str] = frozenset(EVENT_TYPES.values())
# the only fields of a case event that leave the platform (no text, no contact, no reporter)
CASE_FIELDS = ("id", "ref", "category", "area_id", "agency_id", "action", "from", "to")
OBSERVATION_COLUMNS = ("ids", "datastreams", "phenomenon_times", "results", "quality_flags")

BACKOFF_BASE_SECONDS = 30.0
BACKOFF_MAX_SECONDS = 6 * 3600.0
TIMEOUT_SECONDS = 10.0
LEASE_SECONDS = 60.0
BATCH = 50
KEEP_SENT_DAYS = 30  # sent deliveries stay in the log this long; dead ones stay until replayed or removed

SIGNATURE_HEADER = "X-Cityops-Signature"
TIMESTAMP_HEADER = "X-Cityops-Timestamp"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Cityops-Signature`` value: ``sha256=`` + hex HMAC-SHA256 of ``<timestamp>.<raw body>``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def backoff(attempts: int) -> timedelta:
    """Wait before the next try after ``attempts`` failed ones: 30 s, 1 min, 2 min, ... capped at 6 h."""
    return timedelta(seconds=min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_MAX_SECONDS))


def public_data(event_type: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """What of an event's payload an integrator receives (see the module docstring)."""
    if event_type.startswith("case."):
        return {k: payload[k] for k in CASE_FIELDS if k in payload}
    return dict(payload)


def _observations_for(payload: Mapping[str, Any], wanted: set[int] | None) -> dict[str, Any] | None:
    """The rows of an ``observations.created`` payload on the ``wanted`` datastreams (``None``: all)."""
    streams = list(payload.get("datastreams") or [])
    keep = [i for i, ds in enumerate(streams) if wanted is None or ds in wanted]
    if not keep:
        return None
    out: dict[str, Any] = {}
    for col in OBSERVATION_COLUMNS:
        values = payload.get(col)
        if isinstance(values, list) and len(values) == len(streams):
            out[col] = [values[i] for i in keep]
    out["count"] = len(keep)
    out["datastream_ids"] = sorted({streams[i] for i in keep})
    return out


def enqueue(session: Session, event: Event) -> int:
    """Queue ``event`` for every active subscription to its type; idempotent per (subscription, event).

    Returns the deliveries added."""
    event_type = EVENT_TYPES.get(event.subject)
    if event_type is None:
        return 0
    subs = session.scalars(select(WebhookSubscription).where(WebhookSubscription.active.is_(True))).all()
    now, added = utcnow(), 0
    for sub in subs:
        if event_type not in (sub.event_types or []):
            continue
        if event_type == "observations.created":
            data = _observations_for(event.payload, set(sub.datastream_ids) if sub.datastream_ids else None)
            if data is None:
                continue
        else:
            data = public_data(event_type, event.payload)
        envelope = {
            "id": event.id,
            "type": event_type,
            "occurred_at": event.occurred_at.isoformat().replace("+00:00", "Z"),
            "data": orjson.loads(orjson.dumps(data, option=orjson.OPT_UTC_Z)),
        }
        exists = session.scalar(
            select(WebhookDelivery.id).where(
                WebhookDelivery.subscription_id == sub.id, WebhookDelivery.event_id == event.id
            )
        )
        if exists is not None:
            continue
        try:
            with session.begin_nested():
                session.add(
                    WebhookDelivery(
                        subscription_id=sub.id,
                        event_id=event.id,
                        event_type=event_type,
                        payload=envelope,
                        state="pending",
                        attempts=0,
                        next_at=now,
                        last_error="",
                        created_at=now,
                    )
                )
            added += 1
        except IntegrityError:  # another worker queued it first
            continue
    return added


@dataclass(frozen=True, slots=True)
class _Job:
    delivery_id: int
    url: str
    secret: str
    event_type: str
    body: bytes
    attempts: int
    max_attempts: int


def _claim(session: Session, now: datetime, limit: int) -> list[_Job]:
    """Due pending deliveries, leased for LEASE_SECONDS so another worker does not send them too."""
    stmt = (
        select(WebhookDelivery, WebhookSubscription)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .where(WebhookDelivery.state == "pending", WebhookDelivery.next_at <= now)
        .order_by(WebhookDelivery.next_at, WebhookDelivery.id)
        .limit(limit)
    )
    if is_postgres(session):
        stmt = stmt.with_for_update(of=WebhookDelivery, skip_locked=True)
    jobs = []
    for delivery, sub in session.execute(stmt).all():
        delivery.next_at = now + timedelta(seconds=LEASE_SECONDS)
        body = orjson.dumps(delivery.payload)
        jobs.append(
            _Job(
                delivery.id,
                sub.url,
                sub.secret,
                delivery.event_type,
                body,
                delivery.attempts,
                sub.max_attempts,
            )
        )
    return jobs


def _send(client: httpx.Client, job: _Job) -> tuple[int | None, str, int]:
    """POST one delivery; (HTTP status or None, error text or "", duration in ms)."""
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "cityops-webhooks/1",
        "X-Cityops-Event": job.event_type,
        "X-Cityops-Delivery": str(job.delivery_id),
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(job.secret, timestamp, job.body),
    }
    started = time.perf_counter()
    try:
        response = client.post(job.url, content=job.body, headers=headers)
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500], int((time.perf_counter() - started) * 1000)
    took = int((time.perf_counter() - started) * 1000)
    if 200 <= response.status_code < 300:
        return response.status_code, "", took
    return response.status_code, f"HTTP {response.status_code}: {response.text[:200]}", took


def deliver_due(
    sessions: sessionmaker[Session], now: datetime | None = None, *, client: httpx.Client | None = None
) -> dict[str, int]:
    """Send the due deliveries once; returns how many were sent, rescheduled and dead-lettered."""
    now = now or utcnow()
    with session_scope(sessions) as session:
        jobs = _claim(session, now, BATCH)
    counts = {"sent": 0, "retry": 0, "dead": 0}
    if not jobs:
        return counts
    own = client is None
    http = client or httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False)
    try:
        for job in jobs:
            status, error, took = _send(http, job)
            with session_scope(sessions) as session:
                delivery = session.get(WebhookDelivery, job.delivery_id)
                if delivery is None or delivery.state != "pending":
                    continue
                delivery.attempts = job.attempts + 1
                delivery.last_status, delivery.duration_ms = status, took
                delivery.last_error = error
                if not error:
                    delivery.state, delivery.sent_at = "sent", utcnow()
                    counts["sent"] += 1
                elif delivery.attempts >= job.max_attempts:
                    delivery.state = "dead"
                    counts["dead"] += 1
                    log.warning(
                        "webhook delivery %s dead after %s attempts", job.delivery_id, delivery.attempts
                    )
                else:
                    delivery.next_at = now + backoff(delivery.attempts)
                    counts["retry"] += 1
    finally:
        if own:
            http.close()
    return counts


def replay(session: Session, delivery: WebhookDelivery) -> None:
    """Put a dead (or sent) delivery back in the queue, due now, with a fresh attempt count."""
    delivery.state, delivery.attempts, delivery.next_at = "pending", 0, utcnow()
    delivery.last_error = ""


def purge_sent(session: Session, now: datetime | None = None) -> int:
    """Delete sent deliveries older than KEEP_SENT_DAYS (the log stays bounded); returns how many."""
    cutoff = (now or utcnow()) - timedelta(days=KEEP_SENT_DAYS)
    result = session.execute(
        delete(WebhookDelivery).where(WebhookDelivery.state == "sent", WebhookDelivery.sent_at < cutoff)
    )
    return int(getattr(result, "rowcount", 0) or 0)
