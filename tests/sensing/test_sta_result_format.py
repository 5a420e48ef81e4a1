"""FROST's ``$resultFormat=GeoJSON`` and ``$resultFormat=CSV`` extensions, and the service root's
conformance list, on both backends."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from cityops.identity.apikeys import create_api_key
from cityops.sensing.sta_api import CONFORMANCE, MQTT_CREATE, server_settings
from cityops.settings import Settings
from tests.sensing.sta_tree import station

STA = "/sta/v1.1"


@pytest.fixture
def tree(client: TestClient, sessions: sessionmaker[Session]) -> dict[str, int]:
    """Tân An (1.0, 4.5, 2.0 g/L) and Bến Lức (0.2, 0.4)."""
    with sessions() as s:
        _, secret = create_api_key(s, name="gateway", scopes=["ingest"])
        s.commit()
    ids = {}
    for name, lon, lat, values in [
        ("Tân An", 106.41, 10.54, [1.0, 4.5, 2.0]),
        ("Bến Lức", 106.49, 10.64, [0.2, 0.4]),
    ]:
        r = client.post(f"{STA}/Things", json=station(name, lon, lat, values), headers={"X-API-Key": secret})
        assert r.status_code == 201, r.text
        ids[name] = r.json()["@iot.id"]
    return ids


def geojson(client: TestClient, url: str) -> dict[str, Any]:
    r = client.get(STA + url)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/geo+json"
    body: dict[str, Any] = r.json()
    assert body["type"] == "FeatureCollection"
    return body


def table(client: TestClient, url: str) -> list[list[str]]:
    r = client.get(STA + url)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.text.endswith("\r\n")  # RFC 4180 line ends
    return list(csv.reader(io.StringIO(r.text)))


def test_geojson_locations_and_features_of_interest(client: TestClient, tree: dict[str, int]) -> None:
    body = geojson(client, "/Locations?$orderby=name&$resultFormat=GeoJSON")
    assert [f["type"] for f in body["features"]] == ["Feature", "Feature"]
    first = body["features"][0]
    assert first["geometry"] == {"type": "Point", "coordinates": [106.49, 10.64]}
    # Flattened properties, no links, and the geometry is not repeated among them.
    assert first["properties"] == {
        "id": first["properties"]["id"],
        "name": "Bến Lức site",
        "description": "river bank",
        "encodingType": "application/geo+json",
    }
    fois = geojson(client, "/FeaturesOfInterest?$orderby=name&$resultFormat=GeoJSON")["features"]
    assert [f["geometry"]["coordinates"] for f in fois] == [[106.49, 10.64], [106.41, 10.54]]


def test_geojson_things_through_locations_and_observations_through_their_feature(
    client: TestClient, tree: dict[str, int]
) -> None:
    body = geojson(
        client,
        "/Things?$orderby=name desc&$select=name,properties&$expand=Locations($select=id,location)"
        "&$resultFormat=GeoJSON",
    )
    tan_an = body["features"][0]
    assert tan_an["geometry"] == {"type": "Point", "coordinates": [106.41, 10.54]}
    props = tan_an["properties"]
    assert props["name"] == "Tân An"
    assert props["properties/river"] == "Vàm Cỏ Tây"
    assert props["properties/depth"] == 2
    assert set(props) == {"name", "properties/river", "properties/depth", "Locations/0/id"}
    # Without the Locations expanded there is no geometry, as in FROST.
    plain = geojson(client, "/Things?$resultFormat=GeoJSON")["features"]
    assert [f["geometry"] for f in plain] == [None, None]
    obs = geojson(
        client,
        "/Observations?$filter=result gt 4&$select=result,phenomenonTime"
        "&$expand=FeatureOfInterest($select=name,feature),Datastream($select=name;$expand=Thing($select=name))"
        "&$resultFormat=GeoJSON",
    )["features"]
    assert len(obs) == 1
    assert obs[0]["geometry"] == {"type": "Point", "coordinates": [106.41, 10.54]}
    assert obs[0]["properties"] == {
        "result": 4.5,
        "phenomenonTime": "2026-03-01T01:00:00Z",
        "FeatureOfInterest/name": "Tân An site",
        "Datastream/name": "Tân An salinity",
        "Datastream/Thing/name": "Tân An",
    }
    # A single entity is a FeatureCollection of one.
    one = geojson(client, f"/Things({tree['Bến Lức']})?$expand=Locations&$resultFormat=GeoJSON")["features"]
    assert len(one) == 1
    assert one[0]["geometry"]["coordinates"] == [106.49, 10.64]
    assert one[0]["properties"]["Locations/0/name"] == "Bến Lức site"


def test_csv_header_rows_split_units_and_json_cells(client: TestClient, tree: dict[str, int]) -> None:
    rows = table(client, "/Datastreams?$orderby=id&$resultFormat=CSV")
    assert rows[0] == [
        "id", "name", "description", "unitOfMeasurement/name", "unitOfMeasurement/symbol",
        "unitOfMeasurement/definition", "observationType", "observedArea", "phenomenonTime", "resultTime",
        "properties",
    ]  # fmt: skip
    assert len(rows) == 3
    first = dict(zip(rows[0], rows[1], strict=True))
    assert first["name"] == "Tân An salinity"
    assert first["unitOfMeasurement/symbol"] == "g/L"
    assert json.loads(first["observedArea"]) == {"type": "Point", "coordinates": [106.41, 10.54]}
    assert first["phenomenonTime"] == "2026-03-01T00:00:00Z/2026-03-01T02:00:00Z"
    assert first["resultTime"] == ""
    things = table(client, "/Things?$orderby=name&$select=name,properties&$resultFormat=CSV")
    assert things[0] == ["name", "properties"]
    assert things[1][0] == "Bến Lức"
    assert json.loads(things[1][1]) == {"river": "Vàm Cỏ Tây", "depth": 2}  # quoted JSON survives CSV


def test_csv_expands_are_prefixed_columns(client: TestClient, tree: dict[str, int]) -> None:
    rows = table(
        client,
        "/Observations?$orderby=result&$top=3&$select=id,result&$expand=Datastream($select=id,name;"
        "$expand=Thing($select=name))&$resultFormat=CSV",
    )
    assert rows[0] == ["id", "result", "Datastream/id", "Datastream/name", "Datastream/Thing/name"]
    assert [r[1:] for r in rows[1:]] == [
        ["0.2", "2", "Bến Lức salinity", "Bến Lức"],
        ["0.4", "2", "Bến Lức salinity", "Bến Lức"],
        ["1", "1", "Tân An salinity", "Tân An"],  # a whole number renders as in JSON
    ]
    # A to-many expand must be cut to one entity.
    r = client.get(f"{STA}/Things?$expand=Datastreams&$resultFormat=CSV")
    assert r.status_code == 400
    assert "$top=1" in r.json()["error"]["message"]
    rows = table(
        client,
        "/Things?$orderby=name&$select=name&$expand=Datastreams($select=name;$top=1;$orderby=id)&$resultFormat=CSV",
    )
    assert rows == [
        ["name", "Datastreams/name"],
        ["Bến Lức", "Bến Lức salinity"],
        ["Tân An", "Tân An salinity"],
    ]


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("/Things?$resultFormat=xml", "dataArray, GeoJSON, CSV"),
        ("/Things(1)/Datastreams/$ref?$resultFormat=CSV", "$ref"),
        ("/Things(1)?$resultFormat=dataArray", "collections of Observations"),
    ],
)
def test_result_format_errors(client: TestClient, tree: dict[str, int], url: str, fragment: str) -> None:
    r = client.get(STA + url)
    assert r.status_code == 400, r.text
    assert fragment in r.json()["error"]["message"]


def test_conformance_lists_what_is_implemented(client: TestClient, settings: Settings) -> None:
    listed = client.get(STA).json()["serverSettings"]["conformance"]
    assert listed == CONFORMANCE
    for expected in [
        "http://www.opengis.net/spec/iot_sensing/1.1/req/batch-request/batch-request",
        "http://www.opengis.net/spec/iot_sensing/1.1/req/data-array/data-array",
        "https://fraunhoferiosb.github.io/FROST-Server/extensions/GeoJSON-ResultFormat.html",
        "https://fraunhoferiosb.github.io/FROST-Server/extensions/JsonBatchRequest.html",
    ]:
        assert expected in listed
    assert not any("receive-updates" in c for c in listed)  # only Observations are published
    assert MQTT_CREATE not in listed  # MQTT is off in tests
    with_mqtt = server_settings(
        settings.model_copy(update={"mqtt_url": "mqtt://gw:s3cret@broker.example:1883"})
    )
    assert MQTT_CREATE in with_mqtt["conformance"]
    assert with_mqtt[MQTT_CREATE] == {"endpoints": ["mqtt://broker.example:1883"]}  # no credentials
    prefixed = settings.model_copy(update={"mqtt_url": "mqtt://broker.example", "mqtt_topic_prefix": "tn/"})
    assert MQTT_CREATE not in server_settings(prefixed)["conformance"]
