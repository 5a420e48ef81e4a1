"""The two station listings read one rule: ``/environment/stations`` (the sector's view, health as of the
request) names each station's place, and after the health task the registry's status says the same."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from cityops.clock import utcnow
from cityops.places.stations import link_things
from cityops.places.types import get_type
from cityops.sensing.health import sync_station_places
from cityops.sensing.models import Datastream
from tests.kit.factories import Factory


def test_environment_stations_name_their_place_and_agree(
    factory: Factory, sessions: sessionmaker[Session], client: TestClient
) -> None:
    fresh = factory.station("salinity", kind="water", area=factory.area())
    stale = factory.station("salinity", kind="water", area=factory.area())
    unlinked = factory.station("salinity", kind="salinity", area=factory.area())  # not a station kind
    now = utcnow()
    with sessions() as s:
        for ds_id, age in ((fresh.id, timedelta(minutes=3)), (stale.id, timedelta(hours=3))):
            ds = s.get(Datastream, ds_id)
            assert ds is not None
            ds.last_phenomenon_time, ds.last_value = now - age, 1.0
        s.commit()
        get_type(s, "station")
        link_things(s)
        sync_station_places(s, now)
        s.commit()
    r = client.get("/api/v1/environment/stations")
    assert r.status_code == 200
    listed = {st["id"]: st for st in r.json()}
    offline = client.get("/api/v1/places?type=station&status=offline").json()["items"]
    online = client.get("/api/v1/places?type=station&status=online").json()["items"]
    places = {p["thing_id"]: p for p in offline + online}
    for ds, health in ((fresh, "online"), (stale, "offline")):
        station = listed[ds.thing_id]
        assert station["health"] == health
        assert station["place_id"] == places[ds.thing_id]["id"]
        assert station["place_status"] == places[ds.thing_id]["status"] == health
    assert (listed[unlinked.thing_id]["place_id"], listed[unlinked.thing_id]["place_status"]) == (None, None)
