"""The authorization matrix rows of NGSI-LD (/ngsi-ld/v1; not in the OpenAPI schema, found by
``hidden_routes``). Policy: reading is public (staff see staff-only places too); generic entities are written
by operators, admins and ingest keys (``ngsild.entity.write``); subscriptions are made by staff and read or
ingest keys (``ngsild.subscription.manage``), and one is seen and changed only by its owner or staff
(another caller gets 404).
"""

from __future__ import annotations

from tests.security.authz_world import (
    ALL,
    KEYS,
    STAFF,
    Req,
    ngsi_subscription,
    row,
    unique,
    vehicle,
)

V1 = "/ngsi-ld/v1"
WRITERS = frozenset({"operator", "admin", "device_key"})  # the device key has scope ingest
SUBSCRIBERS = STAFF | KEYS
SUB_OWNER = STAFF | {"integrator_key"}  # the integrator's key made the world's subscription
_SPEED = {"speed": {"type": "Property", "value": 45, "unitCode": "KMH"}}

# --- reads (public) ----------------------------------------------------------------------------------------
row("GET", "/ngsi-ld/contexts/ngsi-ld-core-context-v{version}.jsonld", ALL)(
    lambda c: Req("GET", "/ngsi-ld/contexts/ngsi-ld-core-context-v1.8.jsonld")
)
row("GET", f"{V1}/entities", ALL)(lambda c: Req("GET", f"{V1}/entities?type=Vehicle"))
row("GET", f"{V1}/entities/", ALL)(lambda c: Req("GET", f"{V1}/entities/?type=Vehicle"))
row("GET", f"{V1}/entities/{{eid:path}}", ALL)(lambda c: Req("GET", f"{V1}/entities/{c.entity_id}"))
row("GET", f"{V1}/types", ALL)(lambda c: Req("GET", f"{V1}/types"))
row("GET", f"{V1}/types/{{name}}", ALL)(lambda c: Req("GET", f"{V1}/types/Vehicle"))
row("GET", f"{V1}/attributes", ALL)(lambda c: Req("GET", f"{V1}/attributes"))
row("GET", f"{V1}/attributes/{{name}}", ALL)(lambda c: Req("GET", f"{V1}/attributes/speed"))
row("GET", f"{V1}/temporal/entities", ALL)(
    lambda c: Req("GET", f"{V1}/temporal/entities?type=WaterQualityObserved&lastN=1")
)
row("GET", f"{V1}/temporal/entities/{{eid:path}}", ALL)(
    lambda c: Req("GET", f"{V1}/temporal/entities/{c.entity_id}?lastN=1")
)

# --- generic entities: operators, admins, ingest keys ----------------------------------------------------
row("POST", f"{V1}/entities", WRITERS)(
    lambda c: Req("POST", f"{V1}/entities", json=vehicle(f"urn:ngsi-ld:Vehicle:matrix-{unique()}"))
)
row("POST", f"{V1}/entities/", WRITERS)(
    lambda c: Req("POST", f"{V1}/entities/", json=vehicle(f"urn:ngsi-ld:Vehicle:matrix-{unique()}"))
)
row("PUT", f"{V1}/entities/{{eid:path}}", WRITERS)(
    lambda c: Req("PUT", f"{V1}/entities/{c.entity_id}", json={"type": "Vehicle", **_SPEED})
)
row("PUT", f"{V1}/entities/{{eid:path}}/attrs", WRITERS)(
    lambda c: Req("PUT", f"{V1}/entities/{c.entity_id}/attrs", json={"type": "Vehicle", **_SPEED})
)
row("PATCH", f"{V1}/entities/{{eid:path}}/attrs", WRITERS)(
    lambda c: Req("PATCH", f"{V1}/entities/{c.entity_id}/attrs", json=_SPEED)
)
row("POST", f"{V1}/entities/{{eid:path}}/attrs", WRITERS)(
    lambda c: Req(
        "POST",
        f"{V1}/entities/{c.entity_id}/attrs",
        json={"brand": {"type": "Property", "value": "Hãng mới"}},
    )
)
row("PATCH", f"{V1}/entities/{{eid:path}}", WRITERS)(
    lambda c: Req("PATCH", f"{V1}/entities/{c.entity_id}", json=_SPEED)
)
row("POST", f"{V1}/entityOperations/{{op}}", WRITERS)(
    lambda c: Req(
        "POST", f"{V1}/entityOperations/upsert", json=[vehicle(f"urn:ngsi-ld:Vehicle:matrix-{unique()}")]
    )
)
# the first allowed caller deletes; the later ones get 404 (allowed: neither 401 nor 403)
row("DELETE", f"{V1}/entities/{{eid:path}}/attrs/{{attr}}", WRITERS)(
    lambda c: Req("DELETE", f"{V1}/entities/{c.entity_id}/attrs/brand")
)
row("DELETE", f"{V1}/entities/{{eid:path}}", WRITERS)(lambda c: Req("DELETE", f"{V1}/entities/{c.entity_id}"))

# --- subscriptions: staff and keys make them; the owner or staff see and change one ----------------------
row("POST", f"{V1}/subscriptions", SUBSCRIBERS)(
    lambda c: Req("POST", f"{V1}/subscriptions", json=ngsi_subscription())
)
row("POST", f"{V1}/subscriptions/", SUBSCRIBERS)(
    lambda c: Req("POST", f"{V1}/subscriptions/", json=ngsi_subscription())
)
row("GET", f"{V1}/subscriptions", SUBSCRIBERS)(lambda c: Req("GET", f"{V1}/subscriptions"))
row("GET", f"{V1}/subscriptions/", SUBSCRIBERS)(lambda c: Req("GET", f"{V1}/subscriptions/"))
row("GET", f"{V1}/subscriptions/{{sid:path}}", SUB_OWNER)(
    lambda c: Req("GET", f"{V1}/subscriptions/{c.ngsi_sub_id}")
)
row("PATCH", f"{V1}/subscriptions/{{sid:path}}", SUB_OWNER)(
    lambda c: Req("PATCH", f"{V1}/subscriptions/{c.ngsi_sub_id}", json={"description": "theo dõi xe"})
)
row("POST", f"{V1}/subscriptions/{{sid:path}}/retry", SUB_OWNER)(
    lambda c: Req("POST", f"{V1}/subscriptions/{c.ngsi_sub_id}/retry")
)
row("DELETE", f"{V1}/subscriptions/{{sid:path}}", SUB_OWNER)(
    lambda c: Req("DELETE", f"{V1}/subscriptions/{c.ngsi_sub_id}")
)
