"""The authorization matrix rows of the core and capability routes (see authz_world)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.reports.conftest import A_POINT, jpeg_bytes
from tests.security.authz_world import (
    ADMIN,
    ALL,
    HANDLERS,
    STAFF,
    UNIFORM,
    USERS,
    Ctx,
    Req,
    row,
    unique,
)

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
        "POST", "/api/v1/places", json={"type": "market", "name": f"Chợ {unique()}", "geometry": _POINT}
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
    code = f"p{unique()}"
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
        json={"disbursed_on": "2026-01-05", "amount_vnd": 1000, "document": f"QĐ {unique()}"},
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
        "POST", "/api/v1/users", json={"role": "citizen", "username": f"new{unique()}", "full_name": "X"}
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
    lambda c: Req("POST", "/api/v1/agencies", json={"code": f"ag-{unique()}", "name": "Cơ quan mới"})
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
    lambda c: Req("POST", "/api/v1/keys", json={"name": f"k{unique()}", "scopes": ["read"]})
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
        headers={"Idempotency-Key": f"matrix-submit-{unique():08d}"},
    )
)
row("POST", "/api/v1/reports/media", ALL)(
    lambda c: Req(
        "POST",
        "/api/v1/reports/media",
        files={"file": ("p.jpg", jpeg_bytes((9, 9, unique() % 250)), "image/jpeg")},
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
        json={"title": f"Mẫu {unique()}", "body": "Đã xử lý", "agency_id": c.agency_id},
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
    lambda c: Req("POST", "/api/v1/reports/auth/otp", json={"phone": f"0912{unique():06d}"})
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
                    [(datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=unique())).isoformat(), 0.5]
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
            "phenomenonTime": (datetime(2026, 2, 1, tzinfo=UTC) + timedelta(minutes=unique())).isoformat(),
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
            "code": f"pm25-{unique()}",
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
row("DELETE", "/api/v1/reports/mine/personal-data", USERS, last=True)(
    lambda c: Req("DELETE", "/api/v1/reports/mine/personal-data")
)

row("GET", "/api/v1/privacy/export", USERS, last=True)(lambda c: Req("GET", "/api/v1/privacy/export"))
# the very last row: citizens close their own accounts (staff accounts are closed by an admin)
row("DELETE", "/api/v1/privacy/account", {"citizen", "other_citizen"}, last=True)(
    lambda c: Req("DELETE", "/api/v1/privacy/account")
)
