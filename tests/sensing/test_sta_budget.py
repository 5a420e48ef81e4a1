"""The cost budget of STA reads (#21 finding 1): entities, bytes and time across every ``$expand`` level,
answered with 400 naming the limit, on both backends."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cityops.settings import Settings
from tests.sensing.sta_tree import MEASUREMENT

STA = "/sta/v1.1"
ATTACK = (
    "Things?$expand=Datastreams/Observations/FeatureOfInterest/Observations/Datastream/Thing/"
    "Datastreams/Observations"
)
OBSERVATIONS = 120  # per Datastream: more than one default page


def _thing(n: int) -> dict[str, Any]:
    """A Thing at one Location with two Datastreams of :data:`OBSERVATIONS` readings each (one generated
    FeatureOfInterest, shared by all of them)."""
    return {
        "name": f"station {n}",
        "description": "budget test",
        "Locations": [
            {
                "name": f"site {n}",
                "description": "bank",
                "encodingType": "application/geo+json",
                "location": {"type": "Point", "coordinates": [106.4 + n / 100, 10.5]},
            }
        ],
        "Datastreams": [
            {
                "name": f"ds {n}.{d}",
                "description": "salinity",
                "unitOfMeasurement": {"name": "gram per litre", "symbol": "g/L", "definition": "ucum:g/L"},
                "observationType": MEASUREMENT,
                "Sensor": {
                    "name": "CTD",
                    "description": "probe",
                    "encodingType": "text/html",
                    "metadata": "x",
                },
                "ObservedProperty": {"name": f"Salinity {d}", "definition": f"urn:p{d}", "description": "s"},
                "Observations": [
                    {"phenomenonTime": f"2026-03-01T{i // 60:02d}:{i % 60:02d}:00Z", "result": i / 10}
                    for i in range(OBSERVATIONS)
                ],
            }
            for d in range(2)
        ],
    }


@pytest.fixture
def stations(client: TestClient, admin_headers: dict[str, str]) -> None:
    for n in range(3):
        res = client.post(f"{STA}/Things", json=_thing(n), headers=admin_headers)
        assert res.status_code == 201, res.text


def _limited(app: FastAPI, settings: Settings, **limits: Any) -> None:
    app.state.settings = settings.model_copy(update=limits)  # read per request


def _refused(res: Any, code: str, setting: str) -> None:
    assert res.status_code == 400, res.text[:300]
    err = res.json()["error"]
    assert set(err) == {"code", "message"}  # the STA/OData error shape
    assert err["code"] == code
    assert setting in err["message"]


def test_the_expand_attack_is_refused_quickly(client: TestClient, stations: None) -> None:
    """The finding's URL (inside the 8-level limit, 100 rows a level) with the default budget."""
    started = time.monotonic()
    res = client.get(f"{STA}/{ATTACK}")
    elapsed = time.monotonic() - started
    _refused(res, "query_too_many_entities", "sta_query_max_entities")
    assert elapsed < 2, elapsed  # 0.05 s (SQLite), 0.14 s (PostgreSQL) here


def test_reads_within_the_budget_answer_as_before(client: TestClient, stations: None) -> None:
    body = client.get(f"{STA}/Things?$expand=Datastreams/Observations&$count=true").json()
    assert body["@iot.count"] == 3
    assert sum(len(ds["Observations"]) for t in body["value"] for ds in t["Datastreams"]) == 3 * 2 * 100
    assert all("Observations@iot.nextLink" in ds for t in body["value"] for ds in t["Datastreams"])
    top = client.get(f"{STA}/Observations?$top=1000").json()
    assert len(top["value"]) == 3 * 2 * OBSERVATIONS


def test_entities_are_counted_across_all_levels(
    client: TestClient, app: FastAPI, settings: Settings, stations: None
) -> None:
    _limited(app, settings, sta_query_max_entities=200)
    assert client.get(f"{STA}/Observations?$top=200").status_code == 200
    _refused(client.get(f"{STA}/Observations?$top=201"), "query_too_many_entities", "sta_query_max_entities")
    # Each level alone is small (6 Datastreams, 100 Observations each), together they are not.
    assert client.get(f"{STA}/Datastreams?$top=1&$expand=Observations").status_code == 200
    _refused(
        client.get(f"{STA}/Datastreams?$expand=Observations"),
        "query_too_many_entities",
        "sta_query_max_entities",
    )
    # A shared to-one entity renders under every parent: 100 Observations x (Datastream + Thing) = 300.
    _refused(
        client.get(f"{STA}/Observations?$top=100&$expand=Datastream/Thing"),
        "query_too_many_entities",
        "sta_query_max_entities",
    )


def test_bytes_are_counted_while_rendering(
    client: TestClient, app: FastAPI, settings: Settings, stations: None
) -> None:
    _limited(app, settings, sta_query_max_bytes=64 * 1024)
    assert client.get(f"{STA}/Observations?$top=100").status_code == 200
    _refused(client.get(f"{STA}/Observations?$top=720"), "query_too_large", "sta_query_max_bytes")
    _refused(
        client.get(f"{STA}/Observations?$top=720&$resultFormat=GeoJSON"),
        "query_too_large",
        "sta_query_max_bytes",
    )


def test_time_is_bounded(client: TestClient, app: FastAPI, settings: Settings, stations: None) -> None:
    _limited(app, settings, sta_query_seconds=1e-6)
    _refused(
        client.get(f"{STA}/Things?$expand=Datastreams/Observations"), "query_too_slow", "sta_query_seconds"
    )
    _limited(app, settings, sta_query_seconds=10.0)
    assert client.get(f"{STA}/Things?$expand=Datastreams/Observations").status_code == 200


def test_a_batch_shares_one_budget(
    client: TestClient, app: FastAPI, settings: Settings, stations: None
) -> None:
    _limited(app, settings, sta_query_max_entities=300)
    batch = {
        "requests": [
            {"id": "a", "method": "get", "url": "Observations?$top=200"},
            {"id": "b", "method": "get", "url": "Observations?$top=200"},
        ]
    }
    res = client.post(f"{STA}/$batch", json=batch, headers={"Prefer": "continue-on-error"})
    assert res.status_code == 200, res.text
    out = {x["id"]: x for x in res.json()["responses"]}
    assert out["a"]["status"] == 200
    assert out["b"]["status"] == 400
    assert out["b"]["body"]["error"]["code"] == "query_too_many_entities"
