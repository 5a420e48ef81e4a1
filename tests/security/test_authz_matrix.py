"""The authorization matrix test: every route of the OpenAPI schema × every kind of caller, allow or deny.

The callers, the world they act in and the rules of the check are in :mod:`tests.security.authz_world`;
the rows are in :mod:`tests.security.authz_rows_core` (core and capabilities) and
:mod:`tests.security.authz_rows_sectors` (sectors, admin pages, push, webhooks, quotas, forecasts).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

import tests.security.authz_rows_core
import tests.security.authz_rows_ngsild
import tests.security.authz_rows_sectors
from cityops.settings import Settings
from tests.reports.conftest import A_POINT
from tests.security.authz_world import (
    MATRIX,
    METHODS,
    NOT_REQUESTED,
    OUTSIDERS,
    ROLES,
    SECRET_ADDRESS,
    SECRETS,
    UNIFORM,
    bearer,
    build_ctx,
    headers_for,
    hidden_routes,
    ordered,
    send,
)

# importing the row modules registers their rows, core first; ordered() runs the last=True rows at the end
ROW_MODULES = (
    tests.security.authz_rows_core,
    tests.security.authz_rows_sectors,
    tests.security.authz_rows_ngsild,
)


def test_every_route_has_a_matrix_row(app: Any) -> None:
    schema = {(m.upper(), path) for path, ops in app.openapi()["paths"].items() for m in ops if m in METHODS}
    ngsild = hidden_routes(app)  # NGSI-LD's routes are not in the OpenAPI schema
    assert ("GET", "/ngsi-ld/v1/entities/{eid:path}") in ngsild, sorted(ngsild)
    schema |= ngsild
    missing = schema - set(MATRIX) - set(NOT_REQUESTED)
    assert not missing, f"routes without an authorization matrix row: {sorted(missing)}"
    stale = set(MATRIX) - schema
    assert not stale, f"matrix rows for routes that no longer exist: {sorted(stale)}"
    assert len(MATRIX) >= 140


def test_authorization_matrix(
    session: Session, settings: Settings, client: TestClient, make_api_key: Callable[..., str], app: Any
) -> None:
    app.state.live.stream_seconds = 0.2
    ctx = build_ctx(session, settings, client, make_api_key)
    observed: dict[tuple[str, str], dict[str, int]] = {}
    wrong: list[str] = []
    for (method, path), (build, allowed) in ordered():
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
    citizen = bearer(session, ctx.world.users["citizen"].id)
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
        f"/api/v1/reports/cases/{ref}", headers=bearer(session, ctx.world.users["officer_a"].id)
    )
    assert staff.status_code == 200, staff.text
    assert all(c in staff.text for c in CONTACTS_IN_TEXT), "handling staff see the text as written"
