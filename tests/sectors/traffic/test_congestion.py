"""Level of service per road segment: the bands worked by hand, and the consumer keeping it current."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cityops.places.models import Place, PlaceStatusHistory
from cityops.sectors.demo_places import load_demo_places
from cityops.sectors.traffic.congestion import level_of_service, on_observations
from cityops.sectors.traffic.demo import DATA
from cityops.sectors.traffic.simulation import RoadCounter
from cityops.sectors.traffic.stations import STATIONS
from cityops.sensing.ingest import ObservationIn, ingest_observations
from cityops.sensing.models import Datastream, Observation
from cityops.sensing.observation_events import CreatedObservations, created_payload
from cityops.sensing.stations import datastream_index, load_stations

QL1 = "TF-QL1-TANAN"  # watches demo-seg-ql1-tanan: free flow 60 km/h, capacity 3,400 PCU/h


@pytest.mark.parametrize(
    ("speed", "flows", "level"),
    [
        # 55/60 = 0.92 → A; 1000×0.3 + 200 + 40×2.5 = 600 PCU, 600/3400 = 0.18 → A
        (55.0, {"traffic_motorbike": 1000, "traffic_car": 200, "traffic_heavy": 40}, "A"),
        # 35/60 = 0.58 → C; 4000×0.3 + 900 + 500×2.5 = 3350 PCU, 3350/3400 = 0.985 → E: the worse, E
        (35.0, {"traffic_motorbike": 4000, "traffic_car": 900, "traffic_heavy": 500}, "E"),
        # 10/60 = 0.17 → F even on an empty road (an incident)
        (10.0, {"traffic_car": 100}, "F"),
        # 30/60 = 0.5 is not above 0.5 → D; 2000 PCU / 3400 = 0.59 → C: the worse, D
        (30.0, {"traffic_car": 2000}, "D"),
        # no flows: the speed alone (45/60 = 0.75 → B)
        (45.0, {}, "B"),
        # no speed: volume over capacity alone (3500/3400 → F)
        (None, {"traffic_car": 3500}, "F"),
    ],
)
def test_level_is_the_worse_of_speed_and_volume(
    speed: float | None, flows: dict[str, float], level: str
) -> None:
    reading = level_of_service(speed, 60.0, flows, 3400.0)
    assert reading is not None
    assert reading.level == level
    assert reading.index == "ABCDEF".index(level) + 1


def test_no_reading_no_level() -> None:
    assert level_of_service(None, 60.0, {}, 3400.0) is None


def _ingest(session: Session, at: datetime, values: dict[str, float]) -> dict[str, object]:
    """Store one time step of the QL1 counter; the payload its ``observations.created`` event carries."""
    index = datastream_index(session)
    rows = [ObservationIn(index[(QL1, code)].id, at, value) for code, value in values.items()]
    result = ingest_observations(session, rows, emit_event=False)
    session.commit()
    stamp = at.isoformat().replace("+00:00", "Z")
    return created_payload(
        CreatedObservations(
            list(result.ids),
            [r.datastream_id for r in rows],
            [stamp] * len(rows),
            list(values.values()),
            [0] * len(rows),
        )
    )


def test_consumer_keeps_the_segment_level_current(session: Session) -> None:
    load_stations(session, [s for s in STATIONS if s.code == QL1])
    load_demo_places(session, DATA, ["road_segment"], Console(quiet=True))
    session.commit()
    segment = session.scalars(select(Place).where(Place.external_id == "demo-seg-ql1-tanan")).one()
    assert segment.status == "unknown"
    t0 = datetime(2026, 5, 4, 7, 0, tzinfo=UTC)
    jam = {"mean_speed": 10.0, "traffic_motorbike": 2000.0, "traffic_car": 400.0, "traffic_heavy": 100.0}
    payload = _ingest(session, t0, jam)

    assert on_observations(session, payload) == {segment.id: "F"}
    session.commit()
    level_ds = next(
        ds
        for ds in session.scalars(
            select(Datastream).where(
                Datastream.thing_id == datastream_index(session)[(QL1, "mean_speed")].thing_id
            )
        )
        if (ds.properties or {}).get("property_code") == "congestion_level"
    )
    stored = session.scalars(select(Observation).where(Observation.datastream_id == level_ds.id)).all()
    assert [(o.result_number, (o.parameters or {})["los"]) for o in stored] == [(6.0, "F")]
    session.refresh(segment)
    assert segment.status == "F"
    history = session.scalar(
        select(func.count()).select_from(PlaceStatusHistory).where(PlaceStatusHistory.place_id == segment.id)
    )

    # a redelivered event changes nothing
    assert on_observations(session, payload) == {segment.id: "F"}
    session.commit()
    assert (
        session.scalar(
            select(func.count()).select_from(Observation).where(Observation.datastream_id == level_ds.id)
        )
        == 1
    )
    assert (
        session.scalar(
            select(func.count())
            .select_from(PlaceStatusHistory)
            .where(PlaceStatusHistory.place_id == segment.id)
        )
        == history
    )

    # the jam clears: 58/60 → A, 300×0.3 + 100 + 10×2.5 = 215 PCU → A
    payload = _ingest(
        session,
        t0 + timedelta(minutes=5),
        {"mean_speed": 58.0, "traffic_motorbike": 300.0, "traffic_car": 100.0, "traffic_heavy": 10.0},
    )
    assert on_observations(session, payload) == {segment.id: "A"}
    session.commit()
    session.refresh(segment)
    assert segment.status == "A"
    assert (
        session.scalar(
            select(func.count())
            .select_from(PlaceStatusHistory)
            .where(PlaceStatusHistory.place_id == segment.id)
        )
        == history + 1
    )


def test_flows_without_speed_wait_for_the_speed(session: Session) -> None:
    load_stations(session, [s for s in STATIONS if s.code == QL1])
    load_demo_places(session, DATA, ["road_segment"], Console(quiet=True))
    session.commit()
    payload = _ingest(session, datetime(2026, 5, 4, 8, 0, tzinfo=UTC), {"traffic_car": 500.0})
    assert on_observations(session, payload) == {}


def test_simulated_incident_collapses_the_speed() -> None:
    counter = RoadCounter(scale=1.2, incident_hour=14.0)
    # 14:30 and 13:30 in Vietnam (UTC+7) on a Monday
    during, before = datetime(2026, 5, 4, 7, 30, tzinfo=UTC), datetime(2026, 5, 4, 6, 30, tzinfo=UTC)
    assert counter.in_incident(during)
    assert not counter.in_incident(before)
    assert counter.mean_speed(during, "X") < 15.0 < counter.mean_speed(before, "X")
    reading = level_of_service(counter.mean_speed(during, "X"), 70.0, {}, 3600.0)
    assert reading is not None
    assert reading.level == "F"


def test_indicators_count_congested_hours_and_the_peak_hour(session: Session) -> None:
    from cityops.sectors.traffic.indicators import congested_hours, indicators, peak_hour_volume, segment_days

    load_stations(session, [s for s in STATIONS if s.code == QL1])
    load_demo_places(session, DATA, ["road_segment"], Console(quiet=True))
    session.commit()
    jam = {"mean_speed": 10.0, "traffic_motorbike": 2000.0, "traffic_car": 400.0, "traffic_heavy": 100.0}
    free = {"mean_speed": 58.0, "traffic_motorbike": 300.0, "traffic_car": 100.0, "traffic_heavy": 10.0}
    t0 = datetime(2026, 5, 4, 7, 0, tzinfo=UTC)  # 14:00 in Vietnam
    for at, values in ((t0, jam), (t0 + timedelta(minutes=5), jam), (t0 + timedelta(hours=1), free)):
        on_observations(session, _ingest(session, at, values))
        session.commit()
    specs = {s.code: s for s in indicators()}
    day = (datetime(2026, 5, 3, 17, 0, tzinfo=UTC), datetime(2026, 5, 4, 17, 0, tzinfo=UTC))  # 4 May, local
    hours = congested_hours(session, specs["traffic.congested_hours"], {0: None}, *day)
    assert hours[0].value == 1.0  # 14:00–15:00 at F, 15:00–16:00 at A
    peak = peak_hour_volume(session, specs["traffic.peak_hour_volume"], {0: None}, *day)
    assert peak[0].value == 2000 + 400 + 100  # the 14:00 hour's mean total flow
    # the day before has no data: no value rather than 0
    before = (day[0] - timedelta(days=1), day[0])
    assert congested_hours(session, specs["traffic.congested_hours"], {0: None}, *before) == {}
    thing_id = datastream_index(session)[(QL1, "mean_speed")].thing_id
    days = segment_days(session, thing_id, *day)
    assert days == {
        datetime(2026, 5, 4).date(): {"congested_hours": 1.0, "peak_hour_volume": 2500, "peak_hour": 14}
    }


def test_persistent_congestion_opens_an_alert_after_30_minutes(session: Session) -> None:
    from cityops.alerts.models import Alert
    from cityops.alerts.service import process_observations
    from cityops.alerts.templates import declared_templates, install

    install(session, [t for t in declared_templates() if t.code == "traffic.persistent-congestion"])
    load_stations(session, [s for s in STATIONS if s.code == QL1])
    load_demo_places(session, DATA, ["road_segment"], Console(quiet=True))
    session.commit()
    jam = {"mean_speed": 10.0, "traffic_motorbike": 2000.0, "traffic_car": 400.0, "traffic_heavy": 100.0}
    t0 = datetime(2026, 5, 4, 7, 0, tzinfo=UTC)
    level_ds = None
    for step in range(8):  # F every 5 minutes for 35 minutes
        at = t0 + timedelta(minutes=5 * step)
        on_observations(session, _ingest(session, at, jam))
        session.commit()
        if level_ds is None:
            level_ds = next(
                ds
                for ds in session.scalars(select(Datastream))
                if (ds.properties or {}).get("property_code") == "congestion_level"
            )
        process_observations(session, level_ds.id, [(at, 6.0)], now=at)
        session.commit()
        opened = session.scalars(select(Alert)).all()
        if step * 5 < 30:
            assert opened == [], step  # a jam shorter than 30 minutes is not persistent
    alerts = session.scalars(select(Alert)).all()
    assert len(alerts) == 1
    assert alerts[0].severity == "critical"  # level F (6) held for 30 minutes


def test_the_declared_consumer_handles_a_bus_event(session: Session, sessions: sessionmaker[Session]) -> None:
    from cityops.events.bus import Event
    from cityops.sectors.traffic.plugin import CONGESTION_DURABLE, event_consumers

    [consumer] = event_consumers()
    assert (consumer.durable, consumer.subject) == (CONGESTION_DURABLE, "observations.created")
    load_stations(session, [s for s in STATIONS if s.code == QL1])
    load_demo_places(session, DATA, ["road_segment"], Console(quiet=True))
    session.commit()
    payload = _ingest(session, datetime(2026, 5, 4, 7, 0, tzinfo=UTC), {"mean_speed": 20.0})  # 20/60 → E
    assert consumer.handle(sessions, Event("observations.created", payload)) == 1
    with sessions() as s:
        seg = s.scalars(select(Place).where(Place.external_id == "demo-seg-ql1-tanan")).one()
        assert seg.status == "E"
