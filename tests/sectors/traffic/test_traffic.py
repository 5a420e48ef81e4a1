"""The traffic sector as one folder: its declarations, its demo counters, and their counts through the app."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from rich.console import Console
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cityops.identity.models import ApiKey
from cityops.identity.tokens import new_api_key
from cityops.places.models import Place
from cityops.plugins import DEFAULT_PLUGINS, declarations
from cityops.reports.models import Case
from cityops.sectors.traffic.plugin import load_demo
from cityops.sectors.traffic.specs import COUNTER_PROPERTIES
from cityops.sectors.traffic.stations import STATIONS, station_specs
from cityops.sensing import properties
from cityops.sensing.models import Datastream, Observation, Thing
from cityops.sensing.simulator import HttpSender, run
from cityops.sensing.stations import datastream_index, load_stations
from cityops.settings import Settings
from cityops.specs import PropertySpec, StationSpec

PLUGIN = "cityops.sectors.traffic.plugin"


def test_registered_after_the_environment_and_before_the_demo() -> None:
    names = list(DEFAULT_PLUGINS)
    assert (
        names.index("cityops.sectors.environment.plugin")
        < names.index(PLUGIN)
        < names.index("cityops.demo.plugin")
    )


def test_declares_its_properties_and_counters() -> None:
    props = {spec.code: (plugin, spec) for plugin, spec in declarations("observed_properties", PropertySpec)}
    for code in ("traffic_motorbike", "traffic_car", "traffic_heavy", "mean_speed"):
        plugin, spec = props[code]
        assert (plugin, spec.sector) == (PLUGIN, "traffic")
    assert props["traffic_car"][1].unit_symbol == "{vehicles}/h"
    assert props["mean_speed"][1].unit_symbol == "km/h"
    assert properties.get("traffic_heavy") is props["traffic_heavy"][1]  # what sensing reads
    stations = [(plugin, s) for plugin, s in declarations("demo_stations", StationSpec) if plugin == PLUGIN]
    assert {s.code for _, s in stations} == {
        "TF-QL1-TANAN",
        "TF-QL1-BENLUC",
        "TF-QL62-TANAN",
        "TF-QL50-CANGIUOC",
        "TF-N2-THANHHOA",
        "TF-DT830-BENLUC",
        "TF-HUNGVUONG-TANAN",
    }
    assert {s.attributes["road"] for _, s in stations} == {"QL1", "QL62", "QL50", "N2", "ĐT830", "Hùng Vương"}
    assert all(s.kind == "traffic" and s.properties == COUNTER_PROPERTIES for _, s in stations)


def test_station_table_is_read_strictly() -> None:
    row = {"code": "X", "name": "Đếm xe X", "kind": "traffic", "lat": 10.5, "lon": 106.4}
    assert station_specs([row])[0].interval_s == 300
    with pytest.raises(TypeError):  # a misspelt model parameter
        station_specs([{**row, "model": {"traffic_scale": 2}}])
    with pytest.raises(ValueError, match="traffic"):  # counters only
        station_specs([{**row, "kind": "water"}])


def test_demo_loads_the_counters_as_linked_station_places_idempotently(
    session: Session, settings: Settings
) -> None:
    buffer = io.StringIO()
    before = datetime.now(UTC)
    load_demo(session=session, settings=settings, console=Console(file=buffer, width=200))
    load_demo(session=session, settings=settings, console=Console(file=io.StringIO()))
    session.commit()
    out = buffer.getvalue()
    assert "Traffic counters: 7 new counters, 28 datastreams; 8064 simulated counts" in out
    assert "levels of service computed for 7 demo segments" in out  # the eighth has no counter
    assert "a demo incident on QL1" in out
    incidents = session.scalars(select(Case).where(Case.category_code == "traffic_incident")).all()
    assert len(incidents) == 1  # once, not twice
    assert incidents[0].answers == {"vehicles": 2, "injuries": "minor", "lanes_blocked": 1}
    assert incidents[0].hidden is False  # traffic incidents are public (on the citizen map)
    things = {
        (t.properties or {})["station_code"]: t
        for t in session.scalars(select(Thing)).all()
        if (t.properties or {}).get("kind") == "traffic"
    }
    assert set(things) == {s.code for s in STATIONS}
    assert (things["TF-QL62-TANAN"].properties or {})["road"] == "QL62"
    # 4 measured series per counter, and the computed level of service of the segment each counter watches
    assert session.scalar(select(func.count()).select_from(Datastream)) == 7 * 5
    assert session.scalar(select(func.count()).select_from(Observation)) == 7 * 5 * 24 * 12  # once, not twice
    for ds in session.scalars(select(Datastream)).all():
        assert ds.last_phenomenon_time is not None
        assert before - timedelta(minutes=5) <= ds.last_phenomenon_time <= datetime.now(UTC)
    places = session.scalars(select(Place).where(Place.thing_id.in_([t.id for t in things.values()]))).all()
    assert len(places) == 7
    assert {p.type_code for p in places} == {"station"}
    assert {(p.attributes or {}).get("kind") for p in places} == {"traffic"}


def test_counts_reach_a_datastream_through_the_app(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    key, prefix, digest = new_api_key()
    with sessions() as s:
        load_stations(s, STATIONS)
        s.add(ApiKey(name="simulator", prefix=prefix, secret_hash=digest, scopes=["ingest", "read"]))
        s.commit()
    sender = HttpSender("http://testserver", client=client, api_key=key)
    # 03:00–07:30 in Vietnam on a Monday: from the night into the morning rush on QL1 at Tân An.
    start = datetime(2026, 5, 3, 20, 0, tzinfo=UTC)
    stats = run(STATIONS[:1], sender, start=start, minutes=270, speed=0)
    assert (stats.sent, stats.skipped) == (54 * 4, 0)
    with sessions() as s:
        ds = datastream_index(s)[("TF-QL1-TANAN", "traffic_motorbike")]
        counts = s.scalars(
            select(Observation.result_number)
            .where(Observation.datastream_id == ds.id)
            .order_by(Observation.phenomenon_time)
        ).all()
        assert len(counts) == 54
        assert ds.last_phenomenon_time == start + timedelta(minutes=265)
        assert ds.last_value == counts[-1]
    assert sum(counts[-6:]) > 3 * sum(counts[:6])  # the rush (07:00–07:30) against the night (03:00–03:30)
