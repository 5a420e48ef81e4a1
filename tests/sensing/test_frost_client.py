"""frost-sta-client (the FROST project's Python client), unmodified, against a real uvicorn server.

The server runs in a thread on a free localhost port with the test database of each backend; the client
authenticates with HTTP Basic, the ingest API key as password.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import frost_sta_client as fsc
import pytest
import requests
import uvicorn
from frost_sta_client.service.auth_handler import AuthHandler
from geojson import Point
from sqlalchemy.orm import Session, sessionmaker

from cityops.app import create_app
from cityops.identity.apikeys import create_api_key
from cityops.settings import load_settings
from tests.conftest import Backend
from tests.sensing.sta_tree import MEASUREMENT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def server(backend: Backend, tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    # No public_url: the links the client follows (nextLink, Location) come from the request's port.
    settings = load_settings(env="test", data_dir=tmp_path / "data", database_url=backend.url)
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/sta/v1.1"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


def test_round_trip(server: str, sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        _, secret = create_api_key(s, name="frost client", scopes=["ingest"])
        s.commit()
    service = fsc.SensorThingsService(server, auth_handler=AuthHandler(username="key", password=secret))

    # Deep insert: Thing with its Location and a Datastream with Sensor and ObservedProperty.
    location = fsc.Location(
        name="Cầu Tân An",
        description="Vàm Cỏ Tây",
        encoding_type="application/geo+json",
        location=Point((106.41, 10.54)),
    )
    sensor = fsc.Sensor(
        name="CTD", description="probe", encoding_type="text/html", metadata="https://example.org/ctd"
    )
    prop = fsc.ObservedProperty(name="Salinity", definition="http://example.org/salinity", description="salt")
    datastream = fsc.Datastream(
        name="salinity",
        description="salinity at 1 m",
        observation_type=MEASUREMENT,
        unit_of_measurement=fsc.UnitOfMeasurement(name="gram per litre", symbol="g/L", definition="ucum:g/L"),
        sensor=sensor,
        observed_property=prop,
    )
    thing = fsc.Thing(name="Trạm Tân An", description="salinity station", properties={"river": "Vàm Cỏ Tây"})
    thing.locations = [location]
    thing.datastreams = [datastream]
    service.create(thing)
    assert isinstance(thing.id, int)

    found = service.things().find(thing.id)
    assert found.name == "Trạm Tân An"
    ds_list = service.things().query().filter(f"id eq {thing.id}").expand("Datastreams").list()
    ds_id = ds_list.entities[0].datastreams.entities[0].id

    ds_ref = fsc.Datastream(id=ds_id)
    for i in range(7):
        obs = fsc.Observation(result=0.5 * i, phenomenon_time=f"2026-03-01T{i:02d}:00:00Z", datastream=ds_ref)
        service.create(obs)
        assert isinstance(obs.id, int)

    # Query with filter and expand.
    high = (
        service.observations()
        .query()
        .filter("result ge 2 and Datastream/Thing/name eq 'Trạm Tân An'")
        .orderby("phenomenonTime", "ASC")
        .list()
    )
    assert [o.result for o in high] == [2.0, 2.5, 3.0]
    with_ds = service.datastreams().query().expand("Thing,ObservedProperty,Sensor").list()
    first = with_ds.entities[0]
    assert first.thing.name == "Trạm Tân An"
    assert first.observed_property.name == "Salinity"

    # Page through results via @iot.nextLink.
    pages = service.observations().query().top(3).orderby("phenomenonTime", "ASC").list()
    results = [o.result for o in pages]
    assert results == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0]

    # Update (PUT) and JSON-patch through the client, then delete.
    found.description = "moved"
    service.update(found)
    assert service.things().find(thing.id).description == "moved"
    service.things().patch(found, [{"op": "replace", "path": "/name", "value": "Trạm mới"}])
    assert service.things().find(thing.id).name == "Trạm mới"
    # a device key adds readings but may not remove them (#21 finding 8: only operators and admins correct data)
    victim = service.observations().find(obs.id)
    with pytest.raises(requests.exceptions.HTTPError) as refused:
        service.delete(victim)
    assert refused.value.response.status_code == 403
    remaining = service.observations().query().list()
    assert len(list(remaining)) == 7
