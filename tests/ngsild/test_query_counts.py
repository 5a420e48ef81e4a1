"""The entity query and the temporal query read in a fixed number of statements, however many places,
stations and generic entities there are (no N+1)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from cityops.places.models import Place
from tests.kit.factories import Factory
from tests.kit.queries import app_engine, count_queries

E = "/ngsi-ld/v1/entities"


def _seed(client: TestClient, factory: Factory, sessions: sessionmaker[Session], n: int) -> None:
    op = factory.headers("operator")
    for _ in range(n):
        ds = factory.station("salinity")
        factory.observations(ds, [1.0, 2.0])
        station = factory.place("station", attributes={"kind": "water"})
        with sessions() as s:
            row = s.get(Place, station.id)
            assert row is not None
            row.thing_id = ds.thing_id
            s.commit()
        factory.place("hospital", attributes={"beds": 10})
    for i in range(n):
        eid = f"urn:ngsi-ld:Vehicle:qc-{n}-{i}"
        assert (
            client.post(
                E, json={"id": eid, "type": "Vehicle", "speed": {"type": "Property", "value": i}}, headers=op
            ).status_code
            == 201
        )


def _count(client: TestClient, url: str, params: dict[str, str]) -> int:
    with count_queries(app_engine(client)) as q:
        resp = client.get(url, params=params)
    assert resp.status_code == 200, resp.text
    return q.count


def test_entity_query_statements_do_not_grow(
    client: TestClient, factory: Factory, sessions: sessionmaker[Session]
) -> None:
    params = {"type": "PointOfInterest,Vehicle,WaterQualityObserved", "limit": "1000"}
    _seed(client, factory, sessions, 1)
    one = _count(client, E, params)
    _seed(client, factory, sessions, 12)
    assert _count(client, E, params) == one
    assert one == 4  # place types, places, their datastreams, generic entities


def test_temporal_query_statements(
    client: TestClient, factory: Factory, sessions: sessionmaker[Session]
) -> None:
    """Generic entities: two statements for the page. A station costs 2 + 1 per attribute more (its thing,
    datastreams, then each series: a bounded page of at most 100 entities, each one indexed read)."""
    _seed(client, factory, sessions, 2)
    assert (
        _count(client, "/ngsi-ld/v1/temporal/entities", {"type": "Vehicle", "lastN": "1", "limit": "100"})
        == 2
    )
    stations = {"type": "WaterQualityObserved", "lastN": "1", "limit": "100"}
    assert _count(client, "/ngsi-ld/v1/temporal/entities", stations) == 4 + 2 * 3
