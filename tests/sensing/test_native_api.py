"""Native sensing endpoints: latest value of every datastream and aggregates from the roll-ups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from cityops.areas.models import Area
from cityops.sensing.storage import ObservationIn, ingest_observations
from tests.sensing.test_storage import make_datastream

T0 = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)


def test_latest_values_with_bbox_and_area(client: TestClient, session: Session) -> None:
    ds = make_datastream(session)  # located at 106.41, 10.54
    other = make_datastream(session, with_location=False)
    ingest_observations(session, [ObservationIn(ds.id, T0 + timedelta(hours=h), float(h)) for h in range(3)])
    ingest_observations(session, [ObservationIn(other.id, T0, "offline")])
    area = Area(
        code="80001",
        level="commune",
        kind="Phường",
        name="Long An",
        name_key="long an",
        geometry={
            "type": "Polygon",
            "coordinates": [[[106.3, 10.5], [106.5, 10.5], [106.5, 10.6], [106.3, 10.6], [106.3, 10.5]]],
        },
    )
    far = Area(
        code="1",
        level="commune",
        kind="Xã",
        name="Far",
        name_key="far",
        geometry={"type": "Polygon", "coordinates": [[[100, 10], [101, 10], [101, 11], [100, 10]]]},
    )
    session.add_all([area, far])
    session.commit()

    body = client.get("/api/v1/sensing/latest").json()
    assert body["count"] == 2
    first = body["items"][0]
    assert first["datastream_id"] == ds.id
    assert first["result"] == 2
    assert first["phenomenon_time"] == "2026-03-01T02:00:00Z"
    assert (first["lat"], first["lon"]) == (10.54, 106.41)
    assert body["items"][1]["result"] == "offline"

    inside = client.get("/api/v1/sensing/latest", params={"bbox": "106.4,10.5,106.5,10.6"}).json()
    assert [i["datastream_id"] for i in inside["items"]] == [ds.id]
    assert client.get("/api/v1/sensing/latest", params={"bbox": "0,0,1,1"}).json()["count"] == 0
    assert [
        i["datastream_id"] for i in client.get(f"/api/v1/sensing/latest?area_id={area.id}").json()["items"]
    ] == [ds.id]
    assert client.get(f"/api/v1/sensing/latest?area_id={far.id}").json()["count"] == 0

    bad = client.get("/api/v1/sensing/latest", params={"bbox": "1,2,3"})
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "validation_error"
    assert client.get("/api/v1/sensing/latest?area_id=999999").status_code == 404


def test_aggregate_reads_rollups(client: TestClient, session: Session) -> None:
    ds = make_datastream(session)
    rows = [ObservationIn(ds.id, T0 + timedelta(minutes=20 * i), float(i)) for i in range(6)]  # 2 hours
    ingest_observations(session, rows)
    session.commit()
    url = f"/api/v1/sensing/datastreams/{ds.id}/aggregate"
    body = client.get(
        url, params={"from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z", "interval": "hour"}
    ).json()
    assert body["unit"]["symbol"] == "g/L"
    assert body["buckets"] == [
        {
            "start": "2026-03-01T00:00:00Z",
            "avg": 1.0,
            "min": 0.0,
            "max": 2.0,
            "count": 3,
            "last": 2.0,
            "last_time": "2026-03-01T00:40:00Z",
        },
        {
            "start": "2026-03-01T01:00:00Z",
            "avg": 4.0,
            "min": 3.0,
            "max": 5.0,
            "count": 3,
            "last": 5.0,
            "last_time": "2026-03-01T01:40:00Z",
        },
    ]
    day = client.get(
        url,
        params={
            "from": "2026-03-01T07:00:00+07:00",
            "to": "2026-03-01T08:00:00+07:00",
            "interval": "day",
            "fn": "sum,count",
        },
    )
    assert day.json()["buckets"] == [{"start": "2026-03-01T00:00:00Z", "sum": 15.0, "count": 6}]
    minute = client.get(
        url,
        params={
            "from": "2026-03-01T01:00:00Z",
            "to": "2026-03-01T01:30:00Z",
            "interval": "minute",
            "fn": "last",
        },
    ).json()
    assert [b["start"] for b in minute["buckets"]] == ["2026-03-01T01:00:00Z", "2026-03-01T01:20:00Z"]

    for params in (
        {"from": "2026-03-02T00:00:00Z", "to": "2026-03-01T00:00:00Z"},
        {"from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z", "interval": "week"},
        {"from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z", "fn": "median"},
        {"from": "2020-01-01T00:00:00Z", "to": "2026-03-02T00:00:00Z", "interval": "minute"},
        {"from": "yesterday", "to": "2026-03-02T00:00:00Z"},
    ):
        r = client.get(url, params=params)
        assert r.status_code == 422, params
        assert "error" in r.json()
    assert (
        client.get(
            "/api/v1/sensing/datastreams/999999/aggregate?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z"
        ).status_code
        == 404
    )
