"""One station-health rule: the listings and the places registry agree, and an operator's maintenance stays."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cityops.clock import utcnow
from cityops.places.models import Place, PlaceStatusHistory
from cityops.places.service import change_status
from cityops.places.stations import link_things
from cityops.places.types import get_type
from cityops.sectors.environment.api import station_statuses
from cityops.sensing.health import sync_station_places
from cityops.sensing.models import Datastream, Thing
from cityops.sensing.quality import StationHealth
from tests.kit.factories import Factory


def _station_place(session: Session, thing_id: int) -> Place:
    place = session.scalar(select(Place).where(Place.thing_id == thing_id))
    assert place is not None
    return place


def test_places_follow_the_listing_health(factory: Factory, sessions: sessionmaker[Session]) -> None:
    fresh = factory.station("salinity", kind="water", area=factory.area())
    stale = factory.station("salinity", kind="water", area=factory.area())
    now = utcnow()
    with sessions() as s:
        for ds_id, age in ((fresh.id, timedelta(minutes=3)), (stale.id, timedelta(hours=3))):
            ds = s.get(Datastream, ds_id)
            assert ds is not None
            ds.last_phenomenon_time = now - age
            ds.last_value = 1.0
        s.commit()
        get_type(s, "station")  # syncs the declared place types into a fresh database
        link_things(s)
        s.commit()
        listed = {st.id: st.health for st in station_statuses(s, now)}
        assert listed[fresh.thing_id] is StationHealth.ONLINE
        assert listed[stale.thing_id] is StationHealth.OFFLINE

        assert sync_station_places(s, now) >= 1
        s.commit()
        assert _station_place(s, fresh.thing_id).status == "online"
        assert _station_place(s, stale.thing_id).status == "offline"
        # a second pass changes nothing and writes no history
        before = len(list(s.scalars(select(PlaceStatusHistory))))
        assert sync_station_places(s, now) == 0
        assert len(list(s.scalars(select(PlaceStatusHistory)))) == before


def test_maintenance_set_by_an_operator_is_kept(factory: Factory, sessions: sessionmaker[Session]) -> None:
    ds = factory.station("salinity", kind="water", area=factory.area())
    with sessions() as s:
        get_type(s, "station")
        link_things(s)
        s.commit()
        place = _station_place(s, ds.thing_id)
        change_status(s, place, get_type(s, "station"), "maintenance", actor=None)
        s.commit()
        assert s.get(Thing, ds.thing_id) is not None
        assert sync_station_places(s, utcnow()) == 0  # never reported, but in maintenance: left alone
        s.commit()
        assert _station_place(s, ds.thing_id).status == "maintenance"
