"""$expand of many-to-many navigation properties (link tables) and nested ``@iot.nextLink`` at every level.

SQLAlchemy's "cartesian product" warning is an error here: it flagged a join that relied on a correlated
subquery instead of the link table. Each test gets a new app and engine, so statements are compiled (and
linted) afresh rather than served from an earlier test's compiled cache.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient

from tests.sensing.sta_tree import station, wind
from tests.sensing.test_sta_api import STA, get, values

pytestmark = pytest.mark.filterwarnings("error::sqlalchemy.exc.SAWarning")


def _site(name: str, lon: float, lat: float) -> dict[str, Any]:
    return {
        "name": name,
        "description": "d",
        "encodingType": "application/geo+json",
        "location": {"type": "Point", "coordinates": [lon, lat]},
    }


@pytest.fixture
def stations(client: TestClient, key: dict[str, str]) -> dict[str, int]:
    """Tân An at two sites with two Datastreams (3 and 2 observations); Bến Lức at one site, one Datastream."""
    tan_an = station("Tân An", 106.41, 10.54, [1.0, 4.5, 2.0])
    tan_an["Locations"].append(_site("Tân An pier", 106.42, 10.55))
    second = station("Tân An", 106.41, 10.54, [7.0, 8.0], start_hour=5)["Datastreams"][0]
    second["name"] = "Tân An salinity 2 m"
    tan_an["Datastreams"].append(second)
    ids = {}
    for name, body in [("Tân An", tan_an), ("Bến Lức", station("Bến Lức", 106.49, 10.64, [0.2, 0.4]))]:
        r = client.post(f"{STA}/Things", json=body, headers=key)
        assert r.status_code == 201, r.text
        ids[name] = r.json()["@iot.id"]
    return ids


def test_expand_many_to_many_both_ways(client: TestClient, stations: dict[str, int]) -> None:
    things = values(client, "/Things?$orderby=name&$expand=Locations($orderby=name;$select=name)")
    assert [(t["name"], [loc["name"] for loc in t["Locations"]]) for t in things] == [
        ("Bến Lức", ["Bến Lức site"]),
        ("Tân An", ["Tân An pier", "Tân An site"]),
    ]
    locations = values(client, "/Locations?$orderby=name&$expand=Things($select=name)")
    assert [(loc["name"], [t["name"] for t in loc["Things"]]) for loc in locations] == [
        ("Bến Lức site", ["Bến Lức"]),
        ("Tân An pier", ["Tân An"]),
        ("Tân An site", ["Tân An"]),
    ]
    # Location -> HistoricalLocations -> Thing and HistoricalLocation -> Locations (the other link table)
    locations = values(
        client, "/Locations?$orderby=name&$expand=HistoricalLocations($expand=Thing($select=name))"
    )
    assert [[h["Thing"]["name"] for h in loc["HistoricalLocations"]] for loc in locations] == [
        ["Bến Lức"],
        ["Tân An"],
        ["Tân An"],
    ]
    hls = values(
        client,
        f"/Things({stations['Tân An']})/HistoricalLocations?$expand=Locations($orderby=name;$count=true)",
    )
    assert [loc["name"] for loc in hls[0]["Locations"]] == ["Tân An pier", "Tân An site"]
    assert hls[0]["Locations@iot.count"] == 2
    # a filter inside a many-to-many expand, and the expand of a single entity
    thing = get(client, f"/Things({stations['Tân An']})?$expand=Locations($filter=name eq 'Tân An pier')")
    assert [loc["name"] for loc in thing["Locations"]] == ["Tân An pier"]


def test_expand_multidatastream_observed_properties(
    client: TestClient,
    stations: dict[str, int],
    key: dict[str, str],
) -> None:
    mds = wind(
        stations["Tân An"],
        Sensor={"@iot.id": 1},
        ObservedProperties=[
            {"name": "Wind speed", "definition": "x", "description": "speed"},
            {"name": "Wind direction", "definition": "y", "description": "direction"},
        ],
    )
    assert client.post(f"{STA}/MultiDatastreams", json=mds, headers=key).status_code == 201
    got = values(client, "/MultiDatastreams?$expand=ObservedProperties($orderby=name;$top=1;$count=true)")
    assert [p["name"] for p in got[0]["ObservedProperties"]] == ["Wind direction"]
    assert got[0]["ObservedProperties@iot.count"] == 2
    nxt = client.get(got[0]["ObservedProperties@iot.nextLink"]).json()
    assert [p["name"] for p in nxt["value"]] == ["Wind speed"]
    props = values(client, "/ObservedProperties?$filter=startswith(name, 'Wind')&$expand=MultiDatastreams")
    assert [[m["name"] for m in p["MultiDatastreams"]] for p in props] == [["weather"], ["weather"]]


def _names(entities: list[dict[str, Any]], field: str = "name") -> list[Any]:
    return [e[field] for e in entities]


def test_next_links_at_every_level(client: TestClient, stations: dict[str, int]) -> None:
    """18-088 §9.3.3.5: a collection cut by $top carries a nextLink, at the top and in each expanded level."""
    url = (
        f"{STA}/Things?$orderby=name desc&$top=1&$count=true"
        "&$expand=Datastreams($orderby=name;$top=1;$count=true;"
        "$expand=Observations($orderby=result desc;$top=2;$count=true;$select=result))"
    )
    body = client.get(url).json()
    assert body["@iot.count"] == 2
    (thing,) = body["value"]
    assert thing["name"] == "Tân An"
    assert thing["Datastreams@iot.count"] == 2
    (ds,) = thing["Datastreams"]
    assert ds["name"] == "Tân An salinity"
    assert ds["Observations@iot.count"] == 3
    assert _names(ds["Observations"], "result") == [4.5, 2.0]
    # level 3: the rest of this Datastream's Observations
    obs_next = ds["Observations@iot.nextLink"]
    assert obs_next.startswith(f"http://testserver{STA}/Datastreams({ds['@iot.id']})/Observations?")
    page = client.get(obs_next).json()
    assert _names(page["value"], "result") == [1.0]
    assert page["@iot.count"] == 3
    assert "@iot.nextLink" not in page
    # level 2: the next Datastream of this Thing, with its own Observations expanded and cut the same way
    ds_next = thing["Datastreams@iot.nextLink"]
    assert ds_next.startswith(f"http://testserver{STA}/Things({thing['@iot.id']})/Datastreams?")
    assert "$expand=Observations(" in unquote(ds_next)
    page = client.get(ds_next).json()
    assert _names(page["value"]) == ["Tân An salinity 2 m"]
    assert "@iot.nextLink" not in page
    second = page["value"][0]
    assert _names(second["Observations"], "result") == [8.0, 7.0]
    assert second["Observations@iot.count"] == 2
    assert "Observations@iot.nextLink" not in second
    # level 1: the next Thing, expanded the same way; its single Datastream has two Observations left over
    page = client.get(body["@iot.nextLink"]).json()
    assert "@iot.nextLink" not in page
    (thing,) = page["value"]
    assert thing["name"] == "Bến Lức"
    assert "Datastreams@iot.nextLink" not in thing
    (ds,) = thing["Datastreams"]
    assert _names(ds["Observations"], "result") == [0.4, 0.2]
    assert "Observations@iot.nextLink" not in ds


def test_next_link_of_a_single_entity_expand(client: TestClient, stations: dict[str, int]) -> None:
    tid = stations["Tân An"]
    thing = get(
        client, f"/Things({tid})?$expand=Locations($orderby=name;$top=1),Datastreams($orderby=name;$top=1)"
    )
    assert _names(thing["Locations"]) == ["Tân An pier"]
    assert _names(client.get(thing["Locations@iot.nextLink"]).json()["value"]) == ["Tân An site"]
    assert _names(client.get(thing["Datastreams@iot.nextLink"]).json()["value"]) == ["Tân An salinity 2 m"]
    # four levels deep: Location -> Things -> Datastreams -> Observations
    locations = values(
        client,
        "/Locations?$filter=name eq 'Tân An site'&$expand=Things($expand=Datastreams($orderby=name;$top=1;"
        "$expand=Observations($orderby=phenomenonTime;$top=1)))",
    )
    ds = locations[0]["Things"][0]["Datastreams"][0]
    assert "Datastreams@iot.nextLink" in locations[0]["Things"][0]
    assert _names(ds["Observations"], "result") == [1.0]
    page = client.get(ds["Observations@iot.nextLink"]).json()
    assert _names(page["value"], "result") == [4.5]
    assert _names(client.get(page["@iot.nextLink"]).json()["value"], "result") == [2.0]
