"""The authorization matrix's callers, request rows and world (the rows: authz_rows_*.py; the test:
test_authz_matrix.py).

The matrix: every route of the OpenAPI schema × every kind of caller, allow or deny.

The world: citizen A reported a lighting case (with a photo pending review) in ward A, which the ward A
committee holds; an officer of it wrote an internal note; a salinity station (a Thing with a Datastream)
raised an alert; citizen A follows the alerts of ward A. Callers: anonymous, citizen A, citizen B,
an officer of ward A's committee ("right agency"), an officer of ward B's committee ("other agency"),
the supervisor of ward A's committee, the IOC operator, the admin, a device key (scope ``ingest``,
bound to the station's Thing) and an integrator key (scope ``read``).

Deny means 401, 403 or 404 (a private object answers "not found" to those who may not know it exists);
allow means neither 401 nor 403 (a 404/409/422 from an allowed caller is the route's own business logic).
No answer is ever a 5xx. A route in the schema with no row here fails the test, so a new route must be
classified. Callers that are denied run first on each route, so an allowed caller's write (say, a
DELETE) can never turn a later denial into a 404 by accident.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.alerts.models import AlertSubscription
from cityops.alerts.service import process_observations
from cityops.audit.models import AuditEntry
from cityops.clock import utcnow
from cityops.forecasting.datastreams import ensure_forecast_datastreams
from cityops.identity.models import ApiScope, User
from cityops.identity.tokens import create_session
from cityops.indicators.registry import sync as sync_indicators
from cityops.reports.models import CaseEvent
from cityops.sensing.ingest import ObservationIn, ingest_observations
from cityops.settings import Settings
from cityops.webhooks.models import WebhookDelivery
from cityops.webhooks.service import KNOWN_TYPES
from tests.alerts.support import make_station, salinity_rule
from tests.reports.conftest import A_POINT, World, build_world, jpeg_bytes

ROLES = (
    "anonymous",
    "citizen",
    "other_citizen",
    "officer",
    "other_officer",
    "supervisor",
    "operator",
    "admin",
    "device_key",
    "integrator_key",
)
USER_OF_ROLE = {
    "citizen": "citizen",
    "other_citizen": "citizen2",
    "officer": "officer_a",
    "other_officer": "officer_b",
    "supervisor": "supervisor_a",
    "operator": "operator",
    "admin": "admin",
}
SECRET_PHONE = "0909777666"
SECRET_NAME = "Trần Văn Riêng Tư"
SECRET_EMAIL = "riengtu@example.vn"
NOTE_TEXT = "ghi chú nội bộ: gọi lại"
SECRET_ADDRESS = "12 đường riêng"
SECRETS = (SECRET_NAME, SECRET_PHONE, SECRET_EMAIL, NOTE_TEXT)
# IDOR: callers who must never see citizen A's personal fields or the internal note, on any route
OUTSIDERS = ("anonymous", "other_citizen", "other_officer", "device_key", "integrator_key")
_n = itertools.count(1)


@dataclass
class Ctx:
    world: World
    ref: str
    token: str
    media_id: int
    sha: str
    thing_id: int
    datastream_id: int
    alert_id: int
    rule_id: int
    sub_id: int
    citizen_id: int
    agency_id: int
    jurisdiction_id: int
    key_id: int
    audit_id: int
    area_id: int
    keys: dict[str, str] = field(default_factory=dict)
    webhook_id: int = 0  # an integrator's webhook subscription (the admin made it)
    dead_delivery_id: int = 0  # a delivery of it that failed every try
    device_key: str = ""  # a browser's Web Push device key (the capability of /push/devices/current)
    dossier_code: str = ""  # an administrative dossier pushed by the one-stop-shop system
    camera_id: int = 0  # a traffic camera (a place)
    entity_id: str = ""  # a generic NGSI-LD entity (a Vehicle the operator wrote)
    ngsi_sub_id: str = ""  # an NGSI-LD subscription of the integrator's key
    segment_id: int = 0  # a road segment (a place)


@dataclass(frozen=True)
class Req:
    method: str
    url: str
    json: Any = None
    files: dict[str, Any] | None = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


Build = Callable[[Ctx], Req]

ALL = frozenset(ROLES)
USERS = frozenset(USER_OF_ROLE)
KEYS = frozenset({"device_key", "integrator_key"})
STAFF = frozenset({"officer", "other_officer", "supervisor", "operator", "admin"})
HANDLERS = frozenset({"officer", "supervisor", "operator"})  # the holding agency's staff and the IOC
ADMIN = frozenset({"admin"})
UNIFORM = frozenset({"*"})  # credentials in the body decide; who calls must not change the answer


def unique() -> int:
    """A fresh number, so repeated writes (codes, names) never collide."""
    return next(_n)


# (METHOD, path template) -> (request builder, callers allowed)
MATRIX: dict[tuple[str, str], tuple[Build, frozenset[str]]] = {}


LAST: list[tuple[str, str]] = []  # rows that run after every other (erasing callers' own data)


def row(
    method: str, path: str, allowed: frozenset[str] | set[str], *, last: bool = False
) -> Callable[[Build], Build]:
    """Register the request that exercises ``method path`` and the callers allowed to make it."""

    def deco(fn: Build) -> Build:
        MATRIX[(method, path)] = (fn, frozenset(allowed))
        if last:
            LAST.append((method, path))
        return fn

    return deco


def ordered() -> list[tuple[tuple[str, str], tuple[Build, frozenset[str]]]]:
    """The rows in the order they run: as registered, the ``last=True`` rows at the end in their order."""
    first = [(k, v) for k, v in MATRIX.items() if k not in LAST]
    return first + [(k, MATRIX[k]) for k in LAST]


NOT_REQUESTED: dict[tuple[str, str], str] = {}  # (method, path) -> why the matrix cannot call it

METHODS = ("get", "post", "put", "patch", "delete")

# --- the world -----------------------------------------------------------------------------------------


def bearer(session: Session, user_id: int) -> dict[str, str]:
    user = session.get(User, user_id)
    assert user is not None
    _, token = create_session(session, user, ttl_minutes=60)
    session.commit()
    return {"Authorization": f"Bearer {token}"}


def build_ctx(
    session: Session, settings: Settings, client: TestClient, make_api_key: Callable[..., str]
) -> Ctx:
    world = build_world(session, settings)
    sync_indicators(session)  # as `cityops db upgrade` does: per-capita values need their indicators
    session.commit()
    citizen = bearer(session, world.users["citizen"].id)
    photo = jpeg_bytes((10, 120, 200))
    up = client.post("/api/v1/reports/media", files={"file": ("a.jpg", photo, "image/jpeg")}, headers=citizen)
    assert up.status_code == 201, up.text
    media_id = up.json()["media_id"]
    made = client.post(
        "/api/v1/reports",
        headers=citizen,
        json={
            "category": "lighting",
            "description": "Đèn đường hỏng trước nhà",
            "lat": A_POINT[0],
            "lon": A_POINT[1],
            "address": SECRET_ADDRESS,
            "reporter": {"name": SECRET_NAME, "phone": SECRET_PHONE, "email": SECRET_EMAIL},
            "consent": True,
            "media_ids": [media_id],
        },
    )
    assert made.status_code == 201, made.text
    ref, token = made.json()["ref"], made.json()["token"]
    note = client.post(
        f"/api/v1/reports/cases/{ref}/notes",
        json={"text": NOTE_TEXT},
        headers=bearer(session, world.users["officer_a"].id),
    )
    assert note.status_code in (200, 201), note.text
    assert session.scalar(select(CaseEvent.id).where(CaseEvent.kind == "note")) is not None
    ds = make_station(session, "Trạm Tân An", "salinity", area_ids=[world.ward_a.id])
    rule = salinity_rule(session)
    t0 = datetime(2026, 3, 10, tzinfo=UTC)
    changes = process_observations(session, ds.id, [(t0 + timedelta(minutes=10 * i), 5.0) for i in range(5)])
    session.commit()
    # a 6-hour salinity forecast of the station, issued at t0 (as the forecasting capability stores it)
    forecast = ensure_forecast_datastreams(session, ds, "salinity", (6,))[6]
    issued = [ObservationIn(forecast.id, t0 + timedelta(hours=6), 4.5, result_time=t0)]
    ingest_observations(session, issued, emit_event=False)
    session.commit()
    assert changes, "the salinity station raised no alert"
    sub = client.post("/api/v1/alert-subscriptions", json={"area_id": world.ward_a.id}, headers=citizen)
    assert sub.status_code == 201, sub.text
    sub_id = session.scalar(
        select(AlertSubscription.id).where(AlertSubscription.user_id == world.users["citizen"].id)
    )
    assert sub_id is not None
    spare = make_api_key([ApiScope.READ], name="spare")
    from cityops.identity.tokens import find_api_key

    spare_row = find_api_key(session, spare)
    assert spare_row is not None
    audit_id = session.scalar(select(AuditEntry.id).limit(1))
    assert audit_id is not None
    extra = _integration_world(session, client, world)
    integrator_key = make_api_key([ApiScope.READ], name="integrator")
    extra |= _ngsild_world(session, client, world, integrator_key)
    session.refresh(world.ward_a_committee)
    jurisdiction = world.ward_a_committee.jurisdictions[0]
    assert jurisdiction is not None
    return Ctx(
        world=world,
        ref=ref,
        token=token,
        media_id=media_id,
        sha=hashlib.sha256(photo).hexdigest(),
        thing_id=ds.thing_id,
        datastream_id=ds.id,
        alert_id=changes[0].alert_id,
        rule_id=rule.id,
        sub_id=sub_id,
        citizen_id=world.users["citizen"].id,
        agency_id=world.ward_a_committee.id,
        jurisdiction_id=jurisdiction.id,
        key_id=spare_row.id,
        audit_id=audit_id,
        area_id=world.ward_a.id,
        keys={
            "device_key": make_api_key([ApiScope.INGEST], thing_id=ds.thing_id, name="station"),
            "integrator_key": integrator_key,
        },
        **extra,
    )


DOSSIER_CODE = "HS-MATRIX-0001"
DOSSIER_PHONE = "0912 345 678"
DOSSIER = {  # as the one-stop-shop system pushes it (overdue: due 06/03/2026)
    "maHoSo": DOSSIER_CODE,
    "maTTHC": "1.001612",
    "tenTTHC": "Đăng ký khai sinh",
    "maDonVi": "ubnd-p-tan-an",
    "tenDonVi": "UBND phường Tân An",
    "trangThaiHoSo": "4",
    "ngayTiepNhan": "2026-03-02T08:00:00+07:00",
    "ngayHenTra": "2026-03-06T17:00:00+07:00",
    "soDienThoai": DOSSIER_PHONE,
}


def _integration_world(session: Session, client: TestClient, world: World) -> dict[str, Any]:
    """A webhook subscription with a dead delivery, a browser registered for push, a dossier."""
    admin = bearer(session, world.users["admin"].id)
    hook = client.post(
        "/api/v1/admin/webhooks",
        json={"url": "http://127.0.0.1:9/hook", "event_types": sorted(KNOWN_TYPES)[:1]},
        headers=admin,
    )
    assert hook.status_code == 201, hook.text
    dead = WebhookDelivery(
        subscription_id=hook.json()["id"],
        event_id="matrix-dead",
        event_type=sorted(KNOWN_TYPES)[0],
        payload={},
        state="dead",
        attempts=8,
        next_at=utcnow(),
        created_at=utcnow(),
    )
    session.add(dead)
    session.commit()
    device = client.post(
        "/api/v1/push/devices",
        json={
            "area_ids": [world.ward_a.id],
            "subscription": {
                "endpoint": "https://push.example.vn/matrix",
                "keys": {"p256dh": "B" * 20, "auth": "a" * 10},
            },
        },
    )
    assert device.status_code == 201, device.text
    pushed = client.post("/api/v1/public-services/dossiers", json={"dossiers": [DOSSIER]}, headers=admin)
    assert pushed.status_code == 200, pushed.text
    assert pushed.json().get("rejected") == [], pushed.text
    lon, lat = A_POINT[1], A_POINT[0]
    camera = client.post(
        "/api/v1/places",
        json={
            "type": "camera",
            "name": "Camera ngã tư",
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "attributes": {"owner_agency": "Công an tỉnh"},
        },
        headers=admin,
    )
    assert camera.status_code == 201, camera.text
    segment = client.post(
        "/api/v1/places",
        json={
            "type": "road_segment",
            "name": "Quốc lộ 1, đoạn Tân An",
            "geometry": {"type": "LineString", "coordinates": [[lon, lat], [lon + 0.01, lat + 0.01]]},
            "attributes": {
                "road": "QL1",
                "road_class": "national",
                "lanes": 4,
                "free_flow_kmh": 60,
                "capacity_pcu_h": 3000,
            },
        },
        headers=admin,
    )
    assert segment.status_code == 201, segment.text
    return {
        "camera_id": camera.json()["id"],
        "segment_id": segment.json()["id"],
        "webhook_id": hook.json()["id"],
        "dead_delivery_id": dead.id,
        "device_key": device.json()["device_key"],
        "dossier_code": DOSSIER_CODE,
    }


NGSI_ENTITY = "urn:ngsi-ld:Vehicle:matrix-1"
NGSI_SUBSCRIPTION = "urn:ngsi-ld:Subscription:matrix-1"


def vehicle(eid: str) -> dict[str, Any]:
    """A generic NGSI-LD entity (stored as written, not a view of a place or station)."""
    return {
        "id": eid,
        "type": "Vehicle",
        "speed": {"type": "Property", "value": 30, "unitCode": "KMH"},
        "brand": {"type": "Property", "value": "Hãng thử"},
        "location": {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [A_POINT[1], A_POINT[0]]},
        },
    }


def ngsi_subscription(sid: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "Subscription",
        "entities": [{"type": "Vehicle"}],
        "notification": {"endpoint": {"uri": "http://127.0.0.1:9/notify"}},
    }
    return body | ({"id": sid} if sid else {})


def _ngsild_world(session: Session, client: TestClient, world: World, integrator_key: str) -> dict[str, Any]:
    """A Vehicle the operator wrote and a subscription the integrator's key made."""
    made = client.post(
        "/ngsi-ld/v1/entities", json=vehicle(NGSI_ENTITY), headers=bearer(session, world.users["operator"].id)
    )
    assert made.status_code == 201, made.text
    sub = client.post(
        "/ngsi-ld/v1/subscriptions",
        json=ngsi_subscription(NGSI_SUBSCRIPTION),
        headers={"X-API-Key": integrator_key},
    )
    assert sub.status_code == 201, sub.text
    return {"entity_id": NGSI_ENTITY, "ngsi_sub_id": NGSI_SUBSCRIPTION}


def hidden_routes(app: Any, prefix: str = "/ngsi-ld") -> set[tuple[str, str]]:
    """(METHOD, path) of the routes under ``prefix`` left out of the OpenAPI schema (NGSI-LD has its own
    description), found through included routers too."""
    found: set[tuple[str, str]] = set()

    def walk(routes: Any) -> None:
        for r in routes:
            r = getattr(r, "original_route", r)
            if hasattr(r, "methods") and isinstance(getattr(r, "path", None), str):
                if r.path.startswith(prefix) and not getattr(r, "include_in_schema", True):
                    found.update((m, r.path) for m in r.methods if m.lower() in METHODS)
                continue
            inner = getattr(r, "original_router", None)
            walk(inner.routes if inner is not None else getattr(r, "routes", []) or [])

    walk(app.router.routes)
    return found


def headers_for(ctx: Ctx, role: str) -> dict[str, str]:
    if role == "anonymous":
        return {}
    if role in ctx.keys:
        return {"X-API-Key": ctx.keys[role]}
    return bearer(ctx.world.session, ctx.world.users[USER_OF_ROLE[role]].id)


def send(client: TestClient, req: Req, headers: dict[str, str]) -> tuple[int, str]:
    resp = client.request(
        req.method,
        req.url,
        json=req.json,
        files=req.files,
        content=req.content,
        headers={**req.headers, **headers},
    )
    assert resp.status_code < 500, (req.method, req.url, resp.status_code, resp.text[:300])
    return resp.status_code, resp.content.decode("utf-8", "replace")
