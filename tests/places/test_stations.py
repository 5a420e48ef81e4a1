"""Stations are places: station Things get a linked ``station`` place, by the sync and by migration 0005."""

from __future__ import annotations

import json

from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import insert, inspect, select
from sqlalchemy.orm import Session

from cityops.db import make_engine
from cityops.migrate import alembic_config, upgrade
from cityops.places.models import Place
from cityops.places.stations import link_things
from cityops.sensing.models import Location, Thing, thing_locations
from tests.fixtures_areas import LoadedAreas
from tests.test_migrations import empty_database  # noqa: F401  (the fixture: a fresh database per backend)

WATER = {
    "station_code": "VCT-TANAN",
    "kind": "water",
    "river": "Vàm Cỏ Tây",
    "datum": "Hòn Dấu",
    "distance_to_sea_km": 62,
    "alarm_levels": {"I": 1.2, "II": 1.4, "III": 1.6},
    "expected_interval_s": 300,
}


def _thing(session: Session, name: str, props: dict[str, object], lon: float, lat: float) -> Thing:
    thing = Thing(name=name, description=name, properties=props)
    location = Location(
        name=name, location={"type": "Point", "coordinates": [lon, lat]}, lat=lat, lon=lon, encoding_type="x"
    )
    session.add_all([thing, location])
    session.flush()
    session.execute(insert(thing_locations).values(thing_id=thing.id, location_id=location.id))
    return thing


def test_link_things_creates_and_refreshes_station_places(
    session: Session, loaded_areas: LoadedAreas
) -> None:
    water = _thing(session, "Trạm Tân An", WATER, 106.414, 10.529)
    _thing(session, "Not a station", {"purpose": "test"}, 106.4, 10.5)
    _thing(session, "Odd station", {"kind": "seismic"}, 106.4, 10.5)
    stats = link_things(session)
    session.commit()
    assert (stats.created, stats.updated, stats.unchanged) == (1, 0, 0)
    place = session.scalars(select(Place)).one()
    assert (place.type_code, place.thing_id, place.source, place.external_id) == (
        "station",
        water.id,
        "sta",
        "VCT-TANAN",
    )
    assert place.attributes == {
        "kind": "water",
        "river": "Vàm Cỏ Tây",
        "river_km": 62,
        "datum": "Hòn Dấu",
        "alarm_levels": {"I": 1.2, "II": 1.4, "III": 1.6},
    }
    assert place.area_id == loaded_areas.tan_an_ward_id
    assert place.status == "online"  # the station type's default
    assert link_things(session).unchanged == 1
    water.name = "Trạm Tân An (mới)"
    water.properties = {**WATER, "river": "Sông Vàm Cỏ Tây"}
    session.flush()
    assert link_things(session).updated == 1
    session.refresh(place)
    assert place.name == "Trạm Tân An (mới)"
    assert place.attributes["river"] == "Sông Vàm Cỏ Tây"


def test_station_places_are_the_registry_answer(client: TestClient, session: Session) -> None:
    _thing(session, "Trạm Tân An", WATER, 106.414, 10.529)
    _thing(session, "Trạm không khí", {"station_code": "AIR-1", "kind": "air"}, 106.41, 10.54)
    session.commit()
    link_things(session)
    session.commit()
    r = client.get("/api/v1/places?type=station")
    assert r.status_code == 200
    items = r.json()["items"]
    assert [(p["name"], p["attributes"]["kind"]) for p in items] == [
        ("Trạm không khí", "air"),
        ("Trạm Tân An", "water"),
    ]
    assert all(p["thing_id"] is not None for p in items)
    water = next(p for p in items if p["attributes"]["kind"] == "water")
    by_thing = client.get(f"/api/v1/places?thing_id={water['thing_id']}").json()["items"]
    assert [p["id"] for p in by_thing] == [water["id"]]


def test_migration_0005_makes_a_place_of_every_station_thing_and_goes_back(empty_database: str) -> None:  # noqa: F811
    upgrade(empty_database, "0004")
    engine = make_engine(empty_database)
    try:
        with engine.begin() as conn:
            for thing_id, props in ((1, WATER), (2, {"purpose": "other"})):
                conn.exec_driver_sql(
                    "INSERT INTO sta_things (id, name, description, properties) VALUES (?, ?, '', ?)"
                    if conn.dialect.name == "sqlite"
                    else "INSERT INTO sta_things (id, name, description, properties) VALUES (%s, %s, '', %s)",
                    (thing_id, f"Thing {thing_id}", json.dumps(props)),
                )
                conn.exec_driver_sql(
                    "INSERT INTO sta_locations (id, name, description, encoding_type, location, lat, lon) "
                    + (
                        "VALUES (?, 'l', '', 'x', '{}', 10.529, 106.414)"
                        if conn.dialect.name == "sqlite"
                        else "VALUES (%s, 'l', '', 'x', '{}', 10.529, 106.414)"
                    ),
                    (thing_id,),
                )
                conn.exec_driver_sql(
                    f"INSERT INTO sta_thing_locations (thing_id, location_id) VALUES ({thing_id}, {thing_id})"
                )
        upgrade(empty_database, "0005")
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT type_code, thing_id, external_id, source, lat, lon FROM places"
            ).all()
            types = conn.exec_driver_sql("SELECT code, declared FROM place_types").all()
            attributes = conn.exec_driver_sql("SELECT attributes FROM places").scalar_one()
        assert [tuple(r) for r in rows] == [("station", 1, "VCT-TANAN", "sta", 10.529, 106.414)]
        assert [(t[0], bool(t[1])) for t in types] == [("station", False)]  # start-up completes it
        attrs = json.loads(attributes) if isinstance(attributes, str) else attributes
        assert attrs["river_km"] == 62
        assert attrs["kind"] == "water"
        command.downgrade(alembic_config(empty_database), "0004")
        assert "places" not in inspect(engine).get_table_names()
        upgrade(empty_database, "0005")
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM places").scalar_one() == 1
    finally:
        engine.dispose()
