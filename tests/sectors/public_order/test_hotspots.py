"""The public-order hotspot map: staff see every cell, the public only cells of at least k = 5 cases with
coarsened times; a cell with fewer cases is never published, at any resolution. And the ward/month counts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import h3
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from cityops.identity.policy import Principal
from cityops.reports.access import Actor
from cityops.reports.categories import sync_categories
from cityops.reports.intake import Submission, submit
from cityops.sectors.public_order.hotspots import K, month_range
from cityops.sectors.public_order.indicators import count_cases
from cityops.sectors.public_order.indicators import indicators as declared
from cityops.settings import Settings
from tests.kit.factories import Factory

BUSY = (10.5365, 106.4135)  # Chợ Tân An: 5 cases
QUIET = (10.80, 106.70)  # about 40 km away: 4 cases
WHEN = datetime(2026, 3, 10, 5, 0, tzinfo=UTC)
MAP = "/api/v1/public-order/hotspots.geojson?from=2026-03&to=2026-03"


def _report(
    sessions: sessionmaker[Session],
    settings: Settings,
    at: tuple[float, float],
    n: int,
    category: str = "public_order",
) -> list[int]:
    ids = []
    with sessions() as s:
        sync_categories(s)
        for i in range(n):
            sub = Submission(
                category_code=category, description=f"Vụ việc {i}", lat=at[0] + 0.00001 * i, lon=at[1]
            )
            ids.append(
                submit(s, settings, Actor(Principal.anonymous()), sub, now=WHEN + timedelta(hours=i)).case.id
            )
        s.commit()
    return ids


def _cells(client: TestClient, url: str, headers: dict[str, str]) -> dict[str, dict[str, object]]:
    r = client.get(url, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/geo+json")
    return {f["properties"]["cell"]: f["properties"] for f in r.json()["features"]}


def test_public_sees_only_cells_of_at_least_k_cases(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings, factory: Factory
) -> None:
    _report(sessions, settings, BUSY, K)
    _report(sessions, settings, QUIET, K - 1)
    _report(sessions, settings, QUIET, 3, category="lighting")  # not public order: never counted
    # the map counts a case in the resolution-7 parent of its resolution-9 cell
    busy = h3.cell_to_parent(h3.latlng_to_cell(*BUSY, 9), 7)
    quiet = h3.cell_to_parent(h3.latlng_to_cell(*QUIET, 9), 7)
    for headers in ({}, factory.headers("citizen"), {"X-API-Key": factory.api_key(["read"])}):
        cells = _cells(client, MAP, headers)
        assert set(cells) == {busy}
        assert cells[busy]["count"] == K
        assert "first_at" not in cells[busy]  # times coarsened to the month
        assert (cells[busy]["from"], cells[busy]["to"]) == ("2026-03", "2026-03")
    staff = _cells(client, MAP, factory.headers("officer"))
    assert {c: p["count"] for c, p in staff.items()} == {busy: K, quiet: K - 1}
    assert staff[quiet]["first_at"] == WHEN.isoformat()


def test_a_cell_under_k_is_never_published_at_any_resolution(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    _report(sessions, settings, BUSY, K)
    _report(sessions, settings, QUIET, K - 1)
    for resolution in range(5, 10):
        r = client.get(f"{MAP}&resolution={resolution}")
        assert r.status_code == 200
        body = r.json()
        assert body["resolution"] == min(resolution, 7)  # never finer than 7 for the public
        assert body["k"] == K
        counts = [f["properties"]["count"] for f in body["features"]]
        assert all(n >= K for n in counts)
        assert sum(counts) == K  # the 4 quiet cases appear nowhere
        for f in body["features"]:
            assert h3.get_resolution(f["properties"]["cell"]) <= 7
    # another month holds nothing
    assert (
        client.get("/api/v1/public-order/hotspots.geojson?from=2026-04&to=2026-04").json()["features"] == []
    )


def test_bad_requests_answer_422_in_the_native_format(client: TestClient) -> None:
    base = "/api/v1/public-order/hotspots.geojson"
    for query in (
        "?from=2026-13",
        "?from=March",
        "?from=2026-01&to=2027-01",  # 13 months
        "?from=2026-03&to=2026-02",
        "?category=lighting",
        "?resolution=10",
        "?resolution=4",
    ):
        r = client.get(base + query)
        assert r.status_code == 422, query
        assert r.json()["error"]["code"], query


def test_month_range_is_local_months() -> None:
    start, end = month_range(date(2026, 3, 1), date(2026, 4, 1))
    assert start == datetime(2026, 2, 28, 17, 0, tzinfo=UTC)  # 1 March 00:00 in Vietnam
    assert end == datetime(2026, 4, 30, 17, 0, tzinfo=UTC)


def test_ward_month_counts_suppress_cells_under_k(
    sessions: sessionmaker[Session], settings: Settings, factory: Factory
) -> None:
    busy, quiet = factory.area(), factory.area()
    factory.agency(area=busy)
    for area, n in ((busy, K), (quiet, K - 1)):
        for i in range(n):
            factory.case(area=area, category="public_order", description=f"Vụ {i}")
    spec = declared()[0]
    start, end = month_range(date(2026, 3, 1), date(2026, 3, 1))  # the factory's cases are of March 2026
    groups = {busy.id: frozenset({busy.id}), quiet.id: frozenset({quiet.id}), 0: None}
    with sessions() as s:
        out = count_cases(s, spec, groups, start, end)
    assert set(out) == {busy.id, 0}  # the quiet ward's 4 are not stored as a value
    assert out[busy.id].value == K
    assert out[0].value == 2 * K - 1  # the province counts every case


def test_demo_has_one_published_hotspot(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings, factory: Factory
) -> None:
    import io

    from rich.console import Console

    from cityops.sectors.public_order.plugin import load_demo

    for _ in range(2):  # once, not twice
        with sessions() as s:
            load_demo(session=s, settings=settings, console=Console(file=io.StringIO()))
            s.commit()
    public = client.get("/api/v1/public-order/hotspots.geojson").json()["features"]
    assert [f["properties"]["count"] for f in public] == [7]
    staff = client.get("/api/v1/public-order/hotspots.geojson", headers=factory.headers("operator")).json()
    assert sorted(f["properties"]["count"] for f in staff["features"]) == [1, 1, 1, 1, 7]


def test_public_area_scope_keeps_whole_cells(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings, factory: Factory
) -> None:
    """A cell of 5 cases, one of them in the area asked for: the public gets the whole cell's 5 (a scoped 1
    could be differenced), staff the scoped 1; an unknown area is 404."""
    area = factory.area()
    ids = _report(sessions, settings, BUSY, K)
    from cityops.reports.models import Case

    with sessions() as s:
        case = s.get(Case, ids[0])
        assert case is not None
        case.area_id = area.id
        s.commit()
    url = f"{MAP}&area_id={area.id}"
    assert [f["properties"]["count"] for f in client.get(url).json()["features"]] == [K]
    staff = client.get(url, headers=factory.headers("operator")).json()["features"]
    assert [(f["properties"]["count"], f["properties"]["band"]) for f in staff] == [(1, "1-4")]
    r = client.get(f"{MAP}&area_id=999999")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "unknown_area"


def test_hotspot_query_count_is_pinned(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings, factory: Factory
) -> None:
    from tests.kit.queries import get_counted

    _report(sessions, settings, BUSY, K)
    staff = factory.headers("operator")
    few = {h: get_counted(client, MAP, headers)[1].count for h, headers in (("anon", {}), ("staff", staff))}
    _report(sessions, settings, QUIET, 3 * K)
    _report(sessions, settings, (10.60, 106.50), K)
    assert get_counted(client, MAP)[1].count == few["anon"] <= 2
    response, log = get_counted(client, MAP, staff)
    assert log.count == few["staff"]
    assert len(response.json()["features"]) == 3
