"""The authorization matrix: every route of the OpenAPI schema × every kind of caller, allow or deny.

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
from cityops.identity.models import ApiScope, User
from cityops.identity.tokens import create_session
from cityops.reports.models import CaseEvent
from cityops.settings import Settings
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


def _u() -> int:
    return next(_n)


# (METHOD, path template) -> (request builder, callers allowed)
MATRIX: dict[tuple[str, str], tuple[Build, frozenset[str]]] = {}


def row(method: str, path: str, allowed: frozenset[str] | set[str]) -> Callable[[Build], Build]:
    def deco(fn: Build) -> Build:
        MATRIX[(method, path)] = (fn, frozenset(allowed))
        return fn

    return deco


# --- ops ---------------------------------------------------------------------------------------------
row("GET", "/healthz", ALL)(lambda c: Req("GET", "/healthz"))
row("GET", "/readyz", ALL)(lambda c: Req("GET", "/readyz"))
row("GET", "/.well-known/security.txt", ALL)(lambda c: Req("GET", "/.well-known/security.txt"))

# --- areas (public) --------------------------------------------------------------------------------
row("GET", "/api/v1/areas", ALL)(lambda c: Req("GET", "/api/v1/areas"))
row("GET", "/api/v1/areas.geojson", ALL)(lambda c: Req("GET", "/api/v1/areas.geojson"))
row("GET", "/api/v1/areas/lookup", ALL)(
    lambda c: Req("GET", f"/api/v1/areas/lookup?lat={A_POINT[0]}&lon={A_POINT[1]}")
)
row("GET", "/api/v1/areas/{area_id}", ALL)(lambda c: Req("GET", f"/api/v1/areas/{c.area_id}"))

# --- places (public registry; operators and admins keep it) -----------------------------------------
PLACE_KEEPERS = frozenset({"operator", "admin"})
_POINT = {"type": "Point", "coordinates": [A_POINT[1], A_POINT[0]]}
row("GET", "/api/v1/place-types", ALL)(lambda c: Req("GET", "/api/v1/place-types"))
row("GET", "/api/v1/places", ALL)(lambda c: Req("GET", "/api/v1/places"))
row("GET", "/api/v1/places.geojson", ALL)(lambda c: Req("GET", "/api/v1/places.geojson"))
row("POST", "/api/v1/places", PLACE_KEEPERS)(
    lambda c: Req(
        "POST", "/api/v1/places", json={"type": "market", "name": f"Chợ {_u()}", "geometry": _POINT}
    )
)
row("GET", "/api/v1/places/{place_id}", ALL)(lambda c: Req("GET", "/api/v1/places/999999"))
row("PATCH", "/api/v1/places/{place_id}", PLACE_KEEPERS)(
    lambda c: Req("PATCH", "/api/v1/places/999999", json={"name": "Chợ mới"})
)
row("DELETE", "/api/v1/places/{place_id}", PLACE_KEEPERS)(lambda c: Req("DELETE", "/api/v1/places/999999"))
row("POST", "/api/v1/places/{place_id}/status", PLACE_KEEPERS)(
    lambda c: Req("POST", "/api/v1/places/999999/status", json={"status": "open"})
)
row("GET", "/api/v1/places/{place_id}/status-history", ALL)(
    lambda c: Req("GET", "/api/v1/places/999999/status-history")
)

# --- indicators (public series; operators and admins enter values, admins set targets) -------------
row("GET", "/api/v1/indicator-sets", ALL)(lambda c: Req("GET", "/api/v1/indicator-sets"))
row("GET", "/api/v1/indicators", ALL)(lambda c: Req("GET", "/api/v1/indicators"))
row("GET", "/api/v1/indicators/{code}", ALL)(lambda c: Req("GET", "/api/v1/indicators/cases.on_time_rate"))
row("GET", "/api/v1/indicators/{code}/values", ALL)(
    lambda c: Req("GET", "/api/v1/indicators/cases.on_time_rate/values")
)
row("POST", "/api/v1/indicators/{code}/values", {"operator", "admin"})(
    lambda c: Req(
        "POST",
        "/api/v1/indicators/ict.fibre_households/values",
        json={
            "area_id": c.area_id,
            "period_start": "2025-01-01",
            "value": 80.5,
            "source_document": "BC 1/2026",
        },
    )
)
row("GET", "/api/v1/indicators/{code}/targets", ALL)(
    lambda c: Req("GET", "/api/v1/indicators/cases.on_time_rate/targets")
)
row("PUT", "/api/v1/indicators/{code}/targets", ADMIN)(
    lambda c: Req(
        "PUT",
        "/api/v1/indicators/cases.on_time_rate/targets",
        json={"area_id": c.area_id, "year": 2026, "value": 90.0},
    )
)
row("GET", "/api/v1/dashboard/panels", ALL)(lambda c: Req("GET", "/api/v1/dashboard/panels"))

# --- programmes (the scheme as data: public; admins enter it) --------------------------------------
_PROGRAMME = "long-an-smart-city-2020"
row("GET", "/api/v1/programmes", ALL)(lambda c: Req("GET", "/api/v1/programmes"))
row("GET", "/api/v1/programmes/{code}", ALL)(lambda c: Req("GET", f"/api/v1/programmes/{_PROGRAMME}"))


def _new_programme(c: Ctx) -> Req:
    code = f"p{_u()}"
    return Req(
        "PUT", f"/api/v1/programmes/{code}", json={"code": code, "name_vi": "Đề án thử", "name_en": "Test"}
    )


row("PUT", "/api/v1/programmes/{code}", ADMIN)(_new_programme)
row("PATCH", "/api/v1/programmes/{code}/projects/{project_code}", ADMIN)(
    lambda c: Req("PATCH", f"/api/v1/programmes/{_PROGRAMME}/projects/ioc", json={"progress_pct": 100})
)
row("GET", "/api/v1/programmes/{code}/projects/{project_code}/disbursements", ALL)(
    lambda c: Req("GET", f"/api/v1/programmes/{_PROGRAMME}/projects/ioc/disbursements")
)
row("POST", "/api/v1/programmes/{code}/projects/{project_code}/disbursements", ADMIN)(
    lambda c: Req(
        "POST",
        f"/api/v1/programmes/{_PROGRAMME}/projects/ioc/disbursements",
        json={"disbursed_on": "2026-01-05", "amount_vnd": 1000, "document": f"QĐ {_u()}"},
    )
)

# --- identity --------------------------------------------------------------------------------------
row("POST", "/api/v1/auth/login", UNIFORM)(
    lambda c: Req("POST", "/api/v1/auth/login", json={"username": "nobody", "password": "wrong"})
)
row("POST", "/api/v1/auth/logout", USERS)(lambda c: Req("POST", "/api/v1/auth/logout"))
row("POST", "/api/v1/auth/password", USERS)(
    lambda c: Req("POST", "/api/v1/auth/password", json={"current_password": "x", "new_password": "y" * 12})
)
row("GET", "/api/v1/auth/me", USERS)(lambda c: Req("GET", "/api/v1/auth/me"))
row("GET", "/api/v1/users", ADMIN)(lambda c: Req("GET", "/api/v1/users"))
row("POST", "/api/v1/users", ADMIN)(
    lambda c: Req(
        "POST", "/api/v1/users", json={"role": "citizen", "username": f"new{_u()}", "full_name": "X"}
    )
)
# citizen A's own record: A and the admin
row("GET", "/api/v1/users/{user_id}", {"citizen", "admin"})(
    lambda c: Req("GET", f"/api/v1/users/{c.citizen_id}")
)
row("PATCH", "/api/v1/users/{user_id}", ADMIN)(
    lambda c: Req("PATCH", f"/api/v1/users/{c.citizen_id}", json={"full_name": "Citizen A"})
)
row("GET", "/api/v1/agencies", ALL)(lambda c: Req("GET", "/api/v1/agencies"))
row("POST", "/api/v1/agencies", ADMIN)(
    lambda c: Req("POST", "/api/v1/agencies", json={"code": f"ag-{_u()}", "name": "Cơ quan mới"})
)
row("GET", "/api/v1/agencies/{agency_id}", ALL)(lambda c: Req("GET", f"/api/v1/agencies/{c.agency_id}"))
row("PATCH", "/api/v1/agencies/{agency_id}", ADMIN)(
    lambda c: Req("PATCH", f"/api/v1/agencies/{c.agency_id}", json={"name": "UBND phường Long An"})
)
row("POST", "/api/v1/agencies/{agency_id}/jurisdictions", ADMIN)(
    lambda c: Req(
        "POST",
        f"/api/v1/agencies/{c.agency_id}/jurisdictions",
        json={"area_id": c.area_id, "category_code": "roads"},
    )
)
row("DELETE", "/api/v1/agencies/{agency_id}/jurisdictions/{jurisdiction_id}", ADMIN)(
    lambda c: Req("DELETE", f"/api/v1/agencies/{c.agency_id}/jurisdictions/{c.jurisdiction_id}")
)
row("GET", "/api/v1/keys", ADMIN)(lambda c: Req("GET", "/api/v1/keys"))
row("POST", "/api/v1/keys", ADMIN)(
    lambda c: Req("POST", "/api/v1/keys", json={"name": f"k{_u()}", "scopes": ["read"]})
)
row("DELETE", "/api/v1/keys/{key_id}", ADMIN)(lambda c: Req("DELETE", f"/api/v1/keys/{c.key_id}"))

# --- audit -------------------------------------------------------------------------------------------
row("GET", "/api/v1/audit", ADMIN)(lambda c: Req("GET", "/api/v1/audit"))
row("GET", "/api/v1/audit/{entry_id}", ADMIN)(lambda c: Req("GET", f"/api/v1/audit/{c.audit_id}"))

# --- media -------------------------------------------------------------------------------------------
# the photo is pending review: only the staff handling the case, and the admin (who moderates), see it;
# not the reporter either (they have their own copy), and never another citizen or agency
MODERATORS = HANDLERS | ADMIN
row("GET", "/api/v1/media/sha/{sha256}", MODERATORS)(lambda c: Req("GET", f"/api/v1/media/sha/{c.sha}"))
row("GET", "/api/v1/media/{media_id}", MODERATORS)(lambda c: Req("GET", f"/api/v1/media/{c.media_id}"))
row("GET", "/api/v1/media/{media_id}/thumbnail", MODERATORS)(
    lambda c: Req("GET", f"/api/v1/media/{c.media_id}/thumbnail")
)
row("GET", "/api/v1/media/{media_id}/original", MODERATORS)(
    lambda c: Req("GET", f"/api/v1/media/{c.media_id}/original")
)
row("GET", "/api/v1/media/{media_id}/original/thumbnail", MODERATORS)(
    lambda c: Req("GET", f"/api/v1/media/{c.media_id}/original/thumbnail")
)

# --- reports -----------------------------------------------------------------------------------------
row("GET", "/api/v1/reports/categories", ALL)(lambda c: Req("GET", "/api/v1/reports/categories"))
row("POST", "/api/v1/reports", ALL)(
    lambda c: Req(
        "POST",
        "/api/v1/reports",
        json={"category": "lighting", "description": "Đèn hỏng", "lat": A_POINT[0], "lon": A_POINT[1]},
        headers={"Idempotency-Key": f"matrix-submit-{_u():08d}"},
    )
)
row("POST", "/api/v1/reports/media", ALL)(
    lambda c: Req(
        "POST",
        "/api/v1/reports/media",
        files={"file": ("p.jpg", jpeg_bytes((9, 9, _u() % 250)), "image/jpeg")},
    )
)
row("GET", "/api/v1/reports/public", ALL)(lambda c: Req("GET", "/api/v1/reports/public"))
row("GET", "/api/v1/reports/public.geojson", ALL)(lambda c: Req("GET", "/api/v1/reports/public.geojson"))
row("GET", "/api/v1/reports/public/{ref}", ALL)(lambda c: Req("GET", f"/api/v1/reports/public/{c.ref}"))
# the tracking token is the capability: whoever holds it may follow the case
row("GET", "/api/v1/reports/track/{token}", ALL)(lambda c: Req("GET", f"/api/v1/reports/track/{c.token}"))
row("POST", "/api/v1/reports/track/{token}/reopen", ALL)(
    lambda c: Req("POST", f"/api/v1/reports/track/{c.token}/reopen", json={"comment": "Chưa sửa"})
)
row("POST", "/api/v1/reports/track/{token}/rate", ALL)(
    lambda c: Req("POST", f"/api/v1/reports/track/{c.token}/rate", json={"score": 4})
)
row("POST", "/api/v1/reports/track/{token}/subscribe", USERS)(
    lambda c: Req("POST", f"/api/v1/reports/track/{c.token}/subscribe", json={"channel": "push"})
)
# the code sent to a typed address is the capability (#21): the same answer whoever asks
row("POST", "/api/v1/reports/track/{token}/subscribe/confirm", UNIFORM)(
    lambda c: Req(
        "POST",
        f"/api/v1/reports/track/{c.token}/subscribe/confirm",
        json={"channel": "sms", "address": "0912000999", "code": "123456"},
    )
)
row("POST", "/api/v1/reports/cases/{ref}/subscribe/confirm", UNIFORM)(
    lambda c: Req(
        "POST",
        f"/api/v1/reports/cases/{c.ref}/subscribe/confirm",
        json={"channel": "sms", "address": "0912000999", "code": "123456"},
    )
)
# rotating needs the token itself (an unknown one: 404 for everyone; a real one would end the others' rows)
row("POST", "/api/v1/reports/track/{token}/rotate", UNIFORM)(
    lambda c: Req("POST", "/api/v1/reports/track/not-a-real-token-abcdefghij/rotate")
)
row("GET", "/api/v1/reports/mine", USERS)(lambda c: Req("GET", "/api/v1/reports/mine"))
row("GET", "/api/v1/reports/mine/export", USERS)(lambda c: Req("GET", "/api/v1/reports/mine/export"))
# anyone signed in may follow a public case (the updates carry no personal data)
row("POST", "/api/v1/reports/cases/{ref}/subscribe", USERS)(
    lambda c: Req("POST", f"/api/v1/reports/cases/{c.ref}/subscribe", json={"channel": "push"})
)
row("POST", "/api/v1/reports/cases/{ref}/rate", {"citizen"})(
    lambda c: Req("POST", f"/api/v1/reports/cases/{c.ref}/rate", json={"score": 5})
)
row("GET", "/api/v1/reports/inbox", STAFF - ADMIN)(lambda c: Req("GET", "/api/v1/reports/inbox"))
# the case with its personal fields and internal notes: the handling staff only
row("GET", "/api/v1/reports/cases/{ref}", HANDLERS)(lambda c: Req("GET", f"/api/v1/reports/cases/{c.ref}"))
row("POST", "/api/v1/reports/cases/{ref}/actions", HANDLERS)(
    lambda c: Req("POST", f"/api/v1/reports/cases/{c.ref}/actions", json={"action": "acknowledge"})
)
row("POST", "/api/v1/reports/cases/{ref}/notes", HANDLERS)(
    lambda c: Req("POST", f"/api/v1/reports/cases/{c.ref}/notes", json={"text": "ghi chú"})
)
row("POST", "/api/v1/reports/bulk-assign", {"supervisor", "operator"})(
    lambda c: Req(
        "POST",
        "/api/v1/reports/bulk-assign",
        json={"refs": [c.ref], "assignee_id": c.world.users["officer_a"].id},
    )
)
row("GET", "/api/v1/reports/templates", STAFF - ADMIN)(lambda c: Req("GET", "/api/v1/reports/templates"))
# an agency template: its supervisor, or the operator
row("POST", "/api/v1/reports/templates", {"supervisor", "operator"})(
    lambda c: Req(
        "POST",
        "/api/v1/reports/templates",
        json={"title": f"Mẫu {_u()}", "body": "Đã xử lý", "agency_id": c.agency_id},
    )
)
row("POST", "/api/v1/reports/cases/{ref}/media/{media_id}/review", HANDLERS)(
    lambda c: Req(
        "POST", f"/api/v1/reports/cases/{c.ref}/media/{c.media_id}/review", json={"state": "pending"}
    )
)
row("POST", "/api/v1/reports/cases/{ref}/media/{media_id}/redact", HANDLERS)(
    lambda c: Req(
        "POST", f"/api/v1/reports/cases/{c.ref}/media/{c.media_id}/redact", json={"boxes": [[0, 0, 4, 4]]}
    )
)
row("POST", "/api/v1/reports/cases/{ref}/visibility", {"supervisor", "operator", "admin"})(
    lambda c: Req("POST", f"/api/v1/reports/cases/{c.ref}/visibility", json={"hidden": False})
)
row("GET", "/api/v1/reports/scorecards", ALL)(lambda c: Req("GET", "/api/v1/reports/scorecards"))
row("POST", "/api/v1/reports/auth/otp", ALL)(
    lambda c: Req("POST", "/api/v1/reports/auth/otp", json={"phone": f"0912{_u():06d}"})
)
row("POST", "/api/v1/reports/auth/otp/verify", UNIFORM)(
    lambda c: Req("POST", "/api/v1/reports/auth/otp/verify", json={"phone": "0912000000", "code": "000000"})
)

# --- Open311 -----------------------------------------------------------------------------------------
row("GET", "/open311/v2/services.{fmt}", ALL)(lambda c: Req("GET", "/open311/v2/services.json"))
row("GET", "/open311/v2/services/{code}.{fmt}", ALL)(
    lambda c: Req("GET", "/open311/v2/services/lighting.json")
)
row("GET", "/open311/v2/requests.{fmt}", ALL)(lambda c: Req("GET", "/open311/v2/requests.json"))
# POST needs an api_key with scope open311 (neither key here has it)
row("POST", "/open311/v2/requests.{fmt}", set())(
    lambda c: Req(
        "POST",
        "/open311/v2/requests.json",
        content=f"service_code=lighting&lat={A_POINT[0]}&long={A_POINT[1]}&description=den".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
)
row("GET", "/open311/v2/requests/{ref}.{fmt}", ALL)(
    lambda c: Req("GET", f"/open311/v2/requests/{c.ref}.json")
)
row("GET", "/open311/v2/tokens/{token}.{fmt}", ALL)(
    lambda c: Req("GET", f"/open311/v2/tokens/{c.token}.json")
)

# --- sensing -----------------------------------------------------------------------------------------
row("GET", "/api/v1/sensing/latest", ALL)(lambda c: Req("GET", "/api/v1/sensing/latest"))
row("GET", "/api/v1/sensing/datastreams/{datastream_id}/aggregate", ALL)(
    lambda c: Req("GET", f"/api/v1/sensing/datastreams/{c.datastream_id}/aggregate?interval=1h")
)
row("GET", "/api/v1/environment/stations", ALL)(lambda c: Req("GET", "/api/v1/environment/stations"))
row("GET", "/sta/v1.1/", ALL)(lambda c: Req("GET", "/sta/v1.1/"))
row("GET", "/sta/v1.1/{path}", ALL)(lambda c: Req("GET", f"/sta/v1.1/Things({c.thing_id})"))
row("POST", "/sta/v1.1/CreateObservations", {"device_key", "admin", "operator"})(
    lambda c: Req(
        "POST",
        "/sta/v1.1/CreateObservations",
        json=[
            {
                "Datastream": {"@iot.id": c.datastream_id},
                "components": ["phenomenonTime", "result"],
                "dataArray": [
                    [(datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=_u())).isoformat(), 0.5]
                ],
            }
        ],
    )
)
row("POST", "/sta/v1.1/{path}", {"device_key", "admin", "operator"})(
    lambda c: Req(
        "POST",
        "/sta/v1.1/Observations",
        json={
            "Datastream": {"@iot.id": c.datastream_id},
            "phenomenonTime": (datetime(2026, 2, 1, tzinfo=UTC) + timedelta(minutes=_u())).isoformat(),
            "result": 0.4,
        },
    )
)
# a device key may add observations of its Thing, not edit the Thing
row("PATCH", "/sta/v1.1/{path}", {"admin", "operator"})(
    lambda c: Req("PATCH", f"/sta/v1.1/Things({c.thing_id})", json={"description": "trạm đo mặn"})
)
row("PUT", "/sta/v1.1/{path}", {"admin", "operator"})(
    lambda c: Req(
        "PUT",
        f"/sta/v1.1/Things({c.thing_id})",
        json={"name": "Trạm Tân An", "description": "trạm đo mặn"},
    )
)
# a missing Location: allowed callers get 404 too, so the deny set is checked for 401/403 only
row("DELETE", "/sta/v1.1/{path}", {"admin", "operator"})(
    lambda c: Req("DELETE", "/sta/v1.1/Locations(999999)")
)
# anyone may send a batch (200); each request in it is authorised as if sent alone, which
# tests/sensing/test_sta_batch.py checks per inner status
row("POST", "/sta/v1.1/$batch", ALL)(
    lambda c: Req(
        "POST",
        "/sta/v1.1/$batch",
        json={
            "requests": [
                {"id": "r", "method": "get", "url": f"Things({c.thing_id})"},
                {
                    "id": "w",
                    "method": "patch",
                    "url": f"Things({c.thing_id})",
                    "body": {"description": "trạm đo mặn"},
                },
            ]
        },
    )
)

# --- alerts and the IOC ------------------------------------------------------------------------------
IOC_ROLES = frozenset({"supervisor", "operator", "admin"})
row("GET", "/api/v1/alerts", ALL)(lambda c: Req("GET", "/api/v1/alerts"))
row("GET", "/api/v1/alerts/{alert_id}", ALL)(lambda c: Req("GET", f"/api/v1/alerts/{c.alert_id}"))
row("POST", "/api/v1/alerts/{alert_id}/acknowledge", IOC_ROLES)(
    lambda c: Req("POST", f"/api/v1/alerts/{c.alert_id}/acknowledge")
)
row("POST", "/api/v1/alerts/{alert_id}/close", IOC_ROLES)(
    lambda c: Req("POST", f"/api/v1/alerts/{c.alert_id}/close", json={"note": "kiểm tra"})
)
row("GET", "/api/v1/alert-rules", IOC_ROLES)(lambda c: Req("GET", "/api/v1/alert-rules"))
row("POST", "/api/v1/alert-rules", ADMIN)(
    lambda c: Req(
        "POST",
        "/api/v1/alert-rules",
        json={
            "code": f"pm25-{_u()}",
            "name_vi": "PM2.5 cao",
            "kind": "threshold",
            "property_code": "pm25",
            "parameters": {
                "levels": [{"severity": "watch", "value": 50, "clear": 45}],
                "min_duration_s": 3600,
            },
        },
    )
)
row("GET", "/api/v1/alert-rules/{rule_id}", IOC_ROLES)(
    lambda c: Req("GET", f"/api/v1/alert-rules/{c.rule_id}")
)
row("PATCH", "/api/v1/alert-rules/{rule_id}", ADMIN)(
    lambda c: Req("PATCH", f"/api/v1/alert-rules/{c.rule_id}", json={"name_en": "Salinity"})
)
row("DELETE", "/api/v1/alert-rules/{rule_id}", ADMIN)(
    lambda c: Req("DELETE", f"/api/v1/alert-rules/{c.rule_id}")
)
row("GET", "/api/v1/alert-subscriptions", USERS)(lambda c: Req("GET", "/api/v1/alert-subscriptions"))
row("POST", "/api/v1/alert-subscriptions", USERS)(
    lambda c: Req("POST", "/api/v1/alert-subscriptions", json={"area_id": c.area_id})
)
# citizen A's subscription: A, or the IOC (alert.manage) who manages subscriptions; others get 404
row("DELETE", "/api/v1/alert-subscriptions/{sub_id}", {"citizen"} | IOC_ROLES)(
    lambda c: Req("DELETE", f"/api/v1/alert-subscriptions/{c.sub_id}")
)
row("GET", "/api/v1/ioc/summary", ALL)(lambda c: Req("GET", "/api/v1/ioc/summary"))
row("GET", "/api/v1/ioc/stations", ALL)(lambda c: Req("GET", "/api/v1/ioc/stations"))

# the live stream is public; it ends after ``stream_seconds`` (made short in the test)
row("GET", "/api/v1/live", ALL)(lambda c: Req("GET", "/api/v1/live"))

# last: each caller erases their own personal data (citizen A unlinks from the case)
row("DELETE", "/api/v1/reports/mine/personal-data", USERS)(
    lambda c: Req("DELETE", "/api/v1/reports/mine/personal-data")
)

row("GET", "/api/v1/privacy/export", USERS)(lambda c: Req("GET", "/api/v1/privacy/export"))
# the very last row: citizens close their own accounts (staff accounts are closed by an admin)
row("DELETE", "/api/v1/privacy/account", {"citizen", "other_citizen"})(
    lambda c: Req("DELETE", "/api/v1/privacy/account")
)

NOT_REQUESTED: dict[tuple[str, str], str] = {}  # (method, path) -> why the matrix cannot call it

METHODS = ("get", "post", "put", "patch", "delete")


# --- the world -----------------------------------------------------------------------------------------


def _bearer(session: Session, user_id: int) -> dict[str, str]:
    user = session.get(User, user_id)
    assert user is not None
    _, token = create_session(session, user, ttl_minutes=60)
    session.commit()
    return {"Authorization": f"Bearer {token}"}


def build_ctx(
    session: Session, settings: Settings, client: TestClient, make_api_key: Callable[..., str]
) -> Ctx:
    world = build_world(session, settings)
    citizen = _bearer(session, world.users["citizen"].id)
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
        headers=_bearer(session, world.users["officer_a"].id),
    )
    assert note.status_code in (200, 201), note.text
    assert session.scalar(select(CaseEvent.id).where(CaseEvent.kind == "note")) is not None
    ds = make_station(session, "Trạm Tân An", "salinity", area_ids=[world.ward_a.id])
    rule = salinity_rule(session)
    t0 = datetime(2026, 3, 10, tzinfo=UTC)
    changes = process_observations(session, ds.id, [(t0 + timedelta(minutes=10 * i), 5.0) for i in range(5)])
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
            "integrator_key": make_api_key([ApiScope.READ], name="integrator"),
        },
    )


def headers_for(ctx: Ctx, role: str) -> dict[str, str]:
    if role == "anonymous":
        return {}
    if role in ctx.keys:
        return {"X-API-Key": ctx.keys[role]}
    return _bearer(ctx.world.session, ctx.world.users[USER_OF_ROLE[role]].id)


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


def test_every_route_has_a_matrix_row(app: Any) -> None:
    schema = {(m.upper(), path) for path, ops in app.openapi()["paths"].items() for m in ops if m in METHODS}
    missing = schema - set(MATRIX) - set(NOT_REQUESTED)
    assert not missing, f"routes without an authorization matrix row: {sorted(missing)}"
    stale = set(MATRIX) - schema
    assert not stale, f"matrix rows for routes that no longer exist: {sorted(stale)}"
    assert len(MATRIX) >= 85


def test_authorization_matrix(
    session: Session, settings: Settings, client: TestClient, make_api_key: Callable[..., str], app: Any
) -> None:
    app.state.live.stream_seconds = 0.2
    ctx = build_ctx(session, settings, client, make_api_key)
    observed: dict[tuple[str, str], dict[str, int]] = {}
    wrong: list[str] = []
    for (method, path), (build, allowed) in MATRIX.items():
        observed[(method, path)] = {}
        # denied callers first: an allowed caller's write must not turn a later denial into a 404
        for role in sorted(ROLES, key=lambda r: r in allowed):
            status, text = send(client, build(ctx), headers_for(ctx, role))
            if role in OUTSIDERS:
                leaked = [s for s in SECRETS if s in text]
                if leaked:
                    wrong.append(f"{method} {path} as {role}: citizen A's {leaked} in the answer")
            observed[(method, path)][role] = status
            if allowed == UNIFORM:
                continue
            ok = status not in (401, 403) if role in allowed else status in (401, 403, 404)
            if not ok:
                wrong.append(
                    f"{method} {path} as {role}: {status} ({'allow' if role in allowed else 'deny'})"
                )
        # (429: the per-account/IP throttle on credential checks, not an authorization answer)
        if allowed == UNIFORM and len(set(observed[(method, path)].values()) - {429}) != 1:
            wrong.append(f"{method} {path}: the answer depends on the caller {observed[(method, path)]}")
    checked = sum(len(v) for v in observed.values())
    print(f"\nauthorization matrix: {len(observed)} routes × {len(ROLES)} callers = {checked} checks")
    assert not wrong, "\n".join(wrong)
    assert checked == len(MATRIX) * len(ROLES)


PUBLIC_CASE_URLS = (
    "/api/v1/reports/public",
    "/api/v1/reports/public.geojson",
    "/api/v1/reports/public/{ref}",
    "/open311/v2/requests.json",
    "/open311/v2/requests/{ref}.json",
)


CONTACTS_IN_TEXT = ("0912 345 678", "ban.doc@example.vn", "62A-123.45")


def test_problem_place_is_public_but_contacts_typed_in_text_are_not(
    session: Session, settings: Settings, client: TestClient, make_api_key: Callable[..., str]
) -> None:
    """Decision (#7): the place a report names is public, like its pin (FixMyStreet, Open311 ``address``);
    the reporter's own contact details are not, even when typed into the description or the address."""
    ctx = build_ctx(session, settings, client, make_api_key)
    citizen = _bearer(session, ctx.world.users["citizen"].id)
    made = client.post(
        "/api/v1/reports",
        headers=citizen,
        json={
            "category": "lighting",
            "description": f"Xe {CONTACTS_IN_TEXT[2]} đậu chắn đèn; gọi tôi {CONTACTS_IN_TEXT[0]}",
            "lat": A_POINT[0],
            "lon": A_POINT[1],
            "address": f"{SECRET_ADDRESS}, email {CONTACTS_IN_TEXT[1]}",
            "consent": True,
        },
    )
    assert made.status_code == 201, made.text
    ref = made.json()["ref"]
    for url in PUBLIC_CASE_URLS:
        text = client.get(url.format(ref=ref)).text
        assert SECRET_ADDRESS in text, url
        assert not [c for c in CONTACTS_IN_TEXT if c in text], (url, text[:300])
    # another citizen reporting the same problem nearby is shown it as a possible duplicate, masked too
    again = client.post(
        "/api/v1/reports",
        json={
            "category": "lighting",
            "description": "Đèn tắt",
            "lat": A_POINT[0],
            "lon": A_POINT[1],
            "consent": True,
        },
    )
    assert again.status_code == 201, again.text
    assert ref in again.text
    assert not [c for c in CONTACTS_IN_TEXT if c in again.text], again.text
    staff = client.get(
        f"/api/v1/reports/cases/{ref}", headers=_bearer(session, ctx.world.users["officer_a"].id)
    )
    assert staff.status_code == 200, staff.text
    assert all(c in staff.text for c in CONTACTS_IN_TEXT), "handling staff see the text as written"
