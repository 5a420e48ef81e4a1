"""The traffic routes: segments with their level and closures, the camera registry (staff only), heartbeats."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cityops.clock import utcnow
from cityops.places.models import Place
from cityops.sectors.demo_places import load_demo_places
from cityops.sectors.traffic.cameras import mark_stale
from cityops.sectors.traffic.demo import DATA
from cityops.sectors.traffic.specs import PLACE_TYPES
from tests.kit.factories import Factory

SECRETS = ("stream_url", "credentials")


def _load(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as s:
        load_demo_places(s, DATA, [t.code for t in PLACE_TYPES], Console(quiet=True))
        s.commit()
        return {p.external_id or "": p.id for p in s.scalars(select(Place))}


def test_segments_show_their_level_and_closed_while_a_closure_is_valid(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    ids = _load(sessions)
    with sessions() as s:
        seg = s.get(Place, ids["demo-seg-ql1-tanan"])
        assert seg is not None
        seg.status = "E"
        s.commit()
    r = client.get("/api/v1/traffic/segments.geojson")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/geo+json")
    by_id = {f["id"]: f["properties"] for f in r.json()["features"]}
    assert len(by_id) == 8
    assert by_id[ids["demo-seg-ql1-tanan"]]["state"] == "E"
    assert by_id[ids["demo-seg-ql1-tanan"]]["closed"] is False
    works = by_id[ids["demo-seg-nguyendinhchieu-tanan"]]
    assert (works["closed"], works["state"], works["closure_id"]) == (
        True,
        "closed",
        ids["demo-closure-ndc-works"],
    )
    # the 2025 resurfacing of QL1 at Bến Lức is over: that segment is open
    assert by_id[ids["demo-seg-ql1-benluc"]]["closed"] is False
    assert by_id[ids["demo-seg-ql1-benluc"]]["state"] == "unknown"

    closures = client.get("/api/v1/traffic/closures.geojson").json()["features"]
    assert [f["id"] for f in closures] == [ids["demo-closure-ndc-works"]]
    assert "permit" not in closures[0]["properties"]  # staff only


def test_closure_permit_for_staff(
    client: TestClient, sessions: sessionmaker[Session], factory: Factory
) -> None:
    _load(sessions)
    r = client.get("/api/v1/traffic/closures.geojson", headers=factory.headers("operator"))
    assert r.json()["features"][0]["properties"]["permit"] == "GP-123/2026/SGTVT"


def test_camera_registry_is_for_staff_only(
    client: TestClient, sessions: sessionmaker[Session], factory: Factory
) -> None:
    ids = _load(sessions)
    assert client.get("/api/v1/traffic/cameras").status_code == 401
    assert client.get("/api/v1/traffic/cameras", headers=factory.headers("citizen")).status_code == 403
    key = factory.api_key(["read"])
    assert client.get("/api/v1/traffic/cameras", headers={"X-API-Key": key}).status_code == 403
    for role in ("officer", "operator"):
        r = client.get("/api/v1/traffic/cameras", headers=factory.headers(role))
        assert r.status_code == 200
        items = {i["id"]: i for i in r.json()["items"]}
        cam = items[ids["demo-cam-ql1-tanan"]]
        assert cam["stream_url"] == "rtsp://vms.demo.invalid/demo-cam-ql1-tanan"
        assert cam["credentials"] == "demo-viewer:demo-only"
        assert cam["segment"] == "demo-seg-ql1-tanan"


def test_anonymous_callers_never_receive_a_stream_url(
    client: TestClient, sessions: sessionmaker[Session], factory: Factory
) -> None:
    ids = _load(sessions)
    cam = ids["demo-cam-ql1-tanan"]
    for headers in ({}, factory.headers("citizen"), {"X-API-Key": factory.api_key(["read"])}):
        for url in (
            "/api/v1/places?type=camera",
            "/api/v1/places.geojson?type=camera",
            "/api/v1/places?type=camera&format=csv",
            f"/api/v1/places/{cam}",
            "/api/v1/place-types",
        ):
            r = client.get(url, headers=headers)
            assert r.status_code == 200, url
            for secret in ("rtsp://", "demo-viewer", "stream_url", "credentials"):
                assert secret not in r.text, (url, secret)
    # staff do get them through the places API too
    r = client.get(f"/api/v1/places/{cam}", headers=factory.headers("operator"))
    assert "rtsp://vms.demo.invalid" in r.text


def test_heartbeat_brings_a_camera_online_and_silence_makes_it_stale(
    client: TestClient, sessions: sessionmaker[Session], factory: Factory
) -> None:
    ids = _load(sessions)
    cam = ids["demo-cam-ql62"]  # offline in the demo
    url = f"/api/v1/traffic/cameras/{cam}/heartbeat"
    assert client.post(url).status_code == 401
    assert client.post(url, headers=factory.headers("operator")).status_code == 403
    key = {"X-API-Key": factory.api_key(["ingest"])}
    r = client.post(f"/api/v1/traffic/cameras/{ids['demo-seg-ql1-tanan']}/heartbeat", headers=key)
    assert r.status_code == 404  # a segment is not a camera
    assert r.json()["error"]["code"]
    with sessions() as s:
        assert s.get(Place, cam).status == "offline"  # type: ignore[union-attr]
    assert client.post(url, headers=key).status_code == 204
    with sessions() as s:
        place = s.get(Place, cam)
        assert place is not None
        assert place.status == "online"
        assert mark_stale(s, utcnow() + timedelta(seconds=170)) == []  # 3 × 60 s not yet passed
        moved = mark_stale(s, utcnow() + timedelta(seconds=181))
        s.commit()
        assert cam in moved
    listing = client.get("/api/v1/traffic/cameras", headers=factory.headers("operator")).json()["items"]
    assert {i["id"]: (i["status"], i["stale"]) for i in listing}[cam] == ("stale", True)
    assert client.post(url, headers=key).status_code == 204
    with sessions() as s:
        assert s.get(Place, cam).status == "online"  # type: ignore[union-attr]


def test_map_layers_scope_to_an_area_and_refuse_an_unknown_one(
    client: TestClient, sessions: sessionmaker[Session], factory: Factory
) -> None:
    ids = _load(sessions)
    area = factory.area()
    with sessions() as s:
        seg = s.get(Place, ids["demo-seg-ql62-tanan"])
        assert seg is not None
        seg.area_id = area.id
        s.commit()
    features = client.get(f"/api/v1/traffic/segments.geojson?area_id={area.id}").json()["features"]
    assert [f["id"] for f in features] == [ids["demo-seg-ql62-tanan"]]
    assert client.get(f"/api/v1/traffic/closures.geojson?area_id={area.id}").json()["features"] == []
    for url in ("segments.geojson", "closures.geojson", "cameras.geojson"):
        r = client.get(f"/api/v1/traffic/{url}?area_id=999999", headers=factory.headers("operator"))
        assert r.status_code == 404, url
        assert r.json()["error"]["code"] == "unknown_area"


def test_camera_layer_is_for_staff_only(
    client: TestClient, sessions: sessionmaker[Session], factory: Factory
) -> None:
    ids = _load(sessions)
    url = "/api/v1/traffic/cameras.geojson"
    assert client.get(url).status_code == 401
    assert client.get(url, headers=factory.headers("citizen")).status_code == 403
    r = client.get(url, headers=factory.headers("officer"))
    assert r.status_code == 200
    by_id = {f["id"]: f["properties"] for f in r.json()["features"]}
    assert by_id[ids["demo-cam-ql62"]]["status"] == "offline"
    assert by_id[ids["demo-cam-ql1-tanan"]]["stream_url"].startswith("rtsp://")


def test_segment_days_from_the_counter_roll_ups(
    client: TestClient, sessions: sessionmaker[Session], factory: Factory
) -> None:
    from datetime import UTC, datetime

    from cityops.sectors.traffic.congestion import on_observations
    from cityops.sectors.traffic.stations import STATIONS
    from cityops.sensing.stations import load_stations
    from tests.sectors.traffic.test_congestion import QL1, _ingest

    ids = _load(sessions)
    with sessions() as s:
        load_stations(s, [st for st in STATIONS if st.code == QL1])
        s.commit()
        jam = {"mean_speed": 9.0, "traffic_motorbike": 1000.0, "traffic_car": 300.0, "traffic_heavy": 50.0}
        on_observations(s, _ingest(s, datetime(2026, 5, 4, 10, 30, tzinfo=UTC), jam))  # 17:30 local
        s.commit()
    seg = ids["demo-seg-ql1-tanan"]
    r = client.get(f"/api/v1/traffic/segments/{seg}/days?from=2026-05-04&to=2026-05-05")
    assert r.status_code == 200
    assert r.json() == {
        "segment_id": seg,
        "counter": QL1,
        "days": [{"date": "2026-05-04", "congested_hours": 1.0, "peak_hour_volume": 1350, "peak_hour": 17}],
    }
    assert client.get(f"/api/v1/traffic/segments/{seg}/days?from=2026-05-06&to=2026-05-04").status_code == 422
    assert client.get(f"/api/v1/traffic/segments/{seg}/days?from=2026-01-01&to=2026-05-04").status_code == 422
    assert client.get(f"/api/v1/traffic/segments/{seg}/days?from=yesterday").status_code == 422
    assert client.get(f"/api/v1/traffic/segments/{ids['demo-cam-ql62']}/days").status_code == 404


def test_layer_query_counts_are_pinned(
    client: TestClient, sessions: sessionmaker[Session], factory: Factory
) -> None:
    from cityops.places.importer import import_features
    from tests.kit.queries import get_counted

    _load(sessions)
    staff = factory.headers("operator")
    urls = ("/api/v1/traffic/segments.geojson", "/api/v1/traffic/closures.geojson", "/api/v1/traffic/cameras")
    few = {url: get_counted(client, url, staff)[1].count for url in urls}
    with sessions() as s:  # the same network again from another source: twice the rows
        for code in ("road_segment", "road_closure", "camera"):
            import_features(s, DATA / f"demo_{code}.geojson", code, source_name="other", demo=True)
        s.commit()
    for url in urls:
        response, log = get_counted(client, url, staff)
        assert log.count == few[url], (url, str(log))
    assert len(response.json()["items"]) == 6
    assert few["/api/v1/traffic/segments.geojson"] <= 4, few
