"""The temporal API over a station's observations: lastN (newest N, ascending), timerel, aggregation
from the roll-ups, temporalValues, the query form with its count, and bad parameters as ProblemDetails."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from cityops.places.models import Place
from tests.kit.factories import MOMENT, Factory

T = "/ngsi-ld/v1/temporal/entities"
VALUES = [
    float(v) for v in range(1, 16)
]  # every 5 minutes from 02:00: 12 in the 02h bucket, 3 in the 03h one


def _station(factory: Factory, sessions: sessionmaker[Session]) -> str:
    ds = factory.station("salinity")
    factory.observations(ds, VALUES)
    place = factory.place("station", name="Trạm Bến Lức", attributes={"kind": "water"})
    with sessions() as s:
        row = s.get(Place, place.id)
        assert row is not None
        row.thing_id = ds.thing_id
        s.commit()
    return f"urn:ngsi-ld:WaterQualityObserved:cityops:place:{place.id}"


def test_last_n_is_the_newest_in_ascending_order(
    client: TestClient, factory: Factory, sessions: sessionmaker[Session]
) -> None:
    eid = _station(factory, sessions)
    got = client.get(f"{T}/{eid}", params={"attrs": "salinity", "lastN": "3"})
    assert got.status_code == 200, got.text
    series = got.json()["salinity"]
    assert [i["value"] for i in series] == [13.0, 14.0, 15.0]
    times = [i["observedAt"] for i in series]
    assert times == sorted(times)
    assert times[-1] == "2026-03-02T03:10:00Z"


def test_timerel_windows(client: TestClient, factory: Factory, sessions: sessionmaker[Session]) -> None:
    eid = _station(factory, sessions)
    between = client.get(
        f"{T}/{eid}",
        params={"timerel": "between", "timeAt": "2026-03-02T02:10:00Z", "endTimeAt": "2026-03-02T02:25:00Z"},
    ).json()["salinity"]
    assert [i["value"] for i in between] == [3.0, 4.0, 5.0]
    before = client.get(
        f"{T}/{eid}",
        params={"timerel": "before", "timeAt": "2026-03-02T02:10:00Z", "options": "temporalValues"},
    )
    assert before.json()["salinity"]["values"] == [
        [1.0, "2026-03-02T02:00:00Z"],
        [2.0, "2026-03-02T02:05:00Z"],
    ]
    after = client.get(f"{T}/{eid}", params={"timerel": "after", "timeAt": "2026-03-02T03:05:00Z"}).json()[
        "salinity"
    ]
    assert [i["value"] for i in after] == [14.0, 15.0]


def test_aggregation_reads_the_roll_ups(
    client: TestClient, factory: Factory, sessions: sessionmaker[Session]
) -> None:
    eid = _station(factory, sessions)
    got = client.get(
        f"{T}/{eid}", params={"aggrMethods": "totalCount,sum,avg,min,max", "aggrPeriodDuration": "PT1H"}
    )
    assert got.status_code == 200, got.text
    sal = got.json()["salinity"]
    first, second = sum(VALUES[:12]), sum(VALUES[12:])
    assert sal["totalCount"] == [
        [12, "2026-03-02T02:00:00Z", "2026-03-02T03:00:00Z"],
        [3, "2026-03-02T03:00:00Z", "2026-03-02T04:00:00Z"],
    ]
    assert [v[0] for v in sal["sum"]] == [first, second]
    assert [v[0] for v in sal["avg"]] == [first / 12, second / 3]
    assert [v[0] for v in sal["min"]] == [1.0, 13.0]
    assert [v[0] for v in sal["max"]] == [12.0, 15.0]
    day = client.get(f"{T}/{eid}", params={"aggrMethods": "totalCount", "aggrPeriodDuration": "P1D"}).json()[
        "salinity"
    ]
    assert day["totalCount"] == [[15, "2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z"]]


def test_query_form_counts_and_pages(
    client: TestClient, factory: Factory, sessions: sessionmaker[Session]
) -> None:
    ids = sorted(_station(factory, sessions) for _ in range(3))
    got = client.get(
        T, params={"type": "WaterQualityObserved", "lastN": "1", "limit": "2", "offset": "1", "count": "true"}
    )
    assert got.status_code == 200, got.text
    assert got.headers["NGSILD-Results-Count"] == "3"
    assert [e["id"] for e in got.json()] == ids[1:]
    assert all(e["salinity"][0]["value"] == 15.0 for e in got.json())


def test_bad_temporal_parameters(
    client: TestClient, factory: Factory, sessions: sessionmaker[Session]
) -> None:
    eid = _station(factory, sessions)
    for params in (
        {"timerel": "during", "timeAt": "2026-03-02T02:00:00Z"},
        {"timerel": "before"},
        {"timerel": "between", "timeAt": "2026-03-02T02:00:00Z"},
        {"timerel": "after", "timeAt": "yesterday"},
        {"lastN": "0"},
        {"aggrMethods": "median"},
        {"aggrMethods": "avg", "aggrPeriodDuration": "PT7M"},
    ):
        resp = client.get(f"{T}/{eid}", params=params)
        assert resp.status_code == 400, params
        assert resp.headers["content-type"].startswith("application/problem+json")
    assert (
        client.get(T, params={"type": "WaterQualityObserved"}).status_code == 400
    )  # neither timerel nor lastN
    assert client.get(f"{T}/urn:ngsi-ld:Nothing:here").status_code == 404
    assert datetime(2026, 3, 2, 2, 0, tzinfo=UTC) == MOMENT  # the times above are counted from it
