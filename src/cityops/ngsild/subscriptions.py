"""Subscriptions: CRUD at ``/ngsi-ld/v1/subscriptions``; the core's events (entity changes, place changes,
new observations) matched by bus consumers — never on the request path — into persisted notifications;
a background task POSTs them to the endpoints with retry and exponential back-off. A notification that keeps
failing becomes ``dead`` (kept and counted in the subscription's status), never silently dropped; pending
rows survive a restart and are sent by the next process."""

from __future__ import annotations

import json
import logging
import re
import urllib.request
import uuid
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cityops.audit.service import record
from cityops.clock import utcnow
from cityops.events.bus import Event
from cityops.identity.policy import Action, Principal
from cityops.ngsild import entities as store
from cityops.ngsild import model_map
from cityops.ngsild.api import PREFIX, _int, an_object, answer, authorize, body_of, principal, sessions
from cityops.ngsild.errors import AlreadyExists, BadRequestData, NgsiError, ResourceNotFound
from cityops.ngsild.models import NgsiNotification, NgsiSubscription
from cityops.ngsild.query import parse_q
from cityops.ngsild.render import render
from cityops.places.models import Place
from cityops.sensing.models import Datastream

log = logging.getLogger("cityops.ngsild")
router = APIRouter(include_in_schema=False)
MAX_ATTEMPTS = 8
BASE_DELAY = timedelta(seconds=5)
MAX_DELAY = timedelta(hours=1)
SEND_TIMEOUT = 5.0
BATCH = 50


# --- validation -----------------------------------------------------------------------------------------


def owner_of(who: Principal) -> str:
    """Who owns a subscription, by id: key names and user labels are not unique (two keys both named
    "integration" would share each other's subscriptions), and a user's label may be a phone number."""
    if who.api_key_id is not None:
        return f"key:{who.api_key_id}"
    if who.user_id is not None:
        return f"user:{who.user_id}"
    return "anonymous"


def _check(body: dict[str, Any]) -> dict[str, Any]:
    if body.get("type") != "Subscription":
        raise BadRequestData('a subscription has "type": "Subscription"')
    ents = body.get("entities")
    if ents is None and not body.get("watchedAttributes"):
        raise BadRequestData("a subscription needs entities or watchedAttributes")
    for sel in ents or []:
        if not isinstance(sel, dict) or not isinstance(sel.get("type"), str):
            raise BadRequestData("each entities selector needs a type")
        if "idPattern" in sel:
            try:
                re.compile(sel["idPattern"])
            except re.error as exc:
                raise BadRequestData(f"idPattern: {exc}") from exc
    if body.get("q"):
        parse_q(body["q"])
    notification = body.get("notification")
    if not isinstance(notification, dict) or not isinstance(notification.get("endpoint"), dict):
        raise BadRequestData("a subscription needs notification.endpoint")
    uri = notification["endpoint"].get("uri")
    if not isinstance(uri, str) or not re.match(r"^https?://", uri):
        raise BadRequestData("notification.endpoint.uri must be an http(s) URL")
    fmt = notification.get("format", "normalized")
    if fmt not in ("normalized", "keyValues", "concise"):
        raise BadRequestData("notification.format is normalized, keyValues or concise")
    return body


def _view(row: NgsiSubscription, session: Session) -> dict[str, Any]:
    counts = dict(
        session.execute(
            select(NgsiNotification.state, func.count())
            .where(NgsiNotification.subscription_id == row.id)
            .group_by(NgsiNotification.state)
        ).all()
    )
    last_ok = session.scalar(
        select(func.max(NgsiNotification.sent_at)).where(NgsiNotification.subscription_id == row.id)
    )
    body = {k: v for k, v in row.body.items() if k != "@context"}
    notification = dict(body.get("notification", {}))
    notification.update(
        {
            "timesSent": int(counts.get("sent", 0)),
            "timesFailed": int(counts.get("dead", 0)),
            "pending": int(counts.get("pending", 0)),  # cityops: waiting or retrying
            "status": "failed" if counts.get("dead") else "ok",
        }
    )
    if last_ok:
        notification["lastSuccess"] = last_ok.isoformat().replace("+00:00", "Z")
    return {
        **body,
        "id": row.id,
        "isActive": row.active,
        "status": "active" if row.active else "paused",
        "notification": notification,
    }


# --- routes ---------------------------------------------------------------------------------------------


@router.post(PREFIX + "/subscriptions")
@router.post(PREFIX + "/subscriptions/")
async def create(request: Request) -> Response:
    body = _check(an_object(await body_of(request)))
    sid = body.get("id") or f"urn:ngsi-ld:Subscription:{uuid.uuid4()}"
    store.check_id(sid)
    with sessions(request) as session:
        who = principal(request, session)
        authorize(who, Action.NGSILD_SUBSCRIBE)
        if session.get(NgsiSubscription, sid) is not None:
            raise AlreadyExists(f"subscription {sid} already exists", instance=sid)
        now = utcnow()
        active = body.get("isActive", True) is not False
        session.add(
            NgsiSubscription(
                id=sid,
                body={**body, "id": sid},
                active=active,
                owner=owner_of(who),
                created_at=now,
                modified_at=now,
            )
        )
        record(
            session,
            who,
            "ngsild.subscription.create",
            "ngsild_subscription",
            sid,
            after=body,
            request=request,
        )
        session.commit()
    return Response(status_code=201, headers={"Location": f"{PREFIX}/subscriptions/{sid}"})


def _own(session: Session, request: Request, sid: str) -> tuple[Any, NgsiSubscription]:
    who = principal(request, session)
    authorize(who, Action.NGSILD_SUBSCRIBE)
    row = session.get(NgsiSubscription, sid)
    if row is None or (row.owner != owner_of(who) and not who.is_staff):
        raise ResourceNotFound(f"no subscription {sid}", resource=sid)
    return who, row


@router.get(PREFIX + "/subscriptions")
@router.get(PREFIX + "/subscriptions/")
def list_subscriptions(request: Request) -> Response:
    limit, offset = _int(request, "limit", 20, 1000), _int(request, "offset", 0, 10**9)
    with sessions(request) as session:
        who = principal(request, session)
        authorize(who, Action.NGSILD_SUBSCRIBE)
        stmt = select(NgsiSubscription)
        if not who.is_staff:
            stmt = stmt.where(NgsiSubscription.owner == owner_of(who))
        total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = session.scalars(stmt.order_by(NgsiSubscription.id).limit(limit).offset(offset)).all()
        body = [_view(r, session) for r in rows]
    headers = {"NGSILD-Results-Count": str(total)} if request.query_params.get("count") == "true" else None
    return answer(request, body, headers=headers)


@router.get(PREFIX + "/subscriptions/{sid:path}")
def get_subscription(sid: str, request: Request) -> Response:
    with sessions(request) as session:
        _, row = _own(session, request, sid)
        return answer(request, _view(row, session))


@router.patch(PREFIX + "/subscriptions/{sid:path}")
async def update_subscription(sid: str, request: Request) -> Response:
    patch = an_object(await body_of(request))
    with sessions(request) as session:
        who, row = _own(session, request, sid)
        merged = _check({**row.body, **patch, "id": sid, "type": "Subscription"})
        before = dict(row.body)
        row.body = merged
        row.active = merged.get("isActive", True) is not False
        row.modified_at = utcnow()
        record(
            session,
            who,
            "ngsild.subscription.update",
            "ngsild_subscription",
            sid,
            before=before,
            after=merged,
            request=request,
        )
        session.commit()
    return Response(status_code=204)


@router.delete(PREFIX + "/subscriptions/{sid:path}")
def delete_subscription(sid: str, request: Request) -> Response:
    with sessions(request) as session:
        who, row = _own(session, request, sid)
        record(
            session,
            who,
            "ngsild.subscription.delete",
            "ngsild_subscription",
            sid,
            before=row.body,
            request=request,
        )
        session.delete(row)
        session.commit()
    return Response(status_code=204)


# --- matching (bus consumers) ----------------------------------------------------------------------------


def _changed_ids(session: Session, event: Event) -> list[str]:
    p = event.payload
    if event.subject.startswith("ngsild.entity."):
        return [str(p["id"])]
    if event.subject.startswith("places."):
        place_ids = [int(p["place_id"])]
    else:  # observations.created: the stations of the datastreams written
        ds_ids = [int(i) for i in p.get("datastream_ids") or []]
        thing_ids = select(Datastream.thing_id).where(Datastream.id.in_(ds_ids))
        place_ids = list(session.scalars(select(Place.id).where(Place.thing_id.in_(thing_ids))).all())
    out = []
    for pid in place_ids:
        for t in model_map.MAPPED_TYPES:
            out.append(model_map.entity_id(t, pid))
    return out


def _selects(sub: dict[str, Any], entity: dict[str, Any]) -> bool:
    sels = sub.get("entities")
    if sels:
        hit = False
        for s in sels:
            if s["type"] != entity["type"]:
                continue
            if "id" in s and s["id"] != entity["id"]:
                continue
            if "idPattern" in s and not re.search(s["idPattern"], entity["id"]):
                continue
            hit = True
        if not hit:
            return False
    watched = sub.get("watchedAttributes")
    if watched and not any(a in entity for a in watched):
        return False
    return not (sub.get("q") and not parse_q(sub["q"])(entity))


def match_event(sessions_: sessionmaker[Session], event: Event) -> None:
    """Turn one event into pending notifications of the active subscriptions it matches; an event delivered
    twice gives two notifications with the same id (at least once, as NGSI-LD allows)."""
    with sessions_() as session:
        subs = session.scalars(select(NgsiSubscription).where(NgsiSubscription.active.is_(True))).all()
        if not subs:
            return
        entities = []
        for eid in _changed_ids(session, event):
            try:
                entities.append(store.get(session, eid, staff=False))
            except NgsiError:
                continue  # deleted, or the same place under another mapped type
        now = utcnow()
        for sub in subs:
            note = sub.body.get("notification", {})
            opts = (
                {"keyValues"}
                if note.get("format") == "keyValues"
                else ({"concise"} if note.get("format") == "concise" else set())
            )
            data = [render(e, opts, note.get("attributes")) for e in entities if _selects(sub.body, e)]
            if not data:
                continue
            key = f"{sub.id}|{event.id}"  # the same notification id if the bus delivers the event again
            payload = {
                "id": f"urn:ngsi-ld:Notification:{uuid.uuid5(uuid.NAMESPACE_URL, key)}",
                "type": "Notification",
                "subscriptionId": sub.id,
                "notifiedAt": now.isoformat().replace("+00:00", "Z"),
                "data": data,
            }
            session.add(
                NgsiNotification(
                    subscription_id=sub.id,
                    payload=payload,
                    state="pending",
                    attempts=0,
                    next_at=now,
                    created_at=now,
                )
            )
        session.commit()


# --- delivery (background task) ----------------------------------------------------------------------------


def _post(uri: str, payload: dict[str, Any]) -> None:
    req = urllib.request.Request(  # noqa: S310 (http(s) only, checked when subscribing)
        uri, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(req, timeout=SEND_TIMEOUT) as resp:  # noqa: S310
        if resp.status >= 300:
            raise OSError(f"HTTP {resp.status}")


def backoff(attempts: int) -> timedelta:
    delay: timedelta = BASE_DELAY * (2 ** max(attempts - 1, 0))
    return min(delay, MAX_DELAY)


def deliver_due(sessions_: sessionmaker[Session], now: datetime | None = None) -> tuple[int, int]:
    """Send the pending notifications that are due; returns (sent, failed this round)."""
    now = now or utcnow()
    sent = failed = 0
    with sessions_() as session:
        due = session.scalars(
            select(NgsiNotification)
            .where(NgsiNotification.state == "pending", NgsiNotification.next_at <= now)
            .order_by(NgsiNotification.id)
            .limit(BATCH)
        ).all()
        for n in due:
            sub = session.get(NgsiSubscription, n.subscription_id)
            uri = (sub.body.get("notification", {}).get("endpoint", {}).get("uri") if sub else None) or ""
            try:
                _post(uri, n.payload)
            except (OSError, ValueError) as exc:
                n.attempts += 1
                n.last_error = str(exc)[:500]
                if n.attempts >= MAX_ATTEMPTS:
                    n.state = "dead"
                    log.warning("ngsild notification %s dead after %s attempts: %s", n.id, n.attempts, exc)
                else:
                    n.next_at = now + backoff(n.attempts)
                failed += 1
            else:
                n.attempts += 1
                n.state, n.sent_at, n.last_error = "sent", utcnow(), ""
                sent += 1
            session.commit()
    return sent, failed


def dead_letters(session: Session, subscription_id: str) -> list[NgsiNotification]:
    return list(
        session.scalars(
            select(NgsiNotification).where(
                NgsiNotification.subscription_id == subscription_id, NgsiNotification.state == "dead"
            )
        ).all()
    )


@router.post(PREFIX + "/subscriptions/{sid:path}/retry")
def retry_dead(sid: str, request: Request) -> Response:
    """cityops extension: put a subscription's dead notifications back in the queue."""
    with sessions(request) as session:
        who, _ = _own(session, request, sid)
        dead = dead_letters(session, sid)
        for n in dead:
            n.state, n.attempts, n.next_at = "pending", 0, utcnow()
        record(
            session,
            who,
            "ngsild.subscription.retry",
            "ngsild_subscription",
            sid,
            after={"requeued": len(dead)},
            request=request,
        )
        session.commit()
    return JSONResponse({"requeued": len(dead)})
