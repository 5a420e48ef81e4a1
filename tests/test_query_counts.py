"""Pinned query counts for every list endpoint of ``/api/v1`` (NetBox's way of catching N+1 regressions).

Each endpoint is asked once with 1 row of what it lists and once with 20: both answers must run exactly
the pinned number of statements, on both backends. A count that grows with the rows is an N+1; a count
that changed is a change to look at (lower: update the pin; higher: explain it in the commit). Each
count is the first request after the rows were added, so caches that notice a change are measured doing
their work, not serving a stale answer; the app is warmed up before (first connection, start-up caches).
Only the request's own statements count, not the app's background work (see tests/kit/queries.py).

A new GET route under ``/api/v1`` without a path parameter fails :func:`test_every_list_route_is_pinned`
until it gets a row in :data:`PINNED` (a list) or :data:`NOT_LISTS` (with the reason it lists nothing).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cityops.clock import utcnow
from cityops.identity.models import Role
from tests.conftest import Backend
from tests.kit.factories import Factory
from tests.kit.queries import get_counted

Seed = Callable[[Factory, int], Any]


def _items(body: Any) -> list[Any]:
    """The listed rows of a JSON answer: a bare list, ``items``, GeoJSON ``features`` or scorecard ``rows``."""
    if isinstance(body, list):
        return body
    for key in ("items", "features", "rows"):
        if key in body:
            return list(body[key])
    raise AssertionError(f"no list in {sorted(body)}")


@dataclass(frozen=True)
class Listed:
    """A list endpoint: who asks, how to add ``n`` rows of what it lists, and its pinned statements."""

    seed: Seed
    pinned: int
    role: str = "anonymous"
    query: str = ""
    postgresql: int | None = None  # when PostgreSQL runs another number than SQLite (say why)
    n_plus_1: str = ""  # a known N+1, where it is: the test is an expected failure until it is fixed

    def pin(self, backend: str) -> int:
        return self.postgresql if backend == "postgresql" and self.postgresql is not None else self.pinned


def _areas(f: Factory, n: int) -> None:
    f.batch(n, f.area)


def _agencies(f: Factory, n: int) -> None:
    for _ in range(n):
        f.agency(area=f.area(), categories=["roads", "lighting"])


def _officers(f: Factory, n: int) -> None:
    f.batch(n, lambda: f.user(Role.OFFICER))


def _keys(f: Factory, n: int) -> None:
    f.batch(n, f.api_key)


def _alerts(f: Factory, n: int) -> None:
    rule = f.alert_rule()
    for _ in range(n):
        f.alert(rule=rule, areas=[f.area(), f.area()])


def _rules(f: Factory, n: int) -> None:
    f.batch(n, f.alert_rule)


def _subscriptions(f: Factory, n: int) -> None:
    f.batch(n, lambda: f.alert_subscription(f.role_user("citizen")))


def _categories(f: Factory, n: int) -> None:
    f.batch(n, f.category)


def _cases(f: Factory, n: int) -> None:
    f.batch(n, lambda: f.case(now=utcnow()))


def _my_cases(f: Factory, n: int) -> None:
    f.batch(n, lambda: f.case(reporter=f.role_user("citizen"), now=utcnow()))


def _agency_cases(f: Factory, n: int) -> None:
    """Each case in its own ward of one province, held by that ward's own agency (one scorecard row each);
    then this month's case indicator cells are computed, as the indicators' consumers would (the scorecard
    reads them)."""
    from sqlalchemy import select
    from sqlalchemy.exc import IntegrityError

    from cityops.areas.models import Area
    from cityops.indicators import periods
    from cityops.indicators.engine import recompute
    from cityops.indicators.registry import sync
    from cityops.reports.scorecards import CODES

    with f.sessions() as s:
        province_id = s.scalar(select(Area.id).where(Area.level == "province"))
    province = f.area(level="province") if province_id is None else None
    with f.sessions() as s:
        parent = s.get(Area, province_id) if province is None else province
    for _ in range(n):
        ward = f.area(parent=parent)
        f.agency(area=ward)
        f.case(area=ward, now=utcnow())
    month = periods.start_of(utcnow().date(), "month")
    for _attempt in range(3):  # the app's own cells consumer may be writing the same cells meanwhile
        with f.sessions() as s:
            try:
                recompute(s, month, month, CODES, sync(s))
                s.commit()
                return
            except IntegrityError:
                s.rollback()
    raise AssertionError("the scorecard cells could not be computed")


def _templates(f: Factory, n: int) -> None:
    f.batch(n, f.response_template)


def _stations(f: Factory, n: int) -> None:
    for _ in range(n):
        f.observations(f.station("salinity", area=f.area(), kind="salinity"), [1.5, 2.5])


def _indicators(f: Factory, n: int) -> None:
    f.batch(n, f.indicator)


def _indicator_sets(f: Factory, n: int) -> None:
    f.batch(n, f.indicator_set)


def _programmes(f: Factory, n: int) -> None:
    f.batch(n, f.programme)


def _water_stations(f: Factory, n: int) -> None:
    f.batch(n, lambda: f.station("ph", area=f.area(), kind="water"))


def _water_levels(f: Factory, n: int) -> None:
    f.batch(n, lambda: f.station("water_level", area=f.area(), kind="water"))


def _gates(f: Factory, n: int) -> None:
    attrs = {"waterway": "Kênh thử", "outer_station": "KIT", "protects": "rice"}
    f.batch(n, lambda: f.place("sluice_gate", attributes=attrs, status="open"))


def _bulletins(f: Factory, n: int) -> None:
    from cityops.sectors.agriculture.models import SalinityBulletin

    areas = f.batch(n, f.area)
    with f.sessions() as s:
        for area in areas:
            s.add(
                SalinityBulletin(
                    area_id=area.id, crop="rice", day=utcnow().date(), issued_at=utcnow(), station_code="KIT",
                    level="safe", fingerprint="x", text_vi="Có thể lấy nước.", text_en="Water can be taken.",
                )
            )  # fmt: skip
        s.commit()


def _clinics(f: Factory, n: int) -> None:
    f.batch(n, lambda: f.place("clinic", attributes={"opening_hours": "Mo-Su 07:00-17:00"}))


def _webhooks(f: Factory, n: int) -> None:
    from cityops.webhooks.models import WebhookSubscription

    with f.sessions() as s:
        for _ in range(n):
            s.add(
                WebhookSubscription(
                    url="https://example.org/h",
                    secret="s" * 64,
                    event_types=["case.created"],
                    created_at=utcnow(),
                )
            )
        s.commit()


def _dead_letters(f: Factory, n: int) -> None:
    from cityops.webhooks.models import WebhookDelivery, WebhookSubscription

    with f.sessions() as s:
        sub = WebhookSubscription(
            url="https://example.org/h", secret="s" * 64, event_types=["case.created"], created_at=utcnow()
        )
        s.add(sub)
        s.flush()
        for i in range(n):
            s.add(
                WebhookDelivery(
                    subscription_id=sub.id,
                    event_id=f"e{i}",
                    event_type="case.created",
                    payload={},
                    state="dead",
                    attempts=8,
                    next_at=utcnow(),
                    last_error="HTTP 500",
                    created_at=utcnow(),
                )
            )
        s.commit()


def _cameras(f: Factory, n: int) -> None:
    attrs = {"owner_agency": "Công an tỉnh", "stream_url": "rtsp://10.0.0.1/cam", "credentials": "u:p"}
    f.batch(n, lambda: f.place("camera", attributes=attrs, status="online"))


PINNED: dict[str, Listed] = {
    "/api/v1/areas": Listed(_areas, 2),
    "/api/v1/areas.geojson": Listed(_areas, 1),
    "/api/v1/agencies": Listed(_agencies, 2),
    "/api/v1/users": Listed(_officers, 5, role="admin"),
    "/api/v1/keys": Listed(_keys, 3, role="admin"),
    "/api/v1/audit": Listed(_agencies, 3, role="admin"),
    "/api/v1/alerts": Listed(_alerts, 1),
    "/api/v1/alert-rules": Listed(_rules, 3, role="operator"),
    "/api/v1/alert-subscriptions": Listed(_subscriptions, 3, role="citizen"),
    "/api/v1/reports/categories": Listed(_categories, 1),
    "/api/v1/reports/public": Listed(_cases, 5),
    "/api/v1/reports/public.geojson": Listed(_cases, 3),
    "/api/v1/reports/mine": Listed(_my_cases, 6, role="citizen"),
    "/api/v1/reports/mine/export": Listed(
        _my_cases,
        6,
        role="citizen",
        n_plus_1="reports.followup.export_personal_data loads each case with session.get (1 + N)",
    ),
    "/api/v1/reports/inbox": Listed(_cases, 4, role="operator"),
    "/api/v1/reports/templates": Listed(_templates, 3, role="operator"),
    "/api/v1/reports/scorecards": Listed(_agency_cases, 3),
    # PostgreSQL asks once more: the body cache's change fingerprint is two statements there
    "/api/v1/sensing/latest": Listed(_stations, 2, postgresql=3),
    "/api/v1/environment/stations": Listed(_stations, 4),
    "/api/v1/environment/water-quality": Listed(_water_stations, 3),
    "/api/v1/environment/water-levels": Listed(_water_levels, 5),
    "/api/v1/environment/water-levels.geojson": Listed(_water_levels, 5),
    "/api/v1/agriculture/gates": Listed(_gates, 3),
    "/api/v1/agriculture/gates.geojson": Listed(_gates, 3),
    "/api/v1/agriculture/bulletins": Listed(_bulletins, 2),
    "/api/v1/agriculture/bulletins/history": Listed(_bulletins, 2),
    "/api/v1/agriculture/bulletins.geojson": Listed(_bulletins, 2),
    "/api/v1/public-services/nearby": Listed(_clinics, 2, query="?near=10.535,106.41&type=clinic&limit=50"),
    "/api/v1/ioc/stations": Listed(_stations, 3, role="operator"),
    "/api/v1/indicators": Listed(_indicators, 3),
    "/api/v1/indicator-sets": Listed(_indicator_sets, 2),
    "/api/v1/programmes": Listed(_programmes, 3),
    "/api/v1/admin/webhooks": Listed(_webhooks, 3, role="admin"),
    "/api/v1/admin/categories": Listed(_categories, 3, role="admin"),
    "/api/v1/traffic/cameras.geojson": Listed(_cameras, 3, role="operator"),
    "/api/v1/admin/webhooks/dead-letters": Listed(_dead_letters, 3, role="admin"),
}

NOT_LISTS: dict[str, str] = {
    "/api/v1/auth/me": "the caller's own record",
    "/api/v1/areas/lookup": "the one unit containing a point",
    "/api/v1/ioc/summary": "a fixed set of KPI tiles (aggregate counts, no rows)",
    "/api/v1/live": "an event stream (server-sent events), no database rows",
    "/api/v1/privacy/export": "one person's data across capabilities, each with its own tests",
    "/api/v1/dashboard/panels": "the panels the deployment's plugins declare (a fixed set), each with its data",
    "/api/v1/agriculture/crops": "the crop tolerance table shipped as data (no database rows)",
    "/api/v1/agriculture/intrusion": "the rivers of agriculture's data/rivers.json (a fixed set)",
    "/api/v1/agriculture/intrusion.geojson": "the rivers of agriculture's data/rivers.json (a fixed set)",
    "/api/v1/basemap": "the deployment's base-map configuration (one object)",
    "/api/v1/push/public-key": "the deployment's VAPID public key (one value)",
    "/api/v1/push/devices/current": "the calling device's own subscription (one row)",
    "/api/v1/public-services/dossiers/qr.svg": "an image of the code it is given (no database rows)",
    "/api/v1/public-services/dossiers/overdue": "counts per agency and procedure: one grouped statement, at most 500 groups",
}

# Lists pinned by their sector's or capability's own tests (statements the same for few and many rows)
PINNED_ELSEWHERE: dict[str, str] = {
    "/api/v1/admin/rollout": "tests/admin/test_api.py::test_listings_cost_the_same_for_few_or_many_areas",
    "/api/v1/live-areas": "tests/admin/test_api.py::test_listings_cost_the_same_for_few_or_many_areas",
    "/api/v1/traffic/segments.geojson": "tests/sectors/traffic/test_api.py::test_layer_query_counts_are_pinned",
    "/api/v1/traffic/closures.geojson": "tests/sectors/traffic/test_api.py::test_layer_query_counts_are_pinned",
    "/api/v1/traffic/cameras": "tests/sectors/traffic/test_api.py::test_layer_query_counts_are_pinned",
    "/api/v1/public-order/hotspots.geojson": "tests/sectors/public_order/test_hotspots.py (get_counted, anonymous and staff)",
}


# Lists whose owners are building them now (issue #12); each moves to PINNED with a factory in
# tests/kit/factories.py (see tests/kit/README.md). Keep this empty once they land.
PENDING: dict[str, str] = {
    "/api/v1/places": "places (helper A): needs factory.place",
    "/api/v1/places.geojson": "places (helper A): needs factory.place",
    "/api/v1/place-types": "places (helper A): needs factory.place_type",
    "/api/v1/public-services/dossiers/overdue.geojson": "one feature per agency (#19): needs a dossier factory",
}


def _list_routes(app: FastAPI) -> set[str]:
    paths = app.openapi()["paths"]
    return {p for p, ops in paths.items() if p.startswith("/api/v1") and "get" in ops and "{" not in p}


def test_every_list_route_is_pinned(app: FastAPI, backend: Backend) -> None:
    if backend.name != "sqlite":
        pytest.skip("the route table does not depend on the backend")
    routes = _list_routes(app)
    known = [set(PINNED), set(NOT_LISTS), set(PENDING), set(PINNED_ELSEWHERE)]
    assert sum(map(len, known)) == len(set().union(*known)), "a route is in two of the tables"
    unknown = routes - set().union(*known)
    assert unknown == set(), "pin these list routes (or say why they are not lists)"
    assert set(PINNED) | set(NOT_LISTS) <= routes, "these pinned routes are gone"


def _case(path: str) -> Any:
    reason = PINNED[path].n_plus_1
    return pytest.param(path, marks=pytest.mark.xfail(reason=reason, strict=True)) if reason else path


@pytest.mark.parametrize("path", [_case(p) for p in sorted(PINNED)])
def test_list_query_count_is_pinned(
    path: str, client: TestClient, factory: Factory, backend: Backend
) -> None:
    listed = PINNED[path]
    url = path + listed.query
    headers = factory.headers(listed.role)
    get_counted(client, url, headers)  # warm-up: the first connection and start-up caches
    listed.seed(factory, 1)
    one_response, one = get_counted(client, url, headers)
    listed.seed(factory, 19)
    many_response, many = get_counted(client, url, headers)
    if not path.endswith("/export"):
        assert len(_items(many_response.json())) >= 20 > len(_items(one_response.json())) >= 1
    assert many.count == one.count, f"N+1: 1 row ran {one}\n20 rows ran {many}"
    assert one.count == listed.pin(backend.name), f"pinned {listed.pin(backend.name)}, ran {one}"
