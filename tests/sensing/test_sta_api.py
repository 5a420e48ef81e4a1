"""SensorThings API 1.1 over HTTP (TestClient), on both backends: reads, writes, query options, errors."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cityops.identity.apikeys import create_api_key
from cityops.sensing.models import Datastream, Observation, ObservationRollup
from tests.sensing.sta_tree import MEASUREMENT, station, wind

STA = "/sta/v1.1"


@pytest.fixture
def tree(client: TestClient, key: dict[str, str]) -> dict[str, int]:
    """Two stations: Tân An (1.0, 4.5, 2.0 g/L) and Bến Lức (0.2, 0.4)."""
    ids: dict[str, int] = {}
    for name, lon, lat, values in [
        ("Tân An", 106.41, 10.54, [1.0, 4.5, 2.0]),
        ("Bến Lức", 106.49, 10.64, [0.2, 0.4]),
    ]:
        r = client.post(f"{STA}/Things", json=station(name, lon, lat, values), headers=key)
        assert r.status_code == 201, r.text
        ids[name] = r.json()["@iot.id"]
    return ids


def get(client: TestClient, url: str, status: int = 200) -> Any:
    r = client.get(STA + url)
    assert r.status_code == status, r.text
    return r.json()


def values(client: TestClient, url: str) -> list[Any]:
    return list(get(client, url)["value"])


def test_service_root_lists_entity_sets_and_conformance(client: TestClient) -> None:
    body = get(client, "")
    names = {v["name"] for v in body["value"]}
    assert names == {
        "Things", "Locations", "HistoricalLocations", "Datastreams", "MultiDatastreams",
        "Sensors", "ObservedProperties", "Observations", "FeaturesOfInterest",
    }  # fmt: skip
    assert body["value"][0]["url"].startswith("http://testserver/sta/v1.1/")
    assert (
        "http://www.opengis.net/spec/iot_sensing/1.1/req/create-update-delete"
        in body["serverSettings"]["conformance"]
    )


def test_deep_insert_creates_the_tree_with_links(client: TestClient, tree: dict[str, int]) -> None:
    tid = tree["Tân An"]
    r = client.get(f"{STA}/Things({tid})")
    thing = r.json()
    assert thing["@iot.selfLink"] == f"http://testserver/sta/v1.1/Things({tid})"
    assert thing["Datastreams@iot.navigationLink"].endswith(f"Things({tid})/Datastreams")
    ds = values(client, f"/Things({tid})/Datastreams")
    assert len(ds) == 1
    assert ds[0]["phenomenonTime"] == "2026-03-01T00:00:00Z/2026-03-01T02:00:00Z"
    assert ds[0]["unitOfMeasurement"]["symbol"] == "g/L"
    assert ds[0]["observedArea"] == {"type": "Point", "coordinates": [106.41, 10.54]}
    obs = values(client, f"/Datastreams({ds[0]['@iot.id']})/Observations?$orderby=phenomenonTime")
    assert [o["result"] for o in obs] == [1.0, 4.5, 2.0]
    # A HistoricalLocation was recorded, and each Observation got the FeatureOfInterest made from the Location.
    hl = values(client, f"/Things({tid})/HistoricalLocations?$expand=Locations")
    assert hl[0]["Locations"][0]["name"] == "Tân An site"
    foi = get(client, f"/Observations({obs[0]['@iot.id']})/FeatureOfInterest")
    assert foi["feature"] == {"type": "Point", "coordinates": [106.41, 10.54]}
    assert client.get(f"{STA}/Datastreams({ds[0]['@iot.id']})/Thing/name/$value").text == "Tân An"
    assert get(client, f"/Datastreams({ds[0]['@iot.id']})/Thing/name") == {"name": "Tân An"}
    refs = values(client, f"/Things({tid})/Datastreams/$ref")
    assert refs == [{"@iot.selfLink": f"http://testserver/sta/v1.1/Datastreams({ds[0]['@iot.id']})"}]
    assert get(client, f"/Datastreams({ds[0]['@iot.id']})/Sensor/$ref")["@iot.selfLink"].endswith(
        "Sensors(1)"
    )


def test_post_location_header_and_linking_existing_entities(
    client: TestClient, tree: dict[str, int], key: dict[str, str]
) -> None:
    ds = values(client, "/Datastreams?$top=1&$orderby=id")[0]
    r = client.post(
        f"{STA}/Datastreams({ds['@iot.id']})/Observations",
        json={"phenomenonTime": "2026-03-02T00:00:00Z", "result": 3.25, "resultTime": "2026-03-02T00:00:05Z"},
        headers=key,
    )
    assert r.status_code == 201
    assert r.headers["location"] == r.json()["@iot.selfLink"]
    # Linking by @iot.id: a second Datastream on the same Thing, Sensor and ObservedProperty.
    r = client.post(
        f"{STA}/Datastreams",
        json={
            "name": "copy",
            "description": "d",
            "unitOfMeasurement": {"name": "g/L", "symbol": "g/L", "definition": "ucum:g/L"},
            "observationType": MEASUREMENT,
            "Thing": {"@iot.id": tree["Bến Lức"]},
            "Sensor": {"@iot.id": 1},
            "ObservedProperty": {"@iot.id": 1},
        },
        headers=key,
    )
    assert r.status_code == 201, r.text
    assert len(values(client, f"/Things({tree['Bến Lức']})/Datastreams")) == 2
    assert len(values(client, "/Sensors")) == 2


def test_string_results_locations_history_and_ucum(
    client: TestClient, tree: dict[str, int], key: dict[str, str], sessions: sessionmaker[Session]
) -> None:
    # Text results need a Datastream whose observationType allows them (an OM_Measurement takes numbers).
    any_result = {"observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Observation"}
    assert client.patch(f"{STA}/Datastreams(2)", json=any_result, headers=key).status_code == 200
    for i, state in enumerate(["open", "closed"]):
        body = {"phenomenonTime": f"2026-04-01T0{i}:00:00Z", "result": state}
        assert client.post(f"{STA}/Datastreams(2)/Observations", json=body, headers=key).status_code == 201
    got = values(client, "/Observations?$filter=result eq 'closed'")
    assert [o["result"] for o in got] == ["closed"]
    assert [o["result"] for o in values(client, "/Observations?$filter=result gt 4")] == [4.5]
    # POST Things(id)/Locations links the new Location and records a HistoricalLocation.
    tid = tree["Bến Lức"]
    before = len(values(client, f"/Things({tid})/HistoricalLocations"))
    loc = {"name": "new site", "description": "d", "encodingType": "application/geo+json",
           "location": {"type": "Point", "coordinates": [106.5, 10.7]}}  # fmt: skip
    assert client.post(f"{STA}/Things({tid})/Locations", json=loc, headers=key).status_code == 201
    hls = values(client, f"/Things({tid})/HistoricalLocations?$orderby=time desc,id desc&$expand=Locations")
    assert len(hls) == before + 1
    assert "new site" in {x["name"] for x in hls[0]["Locations"]}
    with sessions() as s:
        from cityops.sensing.models import ObservedProperty

        prop = s.get(ObservedProperty, 1)
        assert prop is not None
        assert prop.ucum == "g/L"


def test_resending_an_observation_is_idempotent(
    client: TestClient, tree: dict[str, int], key: dict[str, str]
) -> None:
    body = {"phenomenonTime": "2026-03-01T00:00:00Z", "result": 1.0}
    first = client.post(f"{STA}/Datastreams(1)/Observations", json=body, headers=key)
    assert first.status_code == 201
    assert first.json()["result"] == 1.0  # the stored row; the re-sent one is not a second row
    # Another value for that time is a conflict (#21: it was answered 201 and dropped).
    other = client.post(f"{STA}/Datastreams(1)/Observations", json={**body, "result": 99}, headers=key)
    assert other.status_code == 409
    assert get(client, "/Datastreams(1)/Observations?$count=true&$top=0")["@iot.count"] == 3


OBSERVATION_FILTERS = [
    ("result gt 1", [4.5, 2.0]),
    ("result ge 1 and result le 2", [1.0, 2.0]),
    ("result lt 0.3 or result eq 4.5", [4.5, 0.2]),
    ("not (result ne 2)", [2.0]),
    ("result add 1 gt 5", [4.5]),
    ("result mul 2 sub 1 eq 3", [2.0]),
    ("result div 2 ge 1", [4.5, 2.0]),
    ("round(result) eq 5", [4.5]),
    ("floor(result) eq 4 or ceiling(result) eq 1", [1.0, 4.5, 0.2, 0.4]),
    ("hour(phenomenonTime) eq 1", [4.5, 0.4]),
    ("phenomenonTime gt 2026-03-01T00:30:00Z", [4.5, 2.0, 0.4]),
    ("phenomenonTime lt 2026-03-01T08:30:00%2B07:00", [1.0, 4.5, 0.2, 0.4]),
    (
        "year(phenomenonTime) eq 2026 and month(phenomenonTime) eq 3 and day(phenomenonTime) eq 1",
        [1.0, 4.5, 2.0, 0.2, 0.4],
    ),
    ("phenomenonTime ge 2026-03-01T03:00:00Z sub duration'PT1H'", [2.0]),
    ("phenomenonTime lt now()", [1.0, 4.5, 2.0, 0.2, 0.4]),
    ("Datastream/Thing/name eq 'Bến Lức'", [0.2, 0.4]),
    ("startswith(Datastream/Thing/name, 'Tân')", [1.0, 4.5, 2.0]),
    ("endswith(Datastream/name, 'Lức salinity')", [0.2, 0.4]),
    ("substringof('Lức', Datastream/Thing/name)", [0.2, 0.4]),
    ("contains(tolower(Datastream/Thing/name), 'tân')", [1.0, 4.5, 2.0]),
    ("length(Datastream/Thing/name) eq 6", [1.0, 4.5, 2.0]),
    ("indexof(Datastream/Thing/name, 'An') eq 5", [1.0, 4.5, 2.0]),
    ("substring(Datastream/Thing/name, 4) eq 'An'", [1.0, 4.5, 2.0]),
    ("toupper(substring(Datastream/Thing/name, 0, 3)) eq 'BẾN'", [0.2, 0.4]),
    ("concat(trim(Datastream/Thing/name), '!') eq 'Tân An!'", [1.0, 4.5, 2.0]),
    (
        "Datastream/Thing/properties/depth eq 2 and Datastream/Thing/properties/river eq 'Vàm Cỏ Tây'",
        [1.0, 4.5, 2.0, 0.2, 0.4],
    ),
    ("resultTime eq null", [1.0, 4.5, 2.0, 0.2, 0.4]),
    ("Datastream/id eq 2", [0.2, 0.4]),
    ("FeatureOfInterest/name eq 'Bến Lức site'", [0.2, 0.4]),
]


def test_filter_on_observations(client: TestClient, tree: dict[str, int]) -> None:
    """Operators and functions; one station tree for all cases keeps the test quick."""
    for flt, expected in OBSERVATION_FILTERS:
        got = values(
            client, f"/Observations?$filter={flt}&$orderby=Datastream/id,phenomenonTime&$select=result"
        )
        assert [o["result"] for o in got] == expected, flt


THING_FILTERS = [
    ("Datastreams/ObservedProperty/name eq 'Salinity'", ["Bến Lức", "Tân An"]),
    ("Datastreams/Observations/result gt 4", ["Tân An"]),
    ("Locations/name eq 'Bến Lức site'", ["Bến Lức"]),
    (
        "st_within(Locations/location, geography'POLYGON((106.4 10.5, 106.45 10.5, 106.45 10.6, 106.4 10.6, 106.4 10.5))')",
        ["Tân An"],
    ),
    (
        "geo.intersects(Locations/location, geography'MULTIPOLYGON(((106 10, 107 10, 107 11, 106 11, 106 10)))')",
        ["Bến Lức", "Tân An"],
    ),
    (
        "st_disjoint(Locations/location, geography'POLYGON((106.4 10.5, 106.45 10.5, 106.45 10.6, 106.4 10.6, 106.4 10.5))')",
        ["Bến Lức"],
    ),
    ("geo.distance(Locations/location, geography'POINT(106.5 10.65)') lt 0.05", ["Bến Lức"]),
    ("st_equals(Locations/location, geography'POINT(106.41 10.54)')", ["Tân An"]),
    (
        "st_contains(geography'POLYGON((106.4 10.5, 106.45 10.5, 106.45 10.6, 106.4 10.6, 106.4 10.5))', Locations/location)",
        ["Tân An"],
    ),
]


def test_filter_through_to_many_and_geometry(client: TestClient, tree: dict[str, int]) -> None:
    for flt, expected in THING_FILTERS:
        got = values(client, f"/Things?$filter={flt}&$orderby=name")
        assert [t["name"] for t in got] == expected, flt
    donut = "POLYGON((106 10, 107 10, 107 11, 106 11, 106 10),(106.4 10.5, 106.45 10.5, 106.45 10.6, 106.4 10.6, 106.4 10.5))"
    got = values(client, f"/Locations?$filter=st_within(location, geography'{donut}')")
    assert [loc["name"] for loc in got] == ["Bến Lức site"]


def test_expand_select_orderby_and_counts(client: TestClient, tree: dict[str, int]) -> None:
    things = values(
        client,
        "/Things?$orderby=name desc&$select=name&$expand=Datastreams($select=name;"
        "$expand=Observations($orderby=result desc;$top=1;$count=true;$select=result),ObservedProperty($select=name))",
    )
    assert [t["name"] for t in things] == ["Tân An", "Bến Lức"]
    assert set(things[0]) == {"name", "Datastreams"}
    ds = things[0]["Datastreams"][0]
    assert ds["Observations"] == [{"result": 4.5}]
    assert ds["Observations@iot.count"] == 3
    assert ds["Observations@iot.nextLink"].endswith(
        "/Observations?$orderby=result%20desc&$count=true&$select=result&$top=1&$skip=1"
    )
    nxt = client.get(ds["Observations@iot.nextLink"]).json()
    assert nxt["value"] == [{"result": 2}]
    assert nxt["@iot.count"] == 3
    assert ds["ObservedProperty"] == {"name": "Salinity"}
    obs = get(client, "/Observations(1)?$expand=Datastream/Thing&$select=result,id")
    assert obs["@iot.id"] == 1
    assert obs["Datastream"]["Thing"]["name"] == "Tân An"


def test_paging_with_next_link(client: TestClient, tree: dict[str, int]) -> None:
    url = f"{STA}/Observations?$orderby=result&$top=2&$count=true"
    seen: list[float] = []
    pages = 0
    while url:
        body = client.get(url).json()
        assert body["@iot.count"] == 5
        seen += [o["result"] for o in body["value"]]
        url = body.get("@iot.nextLink", "")
        pages += 1
    assert pages == 3
    assert seen == [0.2, 0.4, 1.0, 2.0, 4.5]
    assert get(client, "/Observations?$skip=4&$top=10")["value"][0]["@iot.id"] == 5
    assert "@iot.nextLink" not in get(client, "/Observations?$skip=4&$top=10")


def test_result_format_data_array_and_create_observations(
    client: TestClient, tree: dict[str, int], key: dict[str, str]
) -> None:
    body = get(client, "/Observations?$resultFormat=dataArray&$select=id,result&$orderby=id")
    assert body["value"][0]["components"] == ["id", "result"]
    assert body["value"][0]["dataArray"] == [[1, 1.0], [2, 4.5], [3, 2.0]]
    assert body["value"][1]["Datastream@iot.navigationLink"].endswith("Datastreams(2)")
    payload = [
        {
            "Datastream": {"@iot.id": 2},
            "components": ["phenomenonTime", "result", "FeatureOfInterest/id"],
            "dataArray@iot.count": 3,
            "dataArray": [
                ["2026-03-02T00:00:00Z", 0.7, 2],
                ["2026-03-01T00:00:00Z", 0.2, 2],  # already stored: answered with the stored row's link
                ["not a time", 1.0, 2],
                ["2026-03-03T00:00:00Z", 0.5, 999],  # no such FeatureOfInterest
            ],
        },
        {
            "Datastream": {"@iot.id": 1},
            "components": ["phenomenonTime", "result"],
            "dataArray": [["2026-03-09T00:00:00Z", 7]],
        },
    ]
    r = client.post(f"{STA}/CreateObservations", json=payload, headers=key)
    assert r.status_code == 201, r.text
    links = r.json()
    assert links[0].startswith("http://testserver/sta/v1.1/Observations(")
    assert links[1].endswith("Observations(4)")
    assert links[2] == "error"
    assert links[3] == "error"
    assert links[4].startswith("http://testserver/sta/v1.1/Observations(")
    assert get(client, "/Datastreams(2)/Observations?$count=true&$top=0")["@iot.count"] == 3
    r = client.post(
        f"{STA}/CreateObservations",
        json=[{"Datastream": {"@iot.id": 999}, "components": ["result"], "dataArray": [[1]]}],
        headers=key,
    )
    assert r.status_code == 400
    assert "999" in r.json()["error"]["message"]
    # Anonymous: refused before any lookup, so an unknown and a known Datastream answer alike (no probing).
    before = get(client, "/Datastreams(1)/Observations?$count=true&$top=0")["@iot.count"]
    for ds_id in (999, 1):
        r = client.post(
            f"{STA}/CreateObservations",
            json=[{"Datastream": {"@iot.id": ds_id}, "components": ["result"], "dataArray": [[1]]}],
        )
        assert r.status_code == 401, r.text
        assert "error" in r.json()
    assert get(client, "/Datastreams(1)/Observations?$count=true&$top=0")["@iot.count"] == before


def test_patch_merge_json_patch_put_and_delete(
    client: TestClient,
    tree: dict[str, int],
    key: dict[str, str],
    admin_headers: dict[str, str],
    sessions: sessionmaker[Session],
) -> None:
    tid = tree["Tân An"]
    r = client.patch(
        f"{STA}/Things({tid})", json={"description": "moved upstream", "properties": {"a": 1}}, headers=key
    )
    assert r.status_code == 200, r.text
    assert get(client, f"/Things({tid})")["description"] == "moved upstream"
    ops = [
        {"op": "add", "path": "/properties/b", "value": [1, 2]},
        {"op": "replace", "path": "/name", "value": "Tân An 2"},
    ]
    r = client.patch(
        f"{STA}/Things({tid})",
        content=json.dumps(ops),
        headers={**key, "Content-Type": "application/json-patch+json"},
    )
    assert r.status_code == 200, r.text
    thing = get(client, f"/Things({tid})")
    assert thing["properties"] == {"a": 1, "b": [1, 2]}
    assert thing["name"] == "Tân An 2"
    bad_test = [{"op": "test", "path": "/name", "value": "nope"}]
    r = client.patch(
        f"{STA}/Things({tid})",
        content=json.dumps(bad_test),
        headers={**key, "Content-Type": "application/json-patch+json"},
    )
    assert r.status_code == 400
    # PUT replaces: mandatory properties are required, optional ones reset.
    r = client.put(f"{STA}/Things({tid})", json={"name": "only name"}, headers=key)
    assert r.status_code == 400
    r = client.put(f"{STA}/Things({tid})", json={"name": "T", "description": "d"}, headers=key)
    assert r.status_code == 200
    assert "properties" not in get(client, f"/Things({tid})")
    # Editing an Observation (operators and admins: an ingest key only adds) keeps the latest value and
    # roll-ups right.
    assert client.patch(f"{STA}/Observations(2)", json={"result": 10}, headers=key).status_code == 403
    r = client.patch(f"{STA}/Observations(2)", json={"result": 10}, headers=admin_headers)
    assert r.status_code == 200, r.text
    with sessions() as s:
        hour = s.scalars(
            select(ObservationRollup).where(
                ObservationRollup.datastream_id == 1, ObservationRollup.interval == "day"
            )
        ).one()
        assert (hour.count, hour.max) == (3, 10.0)
    r = client.delete(f"{STA}/Observations(3)", headers=admin_headers)
    assert r.status_code == 200
    assert client.get(f"{STA}/Observations(3)").status_code == 404
    with sessions() as s:
        ds = s.get(Datastream, 1)
        assert ds is not None
        assert ds.last_value == 10.0
        day = s.scalars(
            select(ObservationRollup).where(
                ObservationRollup.datastream_id == 1, ObservationRollup.interval == "day"
            )
        ).one()
        assert (day.count, day.sum) == (2, 11.0)
    # Deleting a Thing removes its Datastreams and their Observations.
    assert client.delete(f"{STA}/Things({tid})", headers=admin_headers).status_code == 200
    assert client.get(f"{STA}/Things({tid})").status_code == 404
    with sessions() as s:
        assert s.scalars(select(Observation).where(Observation.datastream_id == 1)).all() == []


def test_multidatastream(client: TestClient, tree: dict[str, int], key: dict[str, str]) -> None:
    mds = wind(
        tree["Tân An"],
        Sensor={"@iot.id": 1},
        ObservedProperties=[{"@iot.id": 1}, {"name": "Wind", "definition": "x", "description": "wind"}],
        Observations=[{"phenomenonTime": "2026-03-01T00:00:00Z", "result": [3.5, 270]}],
    )
    r = client.post(f"{STA}/MultiDatastreams", json=mds, headers=key)
    assert r.status_code == 201, r.text
    mid = r.json()["@iot.id"]
    obs = values(client, f"/MultiDatastreams({mid})/Observations")
    assert obs[0]["result"] == [3.5, 270]
    assert len(values(client, f"/MultiDatastreams({mid})/ObservedProperties")) == 2
    r = client.post(f"{STA}/MultiDatastreams({mid})/Observations", json={"result": [1]}, headers=key)
    assert r.status_code == 400
    arrays = [
        {
            "MultiDatastream": {"@iot.id": mid},
            "components": ["phenomenonTime", "result"],
            "dataArray": [["2026-03-01T01:00:00Z", [4.0, 180]], ["2026-03-01T02:00:00Z", [1]]],
        }
    ]
    r = client.post(f"{STA}/CreateObservations", json=arrays, headers=key)
    assert r.status_code == 201, r.text
    assert r.json()[0].startswith("http://testserver/sta/v1.1/Observations(")
    assert r.json()[1] == "error"
    assert len(values(client, f"/MultiDatastreams({mid})/Observations")) == 2


ERRORS = [
    ("/Things?$filter=name eq", 400, "end of expression"),
    ("/Things?$filter=nosuch eq 1", 400, "no property"),
    ("/Things?$filter=name", 400, "boolean"),
    ("/Observations?$filter=result eq 'x' add 1", 400, "expected a number"),
    ("/Things?$orderby=name sideways", 400, "unexpected"),
    ("/Things?$expand=Nope", 400, "no navigation property"),
    ("/Things?$top=abc", 400, "non-negative integer"),
    ("/Things?$resultFormat=dataArray", 400, "dataArray"),
    ("/Things(999)", 404, "no Thing"),
    ("/Things('x')", 404, ""),
    ("/Gadgets", 404, "no entity set"),
    ("/Things(1)/Nope", 404, "no property"),
    ("/Things(1)/Datastreams(999)", 404, "no Datastream"),
]


def test_errors_have_the_odata_shape(client: TestClient, tree: dict[str, int]) -> None:
    for url, status, fragment in ERRORS:
        r = client.get(STA + url)
        assert r.status_code == status, url
        err = r.json()["error"]
        assert set(err) == {"code", "message"}
        assert fragment in err["message"], url


def test_write_errors(client: TestClient, tree: dict[str, int], key: dict[str, str]) -> None:
    r = client.post(f"{STA}/Things", json={"name": "x"}, headers=key)
    assert r.status_code == 400
    assert "description" in r.json()["error"]["message"]
    r = client.post(f"{STA}/Things", json={"name": "x", "description": "y", "colour": "red"}, headers=key)
    assert r.status_code == 400
    r = client.post(f"{STA}/Things", content=b"{not json", headers=key)
    assert r.status_code == 400
    r = client.post(
        f"{STA}/Datastreams",
        json={"name": "x", "description": "y", "unitOfMeasurement": {}, "observationType": MEASUREMENT},
        headers=key,
    )
    assert r.status_code == 400
    assert "needs a Thing" in r.json()["error"]["message"]
    r = client.post(f"{STA}/Observations", json={"result": 1, "Datastream": {"@iot.id": 999}}, headers=key)
    assert r.status_code == 400
    r = client.post(
        f"{STA}/Observations",
        json={"result": 1, "phenomenonTime": "yesterday", "Datastream": {"@iot.id": 1}},
        headers=key,
    )
    assert r.status_code == 400
    assert client.post(f"{STA}/Things(1)", json={}, headers=key).status_code == 405
    assert client.get(f"{STA}/Things?$count=true").json()["@iot.count"] == 2  # nothing half-written


def test_writes_need_an_ingest_key_or_an_operator(
    client: TestClient, tree: dict[str, int], sessions: sessionmaker[Session]
) -> None:
    body = {"name": "x", "description": "y"}
    r = client.post(f"{STA}/Things", json=body)
    assert r.status_code == 401
    assert set(r.json()["error"]) == {"code", "message"}
    assert client.post(f"{STA}/Things", json=body, headers={"X-API-Key": "wrong"}).status_code == 401
    with sessions() as s:
        _, reader = create_api_key(s, name="reader", scopes=["read"])
        _, bound = create_api_key(s, name="logger", scopes=["ingest"], thing_id=tree["Bến Lức"])
        s.commit()
    assert client.post(f"{STA}/Things", json=body, headers={"X-API-Key": reader}).status_code == 403
    # A key bound to one Thing may add Observations to that Thing only, and create nothing else.
    assert client.post(f"{STA}/Things", json=body, headers={"X-API-Key": bound}).status_code == 403
    obs = {"phenomenonTime": "2026-03-05T00:00:00Z", "result": 1}
    assert (
        client.post(f"{STA}/Datastreams(1)/Observations", json=obs, headers={"X-API-Key": bound}).status_code
        == 403
    )
    assert (
        client.post(f"{STA}/Datastreams(2)/Observations", json=obs, headers={"X-API-Key": bound}).status_code
        == 201
    )
    assert client.delete(f"{STA}/Things(1)").status_code == 401
    assert client.get(f"{STA}/Things(1)").status_code == 200


def test_expanding_to_one_properties_of_a_page_is_not_n_plus_one(
    client: TestClient, tree: dict[str, int], engine: Any, sessions: sessionmaker[Session]
) -> None:
    """Rendering a page runs the same number of queries for 2 or 5 rows (counted on the test's own engine,
    since the app's background workers share the app's engine)."""
    from sqlalchemy import event

    from cityops.sensing.odata import parse_options
    from cityops.sensing.sta_entities import ENTITIES
    from cityops.sensing.sta_expand import prefetch
    from cityops.sensing.sta_query import Context, page
    from cityops.sensing.sta_render import render

    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    def run(
        top: int, set_name: str = "Observation", expand: str = "Datastream($expand=Thing),FeatureOfInterest"
    ) -> list[dict[str, Any]]:
        et = ENTITIES[set_name]
        opts = parse_options({"$top": str(top), "$expand": expand})
        with sessions() as s:
            ctx = Context(s, "http://x/sta/v1.1")
            stmt = select(et.model)
            rows, _ = page(ctx, et, stmt, et.model, opts)
            statements.clear()
            prefetch(ctx, et, rows, opts.expand)
            return [render(ctx, et, r, opts) for r in rows]

    event.listen(engine, "before_cursor_execute", count)
    try:
        few = run(2)
        n_few = len(statements)
        many = run(5)
        n_many = len(statements)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(few) == 2
    assert len(many) == 5
    assert many[4]["Datastream"]["Thing"]["name"] == "Bến Lức"
    assert n_many == n_few == 3  # Datastreams, their Things, FeaturesOfInterest
    # To-many: each Thing's Datastreams and each Datastream's latest Observation, one query per level.
    deep = "Datastreams($expand=Observations($orderby=phenomenonTime desc;$top=1;$count=true))"
    event.listen(engine, "before_cursor_execute", count)
    try:
        one = run(1, "Thing", deep)
        n_one = len(statements)
        two = run(2, "Thing", deep)
        n_two = len(statements)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert n_one == n_two == 3  # Datastreams, their Observations, the Observation counts
    assert [o["result"] for o in two[0]["Datastreams"][0]["Observations"]] == [2]
    assert two[0]["Datastreams"][0]["Observations@iot.count"] == 3
    assert two[1]["Datastreams"][0]["Observations"][0]["result"] == 0.4
    assert len(one) == 1


def test_create_at_path_for_mqtt_ingest(tree: dict[str, int], sessions: sessionmaker[Session]) -> None:
    """The shared create path (MQTT publishes to ``v1.1/Datastreams(1)/Observations``) applies the policy."""
    from cityops.errors import ApiError
    from cityops.identity.policy import Principal
    from cityops.sensing.sta_api import create_at_path, writer_for

    with sessions() as s:
        row, _ = create_api_key(s, name="logger", scopes=["ingest"], thing_id=tree["Tân An"])
        s.commit()
        device = Principal.for_api_key(row)
        et, obs = create_at_path(
            s,
            "Datastreams(1)/Observations",
            {"phenomenonTime": "2026-05-01T00:00:00Z", "result": 3},
            writer_for(s, device),
        )
        s.commit()
        assert et.name == "Observation"
        assert obs.datastream_id == 1
        with pytest.raises(ApiError) as denied:
            create_at_path(s, "Datastreams(2)/Observations", {"result": 3}, writer_for(s, device))
        assert denied.value.status == 403
        s.rollback()
        with pytest.raises(ApiError) as missing:
            create_at_path(s, "Datastreams(99)/Observations", {"result": 3}, writer_for(s, device))
        assert missing.value.status == 404


def test_locations_history_and_relinking(
    client: TestClient, tree: dict[str, int], key: dict[str, str]
) -> None:
    tid = tree["Tân An"]
    # A Location created with a Thing link records a HistoricalLocation of that Thing.
    loc = {
        "name": "pontoon",
        "description": "floating",
        "encodingType": "application/geo+json",
        "location": {
            "type": "Polygon",
            "coordinates": [[[106.0, 10.0], [106.2, 10.0], [106.2, 10.2], [106.0, 10.2], [106.0, 10.0]]],
        },
        "Things": [{"@iot.id": tid}],
    }
    r = client.post(f"{STA}/Locations", json=loc, headers=key)
    assert r.status_code == 201, r.text
    lid = r.json()["@iot.id"]
    assert {t["@iot.id"] for t in values(client, f"/Locations({lid})/Things")} == {tid}
    # Polygon locations are queried by their centroid.
    near = values(client, "/Locations?$filter=geo.distance(location, geography'POINT(106.1 10.1)') lt 0.001")
    assert [x["name"] for x in near] == ["pontoon"]
    # PATCH Thing Locations replaces the current Locations and records history.
    hl_before = len(values(client, f"/Things({tid})/HistoricalLocations"))
    r = client.patch(f"{STA}/Things({tid})", json={"Locations": [{"@iot.id": lid}]}, headers=key)
    assert r.status_code == 200, r.text
    assert [x["@iot.id"] for x in values(client, f"/Things({tid})/Locations")] == [lid]
    assert len(values(client, f"/Things({tid})/HistoricalLocations")) == hl_before + 1
    # Relink a Datastream to another Thing, then PATCH a Sensor.
    r = client.patch(f"{STA}/Datastreams(1)", json={"Thing": {"@iot.id": tree["Bến Lức"]}}, headers=key)
    assert r.status_code == 200
    assert get(client, "/Datastreams(1)/Thing")["name"] == "Bến Lức"
    assert client.patch(f"{STA}/Sensors(1)", json={"metadata": {"url": "x"}}, headers=key).status_code == 200
    assert get(client, "/Sensors(1)")["metadata"] == {"url": "x"}
    assert (
        client.patch(f"{STA}/Datastreams(1)", json={"Thing": {"@iot.id": 999}}, headers=key).status_code
        == 400
    )
    # Deleting a Location removes HistoricalLocations left without any Location.
    only_this = values(client, f"/Locations({lid})/HistoricalLocations")
    assert only_this
    assert client.delete(f"{STA}/Locations({lid})", headers=key).status_code == 200
    for hl in only_this:
        remaining = client.get(f"{STA}/HistoricalLocations({hl['@iot.id']})")
        if remaining.status_code == 200:
            assert values(client, f"/HistoricalLocations({hl['@iot.id']})/Locations")
    assert client.get(f"{STA}/Locations({lid})").status_code == 404
