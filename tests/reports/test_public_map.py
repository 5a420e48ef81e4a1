"""The public map: grid clusters computed in SQL agree with a count done by hand, points carry the public view."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.orm import Session

from cityops.privacy.masking import mask_contacts
from cityops.reports import public
from cityops.reports.categories import sync_categories
from cityops.reports.models import Case, Category
from tests.sensing.test_native_api import count_statements

AT = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
STATES = ["submitted", "in_progress", "resolved", "closed"]


def _seed(session: Session, n: int = 300) -> list[dict[str, Any]]:
    """``n`` cases around Tân An plus a few west of Greenwich (negative longitudes: floor, not truncation)."""
    sync_categories(session)
    codes = sorted(session.scalars(select(Category.code)))[:2]
    rng = random.Random(6)
    rows: list[dict[str, Any]] = []
    for i in range(n):
        west = i % 50 == 0
        rows.append(
            {
                "ref": f"MAP-{i:05d}",
                "category_code": codes[i % 2],
                "description": "Đèn đường hỏng, gọi 0912345678",
                "description_key": "",
                "answers": {},
                "lat": rng.uniform(10.3, 11.0) if not west else rng.uniform(-0.2, 0.2),
                "lon": rng.uniform(105.9, 106.6) if not west else rng.uniform(-0.3, -0.01),
                "state": STATES[i % len(STATES)],
                "submitted_at": AT,
                "updated_at": AT,
                "hidden": i % 7 == 0,
                "sla_hours": 40.0,
                "version": 1,
            }
        )
    # around (0, 0): floor puts each in its own cell, truncation towards zero would merge them
    for k, (lat, lon) in enumerate(((0.001, -0.001), (0.001, 0.001), (-0.001, 0.001), (-0.001, -0.001))):
        rows.append({**rows[1], "ref": f"MAP-ZERO-{k}", "lat": lat, "lon": lon, "hidden": False})
    rows.append({**rows[1], "ref": "MAP-NOWHERE", "lat": None, "lon": None, "hidden": False})
    session.execute(insert(Case), rows)
    session.commit()
    return rows


def _by_hand(rows: list[dict[str, Any]], zoom: int, keep: Any = lambda r: True) -> dict[tuple[int, int], Any]:
    size = public.grid_size_deg(zoom)
    cells: dict[tuple[int, int], dict[str, Any]] = {}
    for r in rows:
        if r["hidden"] or r["lat"] is None or not keep(r):
            continue
        cell = cells.setdefault(
            (math.floor(r["lat"] / size), math.floor(r["lon"] / size)),
            {"n": 0, "lat": 0.0, "lon": 0.0, "states": {}},
        )
        cell["n"] += 1
        cell["lat"] += r["lat"]
        cell["lon"] += r["lon"]
        cell["states"][r["state"]] = cell["states"].get(r["state"], 0) + 1
    return cells


def _assert_same(features: list[dict[str, Any]], cells: dict[tuple[int, int], Any]) -> None:
    assert len(features) == len(cells)
    expected = sorted(
        (c["n"], sorted(c["states"].items()), c["lon"] / c["n"], c["lat"] / c["n"]) for c in cells.values()
    )
    got = sorted(
        (
            f["properties"]["count"],
            sorted(f["properties"]["states"].items()),
            *f["geometry"]["coordinates"],
        )
        for f in features
    )
    for (n, states, lon, lat), (gn, gstates, glon, glat) in zip(expected, got, strict=True):
        assert (gn, gstates) == (n, states)
        assert abs(glon - lon) < 1e-5
        assert abs(glat - lat) < 1e-5
    assert all(f["properties"]["cluster"] is True for f in features)


def test_clusters_equal_a_count_by_hand(client: TestClient, session: Session) -> None:
    rows = _seed(session)
    for zoom in (5, 9, 12):
        body = client.get("/api/v1/reports/public.geojson", params={"zoom": zoom})
        assert body.headers["content-type"] == "application/geo+json"
        _assert_same(body.json()["features"], _by_hand(rows, zoom))
    assert sum(
        f["properties"]["count"]
        for f in client.get("/api/v1/reports/public.geojson?zoom=9").json()["features"]
    ) == sum(1 for r in rows if not r["hidden"] and r["lat"] is not None)

    # the viewport and the filters apply before clustering
    bbox = (106.0, 10.4, 106.3, 10.8)
    filtered = client.get(
        "/api/v1/reports/public.geojson",
        params={"zoom": 10, "bbox": ",".join(map(str, bbox)), "state": ["resolved", "closed"]},
    ).json()["features"]
    _assert_same(
        filtered,
        _by_hand(
            rows,
            10,
            lambda r: (
                r["state"] in ("resolved", "closed")
                and bbox[1] <= r["lat"] <= bbox[3]
                and bbox[0] <= r["lon"] <= bbox[2]
            ),
        ),
    )
    category = rows[0]["category_code"]
    by_category = client.get(
        "/api/v1/reports/public.geojson", params={"zoom": 8, "category": category}
    ).json()
    _assert_same(by_category["features"], _by_hand(rows, 8, lambda r: r["category_code"] == category))


def test_clusters_are_one_query(session: Session) -> None:
    _seed(session, 60)
    public.clustered_geojson(
        session, Case.hidden.is_(False), 9
    )  # looks up once whether case_map_cells exists
    with count_statements(session) as statements:
        data = public.clustered_geojson(session, Case.hidden.is_(False), 9)
    assert len(statements) == 1
    assert "case_map_cells" in statements[0]  # from the aggregate, not from cases
    with count_statements(session) as statements:
        public.clustered_geojson(session, and_(Case.hidden.is_(False), Case.category_code == "x"), 9)
    assert len(statements) == 1  # a filter the aggregate does not know: grouped over cases in SQL
    assert "case_map_cells" not in statements[0]
    assert sum(f["properties"]["count"] for f in data["features"]) == sum(1 for i in range(60) if i % 7) + 4


def test_points_carry_the_public_view_without_media(client: TestClient, session: Session) -> None:
    rows = _seed(session, 40)
    body = client.get("/api/v1/reports/public.geojson", params={"zoom": 16, "bbox": "105,10,107,11.5"}).json()
    refs = [f["id"] for f in body["features"]]
    expected = sorted((r["ref"] for r in rows[:40] if not r["hidden"] and r["lon"] > 0), reverse=True)
    assert refs == expected  # newest first (by id), hidden and unlocated left out
    props = body["features"][0]["properties"]
    assert "media" not in props
    assert props["description"] == mask_contacts("Đèn đường hỏng, gọi 0912345678")
    assert "0912345678" not in props["description"]
    assert props["status"] in ("open", "closed")
    assert body["features"][0]["geometry"]["coordinates"] == [props["lon"], props["lat"]]
    limited = client.get("/api/v1/reports/public.geojson", params={"zoom": 16, "limit": 3}).json()
    assert [f["id"] for f in limited["features"]] == ["MAP-ZERO-3", "MAP-ZERO-2", "MAP-ZERO-1"]


def test_points_match_public_case(client: TestClient, session: Session) -> None:
    """The map's row-based points carry exactly public_case's fields and masking (less media)."""
    rows = _seed(session, 30)
    session.execute(
        Case.__table__.update()
        .where(Case.ref == "MAP-00003")
        .values(
            reject_reason="duplicate",
            address="số 5 Lê Lợi, gọi 0912 345 678",
            public_note="mail me a@b.vn",
            submitted_at=datetime(2026, 3, 2, 2, 0, 0, 123456, tzinfo=UTC),
            resolve_due_at=datetime(2026, 3, 4, 2, 0, tzinfo=UTC),
            urgent=True,
            overdue=True,
        )
    )
    session.commit()
    body = client.get("/api/v1/reports/public.geojson", params={"zoom": 16, "bbox": "105,10,107,11.5"}).json()
    assert len(body["features"]) == sum(1 for r in rows[:30] if not r["hidden"] and r["lon"] > 0)
    cases = {c.ref: c for c in session.scalars(select(Case))}
    ctx = public.PublicContext(session, list(cases.values()), with_media=False)
    for feature in body["features"]:
        expected = public.public_case(cases[feature["id"]], ctx)
        expected.pop("media")
        assert feature["properties"] == expected
    masked = next(f["properties"] for f in body["features"] if f["id"] == "MAP-00003")
    assert "0912" not in masked["address"]
    assert "a@b.vn" not in masked["status_note"]
    assert masked["submitted_at"] == "2026-03-02T02:00:00.123456Z"
    assert masked["expected_at"] == "2026-03-04T02:00:00Z"


def _clusters(session: Session, where: Any, zoom: int, *, live: bool) -> list[Any]:
    if live:  # a condition the aggregate does not know sends it to the query over cases
        where = and_(where, Case.id > 0)
    features = public.clustered_geojson(session, where, zoom)["features"]
    return sorted(
        (
            f["properties"]["count"],
            sorted(f["properties"]["states"].items()),
            round(f["geometry"]["coordinates"][0], 4),
            round(f["geometry"]["coordinates"][1], 4),
        )
        for f in features
    )


def _assert_cells_agree(session: Session) -> None:
    """Clusters from case_map_cells equal the clusters grouped over cases, for boxes cutting cells anywhere."""
    rng = random.Random(7)
    boxes: list[tuple[float, float, float, float] | None] = [None, (105.8, 10.3, 106.6, 11.0)]
    boxes += [(-0.25, -0.15, 0.0005, 0.0005), (105.0, -1.0, 107.0, 12.0), (106.3, 10.9, 106.1, 11.0)]
    for _ in range(6):
        lon0, lat0 = rng.uniform(105.8, 106.5), rng.uniform(10.2, 10.9)
        boxes.append((lon0, lat0, lon0 + rng.uniform(0.001, 0.5), lat0 + rng.uniform(0.001, 0.5)))
    for box in boxes:
        for zoom in (3, 8, 9, 11, 14):
            for states in (None, ["resolved", "closed"], ["in_progress"]):
                where = and_(Case.hidden.is_(False), Case.lat.is_not(None))
                if states:
                    where = and_(where, Case.state.in_(states))
                if box:
                    where = and_(where, Case.lat.between(box[1], box[3]), Case.lon.between(box[0], box[2]))
                got = _clusters(session, where, zoom, live=False)
                assert got == _clusters(session, where, zoom, live=True), (box, zoom, states)


def test_map_cells_follow_every_write(session: Session) -> None:
    """The triggers keep case_map_cells exact through inserts, state changes, moves, hiding and deletes."""
    _seed(session, 200)
    _assert_cells_agree(session)
    rows = session.execute(select(Case.id).order_by(Case.id)).scalars().all()
    session.execute(update(Case).where(Case.id.in_(rows[::5])).values(state="in_progress"))
    session.execute(
        update(Case).where(Case.id.in_(rows[1::9])).values(lat=Case.lat + 0.05, lon=Case.lon - 0.3)
    )
    session.execute(update(Case).where(Case.id.in_(rows[2::11])).values(hidden=True))
    session.execute(update(Case).where(Case.id.in_(rows[::7])).values(hidden=False))
    session.execute(update(Case).where(Case.id.in_(rows[3::13])).values(lat=None))
    session.execute(update(Case).where(Case.id.in_(rows[4::17])).values(description="only text changes"))
    session.execute(delete(Case).where(Case.id.in_(rows[6::10])))
    session.commit()
    case = session.get(Case, rows[8])
    assert case is not None
    case.state = "resolved"  # through the ORM as the workflow does
    case.lat = 10.5
    session.commit()
    _assert_cells_agree(session)
    session.execute(
        update(Case).where(Case.id.in_(rows[::3])).values(state="closed")
    )  # rolled back: the cells roll back with it
    session.rollback()
    _assert_cells_agree(session)
