"""The OGC 18-088 behaviours an independent conformance suite checks and cityops once missed: the service
root's conformance list, updates that may only link existing entities, links to entities that do not
exist, deep inserts missing ``encodingType``, 1-based ``indexof``, and FeatureOfInterest generation under
concurrent writes. Both backends."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cityops.sensing.models import FeatureOfInterest, Observation
from cityops.sensing.sta_api import CONFORMANCE, MQTT_CREATE
from tests.sensing.sta_tree import MEASUREMENT, station

STA = "/sta/v1.1"
REQ = "http://www.opengis.net/spec/iot_sensing/1.1/req/"
MISSING = 999_999


@pytest.fixture
def ids(client: TestClient, key: dict[str, str]) -> dict[str, int]:
    """One station: its Thing, Location, Datastream, Sensor, ObservedProperty, first Observation and FoI."""
    r = client.post(f"{STA}/Things", json=station("Tân An", 106.41, 10.54, [1.0, 2.0]), headers=key)
    assert r.status_code == 201, r.text
    thing = r.json()["@iot.id"]
    ds = client.get(f"{STA}/Things({thing})/Datastreams").json()["value"][0]["@iot.id"]
    obs = client.get(f"{STA}/Datastreams({ds})/Observations", params={"$expand": "FeatureOfInterest"})
    first = obs.json()["value"][0]
    return {
        "thing": thing,
        "location": client.get(f"{STA}/Things({thing})/Locations").json()["value"][0]["@iot.id"],
        "datastream": ds,
        "sensor": client.get(f"{STA}/Datastreams({ds})/Sensor").json()["@iot.id"],
        "property": client.get(f"{STA}/Datastreams({ds})/ObservedProperty").json()["@iot.id"],
        "observation": first["@iot.id"],
        "feature": first["FeatureOfInterest"]["@iot.id"],
    }


def test_conformance_names_every_class_and_requirement_implemented(client: TestClient) -> None:
    listed = client.get(f"{STA}/").json()["serverSettings"]["conformance"]
    assert listed == CONFORMANCE  # no MQTT broker configured: no MQTT class
    for uri in [
        REQ + "datamodel",
        REQ + "resource-path/resource-path-to-entities",
        REQ + "request-data",
        REQ + "request-data/built-in-query-functions",
        REQ + "create-update-delete",
        REQ + "create-update-delete/update-entity-jsonpatch",
        REQ + "create-update-delete/update-entity-put",
        REQ + "create-update-delete/historical-location-auto-creation",
        REQ + "batch-request/batch-request",
        REQ + "multi-datastream",
        REQ + "data-array/data-array",
    ]:
        assert uri in listed, uri
    assert not any("receive-updates-via-mqtt" in u or "iot_tasking" in u for u in listed)
    assert len(listed) == len(set(listed))


def test_mqtt_creation_is_listed_with_a_broker(app: Any) -> None:
    from cityops.sensing.sta_api import server_settings

    settings = app.state.settings.model_copy(update={"mqtt_url": "mqtt://broker.example:1883"})
    out = server_settings(settings)
    assert out["conformance"][-1] == MQTT_CREATE
    assert out[MQTT_CREATE] == {"endpoints": ["mqtt://broker.example:1883"]}


def test_json_patch_is_what_the_list_says(
    client: TestClient, ids: dict[str, int], key: dict[str, str]
) -> None:
    ops = [{"op": "replace", "path": "/name", "value": "Trạm Tân An"}]
    headers = {**key, "Content-Type": "application/json-patch+json"}
    r = client.patch(f"{STA}/Things({ids['thing']})", content=__import__("json").dumps(ops), headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "Trạm Tân An"


LOCATION = {
    "name": "x",
    "description": "d",
    "encodingType": "application/geo+json",
    "location": {"type": "Point", "coordinates": [106.4, 10.5]},
}
SENSOR = {"name": "s", "description": "d", "encodingType": "text/html", "metadata": "https://example.org"}
DATASTREAM = {
    "name": "n",
    "description": "d",
    "unitOfMeasurement": {"name": "gram per litre", "symbol": "g/L", "definition": "ucum:g/L"},
    "observationType": MEASUREMENT,
    "Sensor": SENSOR,
    "ObservedProperty": {"name": "p", "definition": "http://example.org/p", "description": "d"},
}
INLINE_UPDATES = [
    ("Things({thing})", {"Locations": [LOCATION]}),
    ("Things({thing})", {"Datastreams": [DATASTREAM]}),
    ("Datastreams({datastream})", {"Sensor": SENSOR}),
    ("Datastreams({datastream})", {"ObservedProperty": DATASTREAM["ObservedProperty"]}),
    ("Datastreams({datastream})", {"Thing": {"name": "t", "description": "d"}}),
    ("Observations({observation})", {"FeatureOfInterest": {**LOCATION, "feature": LOCATION["location"]}}),
    ("Observations({observation})", {"Datastream": DATASTREAM}),
    ("Locations({location})", {"Things": [{"name": "t", "description": "d"}]}),
]


def _updater(path: str, key: dict[str, str], admin_headers: dict[str, str]) -> dict[str, str]:
    """Who may update the entity at ``path``: a stored Observation only an operator or admin (#21)."""
    return admin_headers if path.startswith("Observations(") else key


@pytest.mark.parametrize(("path", "body"), INLINE_UPDATES)
@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_an_update_with_an_inline_entity_is_400_and_changes_nothing(
    client: TestClient,
    ids: dict[str, int],
    key: dict[str, str],
    admin_headers: dict[str, str],
    sessions: sessionmaker[Session],
    method: str,
    path: str,
    body: dict[str, Any],
) -> None:
    url = f"{STA}/{path.format(**ids)}"
    key = _updater(path, key, admin_headers)
    before = client.get(url, params={"$expand": ",".join(body)}).json()
    full = {**before, **body} if method == "PUT" else body
    full = {k: v for k, v in full.items() if "@" not in k or k == "@iot.id"}
    r = client.request(method, url, json=full, headers=key)
    assert r.status_code == 400, r.text
    assert "link existing" in r.json()["error"]["message"]
    assert client.get(url, params={"$expand": ",".join(body)}).json() == before


def test_an_update_may_link_existing_entities(
    client: TestClient, ids: dict[str, int], key: dict[str, str]
) -> None:
    sensor = client.post(f"{STA}/Sensors", json=SENSOR, headers=key).json()["@iot.id"]
    r = client.patch(
        f"{STA}/Datastreams({ids['datastream']})", json={"Sensor": {"@iot.id": sensor}}, headers=key
    )
    assert r.status_code == 200, r.text
    assert client.get(f"{STA}/Datastreams({ids['datastream']})/Sensor").json()["@iot.id"] == sensor


DANGLING = [
    ("POST", "Datastreams", {**DATASTREAM, "Thing": {"@iot.id": MISSING}}),
    ("POST", "Datastreams", {**DATASTREAM, "Thing": {"@iot.id": "{thing}"}, "Sensor": {"@iot.id": MISSING}}),
    (
        "POST",
        "Datastreams",
        {**DATASTREAM, "Thing": {"@iot.id": "{thing}"}, "ObservedProperty": {"@iot.id": MISSING}},
    ),
    ("POST", "HistoricalLocations", {"time": "2026-03-01T00:00:00Z", "Thing": {"@iot.id": MISSING}}),
    (
        "POST",
        "HistoricalLocations",
        {
            "time": "2026-03-01T00:00:00Z",
            "Thing": {"@iot.id": "{thing}"},
            "Locations": [{"@iot.id": MISSING}],
        },
    ),
    ("POST", "Observations", {"result": 1, "Datastream": {"@iot.id": MISSING}}),
    (
        "POST",
        "Observations",
        {"result": 1, "Datastream": {"@iot.id": "{datastream}"}, "FeatureOfInterest": {"@iot.id": MISSING}},
    ),
    ("POST", "Things", {"name": "t", "description": "d", "Locations": [{"@iot.id": MISSING}]}),
    ("POST", "Things", {"name": "t", "description": "d", "Datastreams": [{"@iot.id": MISSING}]}),
    ("POST", f"Things({MISSING})/Datastreams", DATASTREAM),
    ("PATCH", "Datastreams({datastream})", {"Thing": {"@iot.id": MISSING}}),
    ("PATCH", "Datastreams({datastream})", {"Sensor": {"@iot.id": MISSING}}),
    ("PATCH", "Datastreams({datastream})", {"ObservedProperty": {"@iot.id": MISSING}}),
    ("PATCH", "Things({thing})", {"Locations": [{"@iot.id": MISSING}]}),
    ("PATCH", "Observations({observation})", {"Datastream": {"@iot.id": MISSING}}),
    ("PATCH", "Observations({observation})", {"FeatureOfInterest": {"@iot.id": MISSING}}),
    ("PATCH", "HistoricalLocations(1)", {"Thing": {"@iot.id": MISSING}}),
]


def _fill(value: Any, ids: dict[str, int]) -> Any:
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return ids[value[1:-1]]
    return value


@pytest.mark.parametrize(("method", "path", "body"), DANGLING)
def test_a_link_to_an_entity_that_does_not_exist_is_4xx(
    client: TestClient,
    ids: dict[str, int],
    key: dict[str, str],
    admin_headers: dict[str, str],
    method: str,
    path: str,
    body: dict[str, Any],
) -> None:
    key = _updater(path, key, admin_headers) if method != "POST" else key
    counts = {
        s: client.get(f"{STA}/{s}", params={"$count": "true", "$top": "0"}).json()["@iot.count"]
        for s in ("Things", "Datastreams", "Observations", "HistoricalLocations")
    }
    r = client.request(method, f"{STA}/{path.format(**ids)}", json=_fill(body, ids), headers=key)
    assert r.status_code in {400, 404}, r.text
    assert str(MISSING) in r.json()["error"]["message"]
    after = {
        s: client.get(f"{STA}/{s}", params={"$count": "true", "$top": "0"}).json()["@iot.count"]
        for s in counts
    }
    assert after == counts


NO_ENCODING = [
    (
        "Observations",
        {
            "result": 1,
            "Datastream": {"@iot.id": "{datastream}"},
            "FeatureOfInterest": {"name": "f", "description": "d", "feature": LOCATION["location"]},
        },
    ),
    (
        "Datastreams({datastream})/Observations",
        {
            "result": 1,
            "FeatureOfInterest": {"name": "f", "description": "d", "feature": LOCATION["location"]},
        },
    ),
    (
        "Datastreams",
        {
            **DATASTREAM,
            "Thing": {"@iot.id": "{thing}"},
            "Sensor": {"name": "s", "description": "d", "metadata": "m"},
        },
    ),
    (
        "Things",
        {
            "name": "t",
            "description": "d",
            "Datastreams": [{**DATASTREAM, "Sensor": {"name": "s", "description": "d", "metadata": "m"}}],
        },
    ),
    (
        "Things",
        {
            "name": "t",
            "description": "d",
            "Locations": [{k: v for k, v in LOCATION.items() if k != "encodingType"}],
        },
    ),
    ("FeaturesOfInterest", {"name": "f", "description": "d", "feature": LOCATION["location"]}),
    ("Sensors", {"name": "s", "description": "d", "metadata": "m"}),
    ("Sensors", {"name": "s", "description": "d", "metadata": "m", "encodingType": None}),
]


@pytest.mark.parametrize(("path", "body"), NO_ENCODING)
def test_an_insert_without_encoding_type_is_400(
    client: TestClient, ids: dict[str, int], key: dict[str, str], path: str, body: dict[str, Any]
) -> None:
    before = client.get(f"{STA}/Things", params={"$count": "true"}).json()["@iot.count"]
    r = client.post(f"{STA}/{path.format(**ids)}", json=_fill(body, ids), headers=key)
    assert r.status_code == 400, r.text
    assert "encodingType" in r.json()["error"]["message"]
    assert client.get(f"{STA}/Things", params={"$count": "true"}).json()["@iot.count"] == before


@pytest.mark.parametrize(
    ("flt", "found"),
    [
        ("indexof(description,'trạm') eq 1", True),  # 'trạm quan trắc Tân An'
        ("indexof(description,'quan') eq 6", True),
        ("indexof(description,'quan') eq 5", False),
        ("indexof(description,'zz') eq 0", True),
        ("indexof(name,'An') eq 5", True),
    ],
)
def test_indexof_is_one_based(client: TestClient, ids: dict[str, int], flt: str, found: bool) -> None:
    r = client.get(f"{STA}/Things", params={"$filter": flt})
    assert r.status_code == 200, r.text
    assert [t["@iot.id"] for t in r.json()["value"]] == ([ids["thing"]] if found else [])


def test_concurrent_observations_generate_one_feature(
    client: TestClient, key: dict[str, str], sessions: sessionmaker[Session]
) -> None:
    """Several first Observations of a new station at once: one FeatureOfInterest is generated from its
    Location, and every Observation points at it."""
    body = station("Bến Lức", 106.49, 10.64, [])
    r = client.post(f"{STA}/Things", json=body, headers=key)
    assert r.status_code == 201, r.text
    ds = client.get(f"{STA}/Things({r.json()['@iot.id']})/Datastreams").json()["value"][0]["@iot.id"]
    n = 6
    barrier = threading.Barrier(n)
    answers: list[int] = []

    def post(i: int) -> None:
        barrier.wait()
        obs = {"result": i, "phenomenonTime": f"2026-03-01T0{i}:00:00Z"}
        answers.append(
            client.post(f"{STA}/Datastreams({ds})/Observations", json=obs, headers=key).status_code
        )

    threads = [threading.Thread(target=post, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [201] * n
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(FeatureOfInterest)) == 1
        features = set(
            s.scalars(select(Observation.feature_of_interest_id).where(Observation.datastream_id == ds))
        )
    assert len(features) == 1
    assert None not in features
