"""The native areas API: list/search, detail with lineage, lookup, GeoJSON."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.fixtures_areas import LoadedAreas

CENTRAL_TAN_AN = {"lat": 10.5355, "lon": 106.4136}


def test_list_current_communes_paginated(client: TestClient, loaded_areas: LoadedAreas) -> None:
    r = client.get("/api/v1/areas", params={"level": "commune", "limit": 10, "offset": 90})
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 96
    assert len(body["items"]) == 6
    assert all(i["valid_to"] is None and i["level"] == "commune" for i in body["items"])
    assert all(i["approximate"] is True for i in body["items"])


def test_list_search_without_diacritics_and_history(client: TestClient, loaded_areas: LoadedAreas) -> None:
    r = client.get("/api/v1/areas", params={"q": "duc hoa", "historical": "true"})
    names = {i["name"] for i in r.json()["items"]}
    assert {"Huyện Đức Hòa", "Xã Đức Hòa"} <= names
    r = client.get("/api/v1/areas", params={"q": "duc hoa"})
    assert {i["name"] for i in r.json()["items"]} == {"Xã Đức Hòa"}
    r = client.get("/api/v1/areas", params={"level": "district", "at": "2024-06-01"})
    assert r.json()["total"] == 24
    r = client.get("/api/v1/areas", params={"parent_id": loaded_areas.province_id, "limit": 1})
    assert r.json()["total"] == 96


def test_list_rejects_bad_filters(client: TestClient, loaded_areas: LoadedAreas) -> None:
    for params in ({"level": "village"}, {"limit": 0}, {"limit": 501}, {"at": "31/02/2024"}, {"offset": -1}):
        r = client.get("/api/v1/areas", params=params)
        assert r.status_code == 422, params
        assert r.json()["error"]["code"] == "validation_error"


def test_detail_of_old_phuong_1_shows_its_successor(client: TestClient, loaded_areas: LoadedAreas) -> None:
    r = client.get(f"/api/v1/areas/{loaded_areas.old_phuong_1_id}")
    assert r.status_code == 200
    body = r.json()
    assert (body["name"], body["code"], body["valid_to"], body["current"]) == (
        "Phường 1",
        "27694",
        "2025-07-01",
        False,
    )
    assert body["parent"]["name"] == "Thành phố Tân An"
    assert [a["name"] for a in body["ancestors"]] == ["Thành phố Tân An", "Tỉnh Long An"]
    assert [(s["area"]["name"], s["relation"], s["is_default"]) for s in body["successors"]] == [
        ("Phường Long An", "merged", True)
    ]
    assert [a["id"] for a in body["current_successors"]] == [loaded_areas.long_an_ward_id]
    assert body["approximate"] is True
    assert body["geometry"] is None


def test_detail_of_current_ward_shows_predecessors(client: TestClient, loaded_areas: LoadedAreas) -> None:
    r = client.get(f"/api/v1/areas/{loaded_areas.long_an_ward_id}", params={"geometry": "true"})
    body = r.json()
    assert body["current"] is True
    assert body["children_count"] == 0
    preds = {p["area"]["name"] for p in body["predecessors"]}
    assert {"Phường 1", "Phường 3", "Phường 5", "Phường 6", "Xã Hướng Thọ Phú"} <= preds
    assert body["geometry"]["type"] in {"Polygon", "MultiPolygon"}
    province = client.get(f"/api/v1/areas/{loaded_areas.province_id}").json()
    assert province["children_count"] == 96
    assert {p["area"]["code"] for p in province["predecessors"]} == {"72", "80"}


def test_detail_unknown_id_is_404_in_native_format(client: TestClient, loaded_areas: LoadedAreas) -> None:
    r = client.get("/api/v1/areas/999999")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
    assert client.get("/api/v1/areas/abc").status_code == 422


def test_lookup(client: TestClient, loaded_areas: LoadedAreas) -> None:
    r = client.get("/api/v1/areas/lookup", params=CENTRAL_TAN_AN)
    assert r.status_code == 200
    body = r.json()
    assert body["area"]["name"] in {"Phường Tân An", "Phường Long An", "Phường Khánh Hậu"}
    assert [a["id"] for a in body["ancestors"]] == [loaded_areas.province_id]
    old = client.get("/api/v1/areas/lookup", params={**CENTRAL_TAN_AN, "at": "2024-06-01"}).json()
    assert old["area"]["valid_to"] == "2025-07-01"
    assert [a["name"] for a in old["ancestors"]] == ["Thành phố Tân An", "Tỉnh Long An"]


def test_lookup_bad_or_outside_points(client: TestClient, loaded_areas: LoadedAreas) -> None:
    for params in (
        {"lat": 91, "lon": 106},
        {"lat": 10.5, "lon": 181},
        {"lat": "x", "lon": 106},
        {"lat": 10.5},
    ):
        r = client.get("/api/v1/areas/lookup", params=params)
        assert r.status_code == 422, params
        assert r.json()["error"]["code"] == "validation_error"
    r = client.get("/api/v1/areas/lookup", params={"lat": 21.0285, "lon": 105.8542})
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


def test_geojson_for_the_map(client: TestClient, loaded_areas: LoadedAreas) -> None:
    r = client.get("/api/v1/areas.geojson")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/geo+json")
    fc = r.json()
    assert fc["type"] == "FeatureCollection"
    assert len(fc["features"]) == 96
    props = fc["features"][0]["properties"]
    assert props["approximate"] is True
    assert props["level"] == "commune"
    old = client.get("/api/v1/areas.geojson", params={"level": "district", "at": "2024-01-01"}).json()
    assert len(old["features"]) == 24
    assert client.get("/api/v1/areas.geojson", params={"level": "x"}).status_code == 422


def test_list_query_count_does_not_grow_with_the_page(client: TestClient, loaded_areas: LoadedAreas) -> None:
    from sqlalchemy import Engine, event

    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        counts = []
        for limit in (5, 200):
            statements.clear()
            r = client.get("/api/v1/areas", params={"limit": limit, "historical": "true"})
            assert len(r.json()["items"]) == limit
            counts.append(len(statements))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert counts[0] == counts[1]
    assert counts[0] <= 3
