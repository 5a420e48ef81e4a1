"""Spatial $filter functions of OGC 18-088 (Table 5) on every geometry type, on both backends, without PostGIS.

Eight Locations with plain coordinates, so each expected answer can be worked out by hand:
A POINT(1 1); B LINESTRING(0 0, 2 2); C the square (0 0)-(2 2); D the square (2 0)-(4 2), sharing C's
edge x=2; E MULTIPOINT((5 5), (6 6)); F two unit vertical lines at x=10 and x=11; G two unit squares at
x=20..21 and x=22..23; H POINT(3 3) given as a GeoJSON Feature.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from tests.sensing.sta_tree import MEASUREMENT
from tests.sensing.test_sta_api import STA, get, tree, values  # noqa: F401  (fixtures)

SHAPES: dict[str, dict[str, Any]] = {
    "A": {"type": "Point", "coordinates": [1, 1]},
    "B": {"type": "LineString", "coordinates": [[0, 0], [2, 2]]},
    "C": {"type": "Polygon", "coordinates": [[[0, 0], [2, 0], [2, 2], [0, 2], [0, 0]]]},
    "D": {"type": "Polygon", "coordinates": [[[2, 0], [4, 0], [4, 2], [2, 2], [2, 0]]]},
    "E": {"type": "MultiPoint", "coordinates": [[5, 5], [6, 6]]},
    "F": {"type": "MultiLineString", "coordinates": [[[10, 0], [10, 1]], [[11, 0], [11, 1]]]},
    "G": {
        "type": "MultiPolygon",
        "coordinates": [
            [[[20, 0], [21, 0], [21, 1], [20, 1], [20, 0]]],
            [[[22, 0], [23, 0], [23, 1], [22, 1], [22, 0]]],
        ],
    },
    "H": {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [3, 3]}},
}


@pytest.fixture
def shapes(client: TestClient, key: dict[str, str]) -> None:
    for name, geometry in SHAPES.items():
        body = {
            "name": name,
            "description": "d",
            "encodingType": "application/geo+json",
            "location": geometry,
        }
        r = client.post(f"{STA}/Locations", json=body, headers=key)
        assert r.status_code == 201, r.text


def names(client: TestClient, flt: str, extra: str = "") -> list[str]:
    return [loc["name"] for loc in values(client, f"/Locations?$filter={quote(flt)}&$orderby=name{extra}")]


SQUARE_C = "geography'POLYGON((0 0, 2 0, 2 2, 0 2, 0 0))'"

PREDICATES = [
    # st_touches: C shares the edge x=2, B's end point (2 2) is D's corner; D itself shares its interior.
    ("st_touches(location, geography'POLYGON((2 0, 4 0, 4 2, 2 2, 2 0))')", ["B", "C"]),
    # st_overlaps: same dimension, interiors partly shared; H sits on the literal's corner.
    ("st_overlaps(location, geography'POLYGON((1 1, 3 1, 3 3, 1 3, 1 1))')", ["C", "D"]),
    # st_crosses: the line y=1 crosses line B at (1 1) and runs through and out of C and D; A lies on it.
    ("st_crosses(location, geography'LINESTRING(-1 1, 5 1)')", ["B", "C", "D"]),
    # st_within: H (3 3) is on the literal's boundary, not inside.
    ("st_within(location, geography'POLYGON((-1 -1, 3 -1, 3 3, -1 3, -1 -1))')", ["A", "B", "C"]),
    ("st_contains(location, geography'POINT(1 1)')", ["A", "B", "C"]),
    ("st_intersects(location, geography'POINT(2 1)')", ["C", "D"]),
    ("geo.intersects(location, geography'POINT(2 1)')", ["C", "D"]),
    ("st_disjoint(location, geography'POLYGON((0 0, 4 0, 4 4, 0 4, 0 0))')", ["E", "F", "G"]),
    ("st_equals(location, geography'MULTIPOINT((6 6), (5 5))')", ["E"]),
    ("st_equals(location, geography'POINT(3 3)')", ["H"]),
    # literal first: the polygon contains the entity
    ("st_contains(geography'POLYGON((-1 -1, 3 -1, 3 3, -1 3, -1 -1))', location)", ["A", "B", "C"]),
    ("st_within(geography'POINT(21 0.5)', location)", []),  # on G's boundary only
    ("st_within(geography'POINT(20.5 0.5)', location)", ["G"]),
    ("st_intersects(location, geography'LINESTRING(10 0.5, 11 0.5)')", ["F"]),
    # st_relate with the DE-9IM pattern of "within"
    (f"st_relate(location, {SQUARE_C}, 'T*F**F***')", ["A", "B", "C"]),
    # ... and of "disjoint" (no interior/boundary intersection): no bounding-box shortcut may apply
    (f"st_relate(location, {SQUARE_C}, 'FF*FF****')", ["E", "F", "G", "H"]),
    # geo.length: lines only (points and polygons 0); F is two lines of length 1
    ("geo.length(location) gt 2", ["B"]),
    ("geo.length(location) ge 2", ["B", "F"]),
    ("2 le geo.length(location)", ["B", "F"]),
    # geo.distance in degrees (the coordinates' units); B and C reach the origin
    ("geo.distance(location, geography'POINT(0 0)') lt 1", ["B", "C"]),
    ("geo.distance(location, geography'POINT(0 0)') le 2", ["A", "B", "C", "D"]),
    ("geo.distance(location, geography'POINT(0 0)') eq 2", ["D"]),
    ("geo.distance(location, geography'POINT(0 0)') gt 10", ["G"]),  # F's nearest point (10 0) is at 10
    ("geo.distance(location, geography'POINT(0 0)') ge 10", ["F", "G"]),
    # inside arithmetic: A is sqrt(2) = 1.414 from the origin
    ("geo.distance(location, geography'POINT(0 0)') mul 10 lt 15", ["A", "B", "C"]),
    ("geo.distance(location, geography'POINT(0 0)') sub geo.length(location) lt 0.1", ["B", "C"]),
    # composition with not/and/or
    (
        "not st_within(location, geography'POLYGON((-1 -1, 3 -1, 3 3, -1 3, -1 -1))')",
        ["D", "E", "F", "G", "H"],
    ),
    (f"st_intersects(location, {SQUARE_C}) and not (name eq 'A' or name eq 'B')", ["C", "D"]),
    (f"st_touches(location, {SQUARE_C}) or geo.length(location) eq 2", ["D", "F"]),
    # two literals: a constant
    ("st_within(geography'POINT(1 1)', geography'POLYGON((0 0, 2 0, 2 2, 0 2, 0 0))')", list("ABCDEFGH")),
    ("geo.distance(geography'POINT(0 0)', geography'POINT(3 4)') eq 5", list("ABCDEFGH")),
    ("geo.length(geography'LINESTRING(0 0, 0 1)') gt 1", []),
]


def test_spatial_predicates_on_every_geometry_type(client: TestClient, shapes: None) -> None:
    for flt, expected in PREDICATES:
        assert names(client, flt) == expected, flt


def test_spatial_filters_count_and_page(client: TestClient, shapes: None) -> None:
    flt = quote("not st_within(location, geography'POLYGON((-1 -1, 3 -1, 3 3, -1 3, -1 -1))')")
    body = get(client, f"/Locations?$filter={flt}&$orderby=name&$count=true&$top=2")
    assert body["@iot.count"] == 5
    assert [v["name"] for v in body["value"]] == ["D", "E"]
    nxt = client.get(body["@iot.nextLink"]).json()
    assert [v["name"] for v in nxt["value"]] == ["F", "G"]
    assert nxt["@iot.count"] == 5


def test_spatial_filter_inside_expand(client: TestClient, tree: dict[str, int]) -> None:  # noqa: F811
    tan_an = "geography'POLYGON((106.4 10.5, 106.45 10.5, 106.45 10.6, 106.4 10.6, 106.4 10.5))'"
    expand = quote(
        f"Locations($filter=st_within(location, {tan_an})),Datastreams($expand=Observations($filter=st_disjoint(FeatureOfInterest/feature, {tan_an});$count=true))"
    )
    things = values(client, f"/Things?$orderby=name&$expand={expand}")
    assert [len(t["Locations"]) for t in things] == [0, 1]  # Bến Lức, Tân An
    assert [t["Datastreams"][0]["Observations@iot.count"] for t in things] == [2, 0]


def test_order_by_distance(client: TestClient, shapes: None) -> None:
    order = quote("geo.distance(location, geography'POINT(20.5 0.5)')")
    got = values(client, f"/Locations?$orderby={order},name&$select=name")
    assert [v["name"] for v in got] == ["G", "F", "E", "D", "H", "C", "B", "A"]
    got = values(client, f"/Locations?$orderby={order} desc&$select=name&$top=2")
    assert [v["name"] for v in got] == ["A", "B"]


def test_geometry_through_navigation(client: TestClient, tree: dict[str, int], key: dict[str, str]) -> None:  # noqa: F811
    """FeatureOfInterest/feature from Observations (to-one), Locations/location from Things (to-many)."""
    tan_an = "geography'POLYGON((106.4 10.5, 106.45 10.5, 106.45 10.6, 106.4 10.6, 106.4 10.5))'"
    flt = quote(f"st_within(FeatureOfInterest/feature, {tan_an})")
    body = get(client, f"/Observations?$filter={flt}&$orderby=phenomenonTime&$count=true")
    assert [o["result"] for o in body["value"]] == [1.0, 4.5, 2.0]
    assert body["@iot.count"] == 3
    flt = quote(f"not st_within(FeatureOfInterest/feature, {tan_an})")
    assert [o["result"] for o in values(client, f"/Observations?$filter={flt}&$orderby=result")] == [0.2, 0.4]
    flt = quote(f"st_within(Datastream/Thing/Locations/location, {tan_an})")
    assert len(values(client, f"/Observations?$filter={flt}")) == 3
    flt = quote("geo.distance(FeatureOfInterest/feature, geography'POINT(106.49 10.64)') lt 0.01")
    assert [o["result"] for o in values(client, f"/Observations?$filter={flt}&$orderby=result")] == [0.2, 0.4]
    flt = quote(f"st_disjoint(Locations/location, {tan_an})")
    assert [t["name"] for t in values(client, f"/Things?$filter={flt}")] == ["Bến Lức"]
    # Datastream/observedArea; a Datastream without observations has none: unknown, so neither a
    # predicate nor its negation selects it (OData: a function of null is null).
    r = client.post(
        f"{STA}/Datastreams",
        json={
            "name": "empty",
            "description": "d",
            "unitOfMeasurement": {"name": "g/L", "symbol": "g/L", "definition": "ucum:g/L"},
            "observationType": MEASUREMENT,
            "Thing": {"@iot.id": tree["Tân An"]},
            "Sensor": {"@iot.id": 1},
            "ObservedProperty": {"@iot.id": 1},
        },
        headers=key,
    )
    assert r.status_code == 201, r.text
    flt = quote(f"st_intersects(observedArea, {tan_an})")
    assert [d["name"] for d in values(client, f"/Datastreams?$filter={flt}")] == ["Tân An salinity"]
    flt = quote(f"not st_intersects(observedArea, {tan_an})")
    assert [d["name"] for d in values(client, f"/Datastreams?$filter={flt}")] == ["Bến Lức salinity"]
    assert get(client, "/Datastreams?$filter=observedArea/type eq 'Point'&$count=true")["@iot.count"] == 2


@pytest.mark.parametrize(
    ("flt", "message"),
    [
        ("st_within(location, location)", "not two entities"),
        ("st_within(location, name)", "entity geometry"),
        (f"st_relate(location, {SQUARE_C}, 'T*F')", "DE-9IM"),
        (f"st_relate(location, {SQUARE_C}, name)", "DE-9IM"),
        ("location eq geography'POINT(1 1)'", "only be used in geo"),
        ("location in (1, 2)", "only be used in geo"),
        ("st_within(location, geography'POLYGON((0 0, 2 2, 2 0, 0 2, 0 0))')", "Self-intersection"),
        ("st_intersects(location, geography'POINT EMPTY')", "empty"),
        ("geo.length(name) gt 1", "entity geometry"),
    ],
)
def test_spatial_errors_are_400(client: TestClient, shapes: None, flt: str, message: str) -> None:
    body = get(client, f"/Locations?$filter={quote(flt)}", status=400)
    assert message in body["error"]["message"]
