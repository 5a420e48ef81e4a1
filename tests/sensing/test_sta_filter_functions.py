"""The string, date/time and math functions of OGC 18-088 Table 4, date-time/duration arithmetic and the
``in`` operator, each on both backends.

Three observations of one datastream (result: phenomenonTime, resultTime):
1: 2026-03-05T10:20:30.250Z, 30 minutes later; 2: 2026-03-06T23:59:59Z, 2 h 0 min 1 s later;
3: 2099-12-31T18:00:00Z (after now() for this century), no resultTime; the Datastream is a forecast, the
only kind that may hold future times.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from tests.sensing.sta_tree import station
from tests.sensing.test_sta_api import STA, get, tree, values  # noqa: F401  (fixtures)


@pytest.fixture
def timed(client: TestClient, key: dict[str, str]) -> int:
    """The id of a Datastream holding the three observations above."""
    body = station("Clock", 106.0, 10.0, [])
    # observation 3 lies in 2099: only a forecast Datastream may hold future times (ingest refuses them)
    body["Datastreams"][0]["properties"] = {"forecast": {"model": "test"}}
    r = client.post(f"{STA}/Things", json=body, headers=key)
    assert r.status_code == 201, r.text
    ds = values(client, f"/Things({r.json()['@iot.id']})/Datastreams")[0]["@iot.id"]
    for result, phenomenon, result_time in [
        (1, "2026-03-05T10:20:30.250Z", "2026-03-05T10:50:30.250Z"),
        (2, "2026-03-06T23:59:59Z", "2026-03-07T02:00:00Z"),
        (3, "2099-12-31T18:00:00Z", None),
    ]:
        body = {"result": result, "phenomenonTime": phenomenon, "resultTime": result_time}
        assert client.post(f"{STA}/Datastreams({ds})/Observations", json=body, headers=key).status_code == 201
    return int(ds)


TIME_FILTERS = [
    ("year(phenomenonTime) eq 2026", [1, 2]),
    ("month(phenomenonTime) eq 12", [3]),
    ("day(phenomenonTime) eq 6", [2]),
    ("hour(phenomenonTime) eq 23", [2]),
    ("minute(phenomenonTime) eq 20", [1]),
    ("second(phenomenonTime) eq 59", [2]),
    ("fractionalseconds(phenomenonTime) eq 0.25", [1]),
    ("fractionalseconds(phenomenonTime) eq 0", [2, 3]),
    ("date(phenomenonTime) eq 2026-03-06", [2]),
    ("date(resultTime) eq 2026-03-07", [2]),
    ("date(phenomenonTime) ne date(resultTime)", [2]),  # 3 has no resultTime: null, not selected
    ("time(phenomenonTime) eq 23:59:59", [2]),
    ("time(phenomenonTime) lt 12:00:00", [1]),
    ("time(phenomenonTime) eq 10:20:30.25", [1]),
    ("time(phenomenonTime) gt 10:20:30", [1, 2, 3]),
    ("totaloffsetminutes(phenomenonTime) eq 0", [1, 2, 3]),
    ("totaloffsetminutes(2026-03-01T07:00:00+07:00) eq 420", [1, 2, 3]),
    ("totaloffsetminutes(2026-03-01T07:00:00-05:30) eq -330", [1, 2, 3]),
    ("phenomenonTime lt now()", [1, 2]),
    ("phenomenonTime gt now()", [3]),
    ("phenomenonTime gt mindatetime() and phenomenonTime lt maxdatetime()", [1, 2, 3]),
    ("resultTime eq mindatetime()", []),
    # date-time sub date-time is a duration; durations compare with durations
    ("resultTime sub phenomenonTime eq duration'PT30M'", [1]),
    ("resultTime sub phenomenonTime gt duration'PT1H'", [2]),
    ("resultTime sub phenomenonTime eq duration'PT2H0M1S'", [2]),
    ("-(resultTime sub phenomenonTime) lt duration'-PT1H'", [2]),
    ("phenomenonTime sub 2026-03-05T00:00:00Z lt duration'P1D'", [1]),
    # date-time ± duration
    ("phenomenonTime add duration'PT30M' eq resultTime", [1]),
    ("resultTime sub duration'PT30M' eq phenomenonTime", [1]),
    ("duration'PT30M' add phenomenonTime eq resultTime", [1]),
    ("phenomenonTime add duration'P1D' gt 2026-03-07T00:00:00Z", [2, 3]),
    ("phenomenonTime add (resultTime sub phenomenonTime) eq resultTime", [1, 2]),
    # duration ± duration
    ("resultTime sub phenomenonTime sub duration'PT2H' eq duration'PT1S'", [2]),
    ("(resultTime sub phenomenonTime) add duration'PT1H30M' eq duration'PT2H'", [1]),
    # literals only
    ("2026-03-08T00:00:00Z sub 2026-03-07T00:00:00Z eq duration'P1D'", [1, 2, 3]),
    ("2026-03-07T00:00:00Z add duration'PT12H' eq 2026-03-07T12:00:00Z", [1, 2, 3]),
    ("duration'PT1H' add duration'PT30M' eq duration'PT90M'", [1, 2, 3]),
    ("phenomenonTime in (2026-03-06T23:59:59Z, 2099-12-31T18:00:00Z)", [2, 3]),
]


def test_date_time_functions_and_arithmetic(client: TestClient, timed: int) -> None:
    for flt, expected in TIME_FILTERS:
        got = values(client, f"/Datastreams({timed})/Observations?$filter={quote(flt)}&$orderby=result")
        assert [o["result"] for o in got] == expected, flt


THING_FUNCTIONS = [
    ("substringof('An', name)", ["Tân An"]),
    ("contains(name, 'Lức')", ["Bến Lức"]),
    ("startswith(name, 'Bến')", ["Bến Lức"]),
    ("endswith(name, 'An')", ["Tân An"]),
    ("length(name) eq 6", ["Tân An"]),  # characters, not bytes
    ("indexof(name, 'An') eq 5", ["Tân An"]),  # 1-based (OGC 18-088 Table 23)
    ("indexof(name, 'Tân') eq 1", ["Tân An"]),
    ("indexof(name, 'zz') eq 0", ["Bến Lức", "Tân An"]),
    ("substring(name, 4) eq 'An'", ["Tân An"]),
    ("substring(name, 0, 3) eq 'Bến'", ["Bến Lức"]),
    ("tolower(name) eq 'bến lức'", ["Bến Lức"]),
    ("toupper(name) eq 'TÂN AN'", ["Tân An"]),
    ("trim(concat('  ', name)) eq 'Tân An'", ["Tân An"]),
    ("concat(concat(name, ' / '), description) eq 'Bến Lức / trạm quan trắc Bến Lức'", ["Bến Lức"]),
    ("name in ('Tân An', 'Cần Giuộc')", ["Tân An"]),
    ("not (name in ('Tân An'))", ["Bến Lức"]),
    ("Datastreams/Observations/result in (4.5, 9)", ["Tân An"]),
    ("properties/river in ('Vàm Cỏ Tây')", ["Bến Lức", "Tân An"]),
]

OBSERVATION_MATH = [
    ("round(result) eq 5", [4.5]),  # half away from zero on both backends
    ("round(result) eq 0", [0.2, 0.4]),
    ("floor(result) eq 4", [4.5]),
    ("ceiling(result) eq 1", [0.2, 0.4, 1.0]),
    ("result add 1 eq 5.5", [4.5]),
    ("result sub 1 eq 1", [2.0]),
    ("result mul 2 eq 9", [4.5]),
    ("result div 2 eq 0.1", [0.2]),
    ("result mod 2 eq 0.5", [4.5]),
    ("(0 sub result) mod 2 eq -0.5", [4.5]),  # the sign of the dividend
    ("result mod 0 eq 0 or result div 0 eq 0", []),  # division by zero is null, never true
    ("not (result mod 0 eq 0)", []),
    ("-result lt -4", [4.5]),
    ("result in (0.2, 4.5)", [0.2, 4.5]),
    ("id mod 2 eq 0 and id in (1, 2, 3, 4)", [0.2, 4.5]),  # ids 1-3 at Tân An, 4-5 at Bến Lức
]


def test_string_and_math_functions_and_in(client: TestClient, tree: dict[str, int]) -> None:  # noqa: F811
    for flt, expected in THING_FUNCTIONS:
        got = values(client, f"/Things?$filter={quote(flt)}&$orderby=name")
        assert [t["name"] for t in got] == expected, flt
    for flt, numbers in OBSERVATION_MATH:
        got = values(client, f"/Observations?$filter={quote(flt)}&$orderby=result")
        assert [o["result"] for o in got] == numbers, flt
    ids = sorted(tree.values())
    got = values(client, f"/Things?$filter={quote(f'id in ({ids[0]}, 999)')}")
    assert [t["@iot.id"] for t in got] == [ids[0]]
    flt = quote("Datastream/Thing/name in ('Bến Lức')")
    count = get(client, f"/Observations?$filter={flt}&$count=true")
    assert count["@iot.count"] == 2


@pytest.mark.parametrize(
    ("flt", "message"),
    [
        ("phenomenonTime mul 2 eq phenomenonTime", "not defined"),
        ("phenomenonTime sub 5 eq phenomenonTime", "not defined"),
        ("resultTime sub phenomenonTime gt 5", "duration can only be compared with a duration"),
        ("duration'PT1H' sub phenomenonTime eq phenomenonTime", "cannot subtract a date-time"),
        ("result in 1", "parenthesised list"),
        ("result in ()", "unexpected"),
        ("result in (result)", "must hold literals"),
        ("totaloffsetminutes('x') eq 0", "expected a date-time"),
    ],
)
def test_function_errors_are_400(client: TestClient, timed: int, flt: str, message: str) -> None:
    body = get(client, f"/Observations?$filter={quote(flt)}", status=400)
    assert message in body["error"]["message"]
