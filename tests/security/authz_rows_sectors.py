"""The authorization matrix rows of the sectors, the admin pages, Web Push devices, webhooks, key quotas,
populations, the basemap and forecasts (see authz_world for the callers and the world).

Who may do what comes from cityops/identity/policy.py: admin pages, webhooks, key quotas, populations and
crop tolerances are the admin's (``ADMIN`` rules); dossiers are pushed by the one-stop-shop system's key
(scope ``dossiers``, which neither key here has) or an admin, and read by staff; cameras are staff-only
places; a camera heartbeat is ``sensing.ingest``, which a key bound to one Thing cannot do for a camera.
"""

from __future__ import annotations

import json

from tests.reports.conftest import A_POINT
from tests.security.authz_world import (
    ADMIN,
    ALL,
    DOSSIER,
    DOSSIER_PHONE,
    STAFF,
    UNIFORM,
    Build,
    Req,
    row,
    unique,
)

# --- admin pages: case categories and the rollout of areas (admin); the live areas (public) -----------
_KIND = "matrix_kind"  # created by the POST row, changed by the PATCH row after it
row("GET", "/api/v1/admin/categories", ADMIN)(lambda c: Req("GET", "/api/v1/admin/categories"))
row("POST", "/api/v1/admin/categories", ADMIN)(
    lambda c: Req(
        "POST",
        "/api/v1/admin/categories",
        json={"code": _KIND, "name_vi": "Loại việc thử", "name_en": "Test kind"},
    )
)
row("PATCH", "/api/v1/admin/categories/{code}", ADMIN)(
    lambda c: Req("PATCH", f"/api/v1/admin/categories/{_KIND}", json={"sla_hours": 24.0})
)
row("GET", "/api/v1/admin/rollout", ADMIN)(lambda c: Req("GET", "/api/v1/admin/rollout"))
row("PUT", "/api/v1/admin/rollout", ADMIN)(
    lambda c: Req("PUT", "/api/v1/admin/rollout", json={"area_ids": [c.area_id], "live": True})
)
row("GET", "/api/v1/live-areas", ALL)(lambda c: Req("GET", "/api/v1/live-areas"))

# --- populations (public; the admin enters them with their source) -----------------------------------
row("GET", "/api/v1/areas/{area_id}/populations", ALL)(
    lambda c: Req("GET", f"/api/v1/areas/{c.area_id}/populations")
)
row("PUT", "/api/v1/areas/{area_id}/populations/{year}", ADMIN)(
    lambda c: Req(
        "PUT",
        f"/api/v1/areas/{c.area_id}/populations/2025",
        json={"population": 12000, "source": "Niên giám thống kê 2025"},
    )
)

# --- API key quotas (admin) ----------------------------------------------------------------------------
row("PUT", "/api/v1/keys/{key_id}/quota", ADMIN)(
    lambda c: Req("PUT", f"/api/v1/keys/{c.key_id}/quota", json={"per_minute": 600, "per_day": 100000})
)
row("GET", "/api/v1/keys/{key_id}/usage", ADMIN)(lambda c: Req("GET", f"/api/v1/keys/{c.key_id}/usage"))

# --- webhooks (admin) ------------------------------------------------------------------------------------
row("GET", "/api/v1/admin/webhooks", ADMIN)(lambda c: Req("GET", "/api/v1/admin/webhooks"))
row("POST", "/api/v1/admin/webhooks", ADMIN)(
    lambda c: Req(
        "POST",
        "/api/v1/admin/webhooks",
        json={"url": f"http://127.0.0.1:9/hook/{unique()}", "event_types": ["alert.opened"]},
    )
)
row("GET", "/api/v1/admin/webhooks/{sub_id}/deliveries", ADMIN)(
    lambda c: Req("GET", f"/api/v1/admin/webhooks/{c.webhook_id}/deliveries")
)
row("GET", "/api/v1/admin/webhooks/dead-letters", ADMIN)(
    lambda c: Req("GET", "/api/v1/admin/webhooks/dead-letters")
)
row("POST", "/api/v1/admin/webhooks/deliveries/{delivery_id}/replay", ADMIN)(
    lambda c: Req("POST", f"/api/v1/admin/webhooks/deliveries/{c.dead_delivery_id}/replay")
)
# after the rows that read the subscription
row("DELETE", "/api/v1/admin/webhooks/{sub_id}", ADMIN)(
    lambda c: Req("DELETE", f"/api/v1/admin/webhooks/{c.webhook_id}")
)

# --- Web Push devices: anyone registers a browser; its device key is the capability afterwards ---------
row("GET", "/api/v1/push/public-key", ALL)(lambda c: Req("GET", "/api/v1/push/public-key"))
row("POST", "/api/v1/push/devices", ALL)(
    lambda c: Req(
        "POST",
        "/api/v1/push/devices",
        json={
            "area_ids": [c.area_id],
            "subscription": {
                "endpoint": f"https://push.example.vn/matrix/{unique()}",
                "keys": {"p256dh": "B" * 20, "auth": "a" * 10},
            },
        },
    )
)
row("GET", "/api/v1/push/devices/current", UNIFORM)(
    lambda c: Req("GET", "/api/v1/push/devices/current", headers={"X-Device-Key": c.device_key})
)
row("PUT", "/api/v1/push/devices/current", UNIFORM)(
    lambda c: Req(
        "PUT",
        "/api/v1/push/devices/current",
        json={"area_ids": [c.area_id], "min_severity": "warning"},
        headers={"X-Device-Key": c.device_key},
    )
)
# an unknown key (404 for everyone): the real one, deleted by the first caller, would answer 404 to the rest
row("DELETE", "/api/v1/push/devices/current", UNIFORM)(
    lambda c: Req(
        "DELETE", "/api/v1/push/devices/current", headers={"X-Device-Key": "not-a-device-key-abcdefghij"}
    )
)

# --- basemap and forecasts (public) ----------------------------------------------------------------------
row("GET", "/api/v1/basemap", ALL)(lambda c: Req("GET", "/api/v1/basemap"))
# the station has one forecast, issued at 10/03/2026 00:00 UTC; no stored backtest (404 for everyone)
row("GET", "/api/v1/forecasts/{datastream_id}", ALL)(
    lambda c: Req("GET", f"/api/v1/forecasts/{c.datastream_id}?issued_at=2026-03-10T00:00:00Z")
)
row("GET", "/api/v1/forecasts/{datastream_id}/latest", ALL)(
    lambda c: Req("GET", f"/api/v1/forecasts/{c.datastream_id}/latest")
)
row("GET", "/api/v1/forecasts/{datastream_id}/backtest", ALL)(
    lambda c: Req("GET", f"/api/v1/forecasts/{c.datastream_id}/backtest")
)

# --- environment (public) --------------------------------------------------------------------------------
row("GET", "/api/v1/environment/water-quality", ALL)(
    lambda c: Req("GET", "/api/v1/environment/water-quality")
)
row("GET", "/api/v1/environment/water-levels", ALL)(lambda c: Req("GET", "/api/v1/environment/water-levels"))
row("GET", "/api/v1/environment/water-levels.geojson", ALL)(
    lambda c: Req("GET", f"/api/v1/environment/water-levels.geojson?area_id={c.area_id}")
)


def _get(url: str) -> Build:
    return lambda c: Req("GET", url)


def _get_in_area(url: str) -> Build:
    """The layer of ward A (an unknown area would be 404)."""
    return lambda c: Req("GET", f"{url}?area_id={c.area_id}")


# --- agriculture (public bulletins and layers; the admin sets crop tolerances) ---------------------------
for _path in (
    "/api/v1/agriculture/bulletins",
    "/api/v1/agriculture/bulletins/history",
    "/api/v1/agriculture/crops",
    "/api/v1/agriculture/gates",
    "/api/v1/agriculture/intrusion",
):
    row("GET", _path, ALL)(_get(_path))
for _path in (
    "/api/v1/agriculture/bulletins.geojson",
    "/api/v1/agriculture/gates.geojson",
    "/api/v1/agriculture/intrusion.geojson",
):
    row("GET", _path, ALL)(_get_in_area(_path))
row("PUT", "/api/v1/agriculture/crops/{code}", ADMIN)(
    lambda c: Req(
        "PUT",
        "/api/v1/agriculture/crops/rice",
        json={"caution_g_l": 2.0, "harm_g_l": 4.0, "source": "Bản tin mặn tỉnh Long An"},
    )
)

# --- public order: the hotspot map is public, k-anonymous below staff ------------------------------------
row("GET", "/api/v1/public-order/hotspots.geojson", ALL)(
    lambda c: Req("GET", "/api/v1/public-order/hotspots.geojson")
)

# --- public services: dossiers pushed by the one-stop-shop system (or an admin), read by staff ------------
_DOSSIERS = "/api/v1/public-services/dossiers"
row("POST", _DOSSIERS, ADMIN)(lambda c: Req("POST", _DOSSIERS, json={"dossiers": [DOSSIER]}))
row("POST", f"{_DOSSIERS}/import", ADMIN)(
    lambda c: Req(
        "POST",
        f"{_DOSSIERS}/import",
        files={"file": ("hoso.json", json.dumps([DOSSIER]).encode(), "application/json")},
    )
)
# the code and the last 4 digits are the capability: the same answer whoever asks
row("POST", f"{_DOSSIERS}/lookup", UNIFORM)(
    lambda c: Req(
        "POST",
        f"{_DOSSIERS}/lookup",
        json={"code": c.dossier_code, "digits": DOSSIER_PHONE.replace(" ", "")[-4:]},
    )
)
row("GET", f"{_DOSSIERS}/{{code}}", STAFF)(lambda c: Req("GET", f"{_DOSSIERS}/{c.dossier_code}"))
row("GET", f"{_DOSSIERS}/overdue", ALL)(lambda c: Req("GET", f"{_DOSSIERS}/overdue"))
row("GET", f"{_DOSSIERS}/overdue.geojson", ALL)(lambda c: Req("GET", f"{_DOSSIERS}/overdue.geojson"))
row("GET", f"{_DOSSIERS}/qr.svg", ALL)(lambda c: Req("GET", f"{_DOSSIERS}/qr.svg?code={c.dossier_code}"))
row("GET", "/api/v1/public-services/nearby", ALL)(
    lambda c: Req("GET", f"/api/v1/public-services/nearby?near={A_POINT[0]},{A_POINT[1]}&type=market")
)

# --- traffic: segments and closures public; cameras staff-only; heartbeats by an ingest key or the admin --
row("GET", "/api/v1/traffic/segments.geojson", ALL)(lambda c: Req("GET", "/api/v1/traffic/segments.geojson"))
row("GET", "/api/v1/traffic/segments/{place_id}/days", ALL)(
    lambda c: Req("GET", f"/api/v1/traffic/segments/{c.segment_id}/days")
)
row("GET", "/api/v1/traffic/closures.geojson", ALL)(lambda c: Req("GET", "/api/v1/traffic/closures.geojson"))
row("GET", "/api/v1/traffic/cameras", STAFF)(lambda c: Req("GET", "/api/v1/traffic/cameras"))
row("GET", "/api/v1/traffic/cameras.geojson", STAFF)(lambda c: Req("GET", "/api/v1/traffic/cameras.geojson"))
# the device key is bound to the salinity station's Thing, so it may not vouch for a camera
row("POST", "/api/v1/traffic/cameras/{place_id}/heartbeat", ADMIN)(
    lambda c: Req("POST", f"/api/v1/traffic/cameras/{c.camera_id}/heartbeat")
)
