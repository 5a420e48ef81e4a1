"""The environment sector: hooks, demo stations, default rules, and the simulator feeding them."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from rich.console import Console
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cityops.alerts.models import Alert, Rule, Severity
from cityops.alerts.plugin import load_demo as load_alert_rules
from cityops.alerts.rules import parse_params
from cityops.alerts.service import process_observations
from cityops.areas.models import Area
from cityops.identity.models import ApiKey
from cityops.identity.tokens import new_api_key
from cityops.plugins import DEFAULT_PLUGINS, plugin_manager
from cityops.sectors.environment.stations import BY_CODE, STATIONS
from cityops.sectors.environment.templates import TEMPLATES
from cityops.sensing.models import Datastream, Observation, ObservedProperty, Thing
from cityops.sensing.simulator import HttpSender, create_observations_body, readings, run
from cityops.sensing.stations import load_stations
from cityops.settings import Settings
from tests.fixtures_areas import LoadedAreas

QUIET = Console(file=io.StringIO())


def test_registered_before_the_demo_plugin() -> None:
    names = list(DEFAULT_PLUGINS)
    assert names.index("cityops.sectors.environment.plugin") < names.index("cityops.demo.plugin")


def test_hooks_declare_properties_and_templates() -> None:
    pm = plugin_manager()
    codes = {p.code: p for group in pm.hook.observed_properties() for p in group}
    assert codes["salinity"].unit_symbol == "g/L"
    assert codes["pm25"].unit_symbol == "ug/m3"
    assert codes["co"].unit_symbol == "ug/m3"
    assert codes["water_level"].sector == "environment"
    assert codes["noise"].unit_symbol == "dB{A}"
    templates = {t.code: t for group in pm.hook.rule_templates() for t in group}
    assert {"env.salinity-crops", "env.aqi-bands", "env.water-level-alarm"} <= set(templates)
    for tpl in TEMPLATES:
        parse_params(tpl.kind, tpl.parameters)  # every template is a valid rule
    levels = templates["env.salinity-crops"].parameters["levels"]
    assert [(lv["severity"], lv["value"], lv["clear"]) for lv in levels] == [
        ("watch", 1.0, 0.8),
        ("warning", 4.0, 3.5),
    ]


def test_station_specs_cover_the_pilot() -> None:
    kinds = {s.kind for s in STATIONS}
    assert kinds == {"water", "air"}  # the traffic counters are the traffic sector's
    rivers = {s.attributes["river"] for s in STATIONS if s.kind == "water"}
    assert {"Vàm Cỏ Tây", "Vàm Cỏ Đông"} <= rivers
    for s in STATIONS:
        assert 10.3 < s.lat < 11.2
        assert 106.0 < s.lon < 106.9
    assert BY_CODE["VCT-TANAN"].attributes["alarm_levels"] == {"I": 1.2, "II": 1.4, "III": 1.6}


def test_station_and_rule_tables_are_read_strictly() -> None:
    from cityops.sectors.environment.stations import station_specs
    from cityops.sectors.environment.templates import rule_templates

    assert len(BY_CODE) == len(STATIONS)  # codes are unique
    assert len({t.code for t in TEMPLATES}) == len(TEMPLATES)
    assert {t.sector for t in TEMPLATES} == {"environment"}
    # from the row's kind: the six VN_AQI inputs
    assert BY_CODE["AQ-TANAN"].properties == ("pm25", "pm10", "o3", "no2", "so2", "co")
    # a water row adds its water-quality probes to what the kind measures
    assert BY_CODE["VCT-TANAN"].properties[-3:] == ("ph", "dissolved_oxygen", "turbidity")
    assert "ph" not in BY_CODE["VC-TANTRU"].properties
    row = {"code": "X", "name": "Trạm X", "kind": "air", "lat": 10.5, "lon": 106.4}
    assert station_specs([row])[0].interval_s == 300  # columns left out take the spec's defaults
    with pytest.raises(TypeError):  # a misspelt column is an error, not silently dropped
        station_specs([{**row, "distance_km": 3}])
    with pytest.raises(TypeError):  # and so is a misspelt model parameter
        station_specs([{**row, "kind": "water", "model": {"tide_amplitude": 1.0}}])
    with pytest.raises(TypeError):  # air stations take no model parameters
        station_specs([{**row, "model": {"tide_phase_h": 1.0}}])
    with pytest.raises(KeyError):
        station_specs([{**row, "kind": "boats"}])
    tpl = {"code": "x", "name_vi": "x", "name_en": "x", "property_code": "pm25", "parameters": {}}
    with pytest.raises(ValueError, match="sometimes"):
        rule_templates([{**tpl, "kind": "sometimes"}])


def test_load_stations_is_idempotent(session: Session, settings: Settings) -> None:
    first = load_stations(session, STATIONS)
    assert first.things == len(STATIONS)
    assert first.datastreams == sum(len(s.properties) for s in STATIONS)
    again = load_stations(session, STATIONS)
    assert (again.things, again.datastreams) == (0, 0)
    session.commit()
    assert session.scalar(select(func.count()).select_from(Thing)) == len(STATIONS)
    codes = [(op.properties or {}).get("code") for op in session.scalars(select(ObservedProperty)).all()]
    assert len(codes) == len(set(codes))
    tan_an = next(
        t for t in session.scalars(select(Thing)).all() if (t.properties or {})["station_code"] == "VCT-TANAN"
    )
    assert (tan_an.properties or {})["alarm_levels"]["III"] == 1.6
    assert (tan_an.properties or {})["datum"] == "Hòn Dấu"
    load_alert_rules(session=session, settings=settings, console=QUIET)
    load_alert_rules(session=session, settings=settings, console=QUIET)
    ours = select(func.count()).select_from(Rule).where(Rule.code.in_([t.code for t in TEMPLATES]))
    assert session.scalar(ours) == len(TEMPLATES)  # once each (other sectors add their own templates)


def _datastream(session: Session, station: str, code: str) -> Datastream:
    for ds in session.scalars(select(Datastream)).all():
        thing = session.get(Thing, ds.thing_id)
        op = session.get(ObservedProperty, ds.observed_property_id)
        if (
            thing
            and op
            and (thing.properties or {})["station_code"] == station
            and (op.properties or {})["code"] == code
        ):
            return ds
    raise AssertionError(f"no datastream {station}/{code}")


def test_dry_season_salinity_raises_the_default_alert(session: Session, settings: Settings) -> None:
    load_stations(session, STATIONS)
    load_alert_rules(session=session, settings=settings, console=QUIET)
    ds = _datastream(session, "SR-CANGIUOC", "salinity")
    start = datetime(2026, 3, 25, tzinfo=UTC)
    pts = [
        (r.time, r.value)
        for r in readings([BY_CODE["SR-CANGIUOC"]], start, start + timedelta(hours=12))
        if r.property == "salinity"
    ]
    changes = process_observations(session, ds.id, pts)
    assert changes
    assert changes[0].action == "opened"
    alert = session.get(Alert, changes[0].alert_id)
    assert alert is not None
    assert alert.severity in {Severity.WATCH, Severity.WARNING}
    assert "xâm nhập mặn" in alert.message_vi
    # The same station in the wet season stays quiet.
    wet = datetime(2026, 9, 25, tzinfo=UTC)
    ds_up = _datastream(session, "VCT-TANAN", "salinity")
    wet_pts = [
        (r.time, r.value)
        for r in readings([BY_CODE["VCT-TANAN"]], wet, wet + timedelta(hours=12))
        if r.property == "salinity"
    ]
    assert process_observations(session, ds_up.id, wet_pts) == []


def test_simulator_feeds_sensorthings_over_http(client: TestClient, sessions: sessionmaker[Session]) -> None:
    key, prefix, digest = new_api_key()
    with sessions() as s:
        load_stations(s, [BY_CODE["VCT-TANAN"], BY_CODE["AQ-TANAN"]])
        s.add(ApiKey(name="simulator", prefix=prefix, secret_hash=digest, scopes=["ingest", "read"]))
        s.commit()
    sender = HttpSender("http://testserver", client=client, api_key=key)
    index = sender.resolve()
    # Without a key the server refuses the observations.
    body = create_observations_body(
        {index[("VCT-TANAN", "salinity")]: [(datetime(2026, 1, 1, tzinfo=UTC), 1.0)]}
    )
    assert client.post("/sta/v1.1/CreateObservations", json=body).status_code in {401, 403}
    assert ("VCT-TANAN", "salinity") in index
    assert ("AQ-TANAN", "pm25") in index
    start = datetime(2026, 4, 1, tzinfo=UTC)
    stats = run([BY_CODE["VCT-TANAN"], BY_CODE["AQ-TANAN"]], sender, start=start, minutes=30, speed=0)
    # 6 readings (every 5 min) × (4 water + 3 water-quality + 6 air) properties
    assert stats.sent == 78
    assert stats.skipped == 0
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Observation)) == 78
        ds = s.get(Datastream, index[("VCT-TANAN", "salinity")])
        assert ds is not None
        assert ds.last_phenomenon_time == start + timedelta(minutes=25)


def test_hourly_aqi_is_published_and_feeds_the_aqi_rule(session: Session, settings: Settings) -> None:
    from cityops.sectors.environment.air_quality import on_observations, station_hourly_aqi
    from cityops.sectors.environment.aqi import hourly_aqi
    from cityops.sensing.ingest import ObservationIn, ingest_observations
    from cityops.sensing.observation_events import CreatedObservations, created_payload

    load_stations(session, [BY_CODE["AQ-TANAN"]])
    load_alert_rules(session=session, settings=settings, console=QUIET)
    pm = _datastream(session, "AQ-TANAN", "pm25")
    thing_id = pm.thing_id
    start = datetime(2026, 2, 1, 0, 0, tzinfo=UTC)
    # 12 hours: PM2.5 of 20 µg/m³ for hours 0–9, then 90 in hours 10 and 11 (two readings per hour).
    values = [20.0] * 10 + [90.0] * 2
    rows = [
        ObservationIn(pm.id, start + timedelta(hours=h, minutes=m), v)
        for h, v in enumerate(values)
        for m in (0, 30)
    ]
    ingest_observations(session, rows, emit_event=False)
    hour = start + timedelta(hours=11)
    result = station_hourly_aqi(session, thing_id, hour)
    # Hand check: c1 = c2 = 90, c3..c12 = 20 → w* = 20/90 < 1/2 → w = 1/2;
    # Nowcast = (90 + 45 + 20 × Σ_{k=2..11} 0.5^k) / Σ_{k=0..11} 0.5^k = (135 + 9.9902) / 1.99951 = 72.513
    # AQI: BP 50–80, I 100–150 → 50/30 × 22.513 + 100 = 137.52 → 138
    assert result.aqi == hourly_aqi(pm25_hours=[90.0, 90.0] + [20.0] * 10).aqi == 138
    # An observation at 12:05 completes hour 11: the AQI is stored once and the AQI rule opens (watch > 100).
    # The event payload is columnar (version 2); an AQI input among other datastreams is found.
    payload = created_payload(
        CreatedObservations(
            ids=[1, 2],
            datastreams=[pm.id + 100_000, pm.id],
            phenomenon_times=["bad", "2026-02-01T12:05:00Z"],
            results=[1.0, 91.0],
            quality_flags=[0, 0],
        )
    )
    assert on_observations(session, payload) == [(thing_id, hour, 138)]
    assert on_observations(session, payload) == []
    aqi_ds = _datastream(session, "AQ-TANAN", "aqi")
    assert aqi_ds.last_value == 138
    stored = session.scalars(select(Observation).where(Observation.datastream_id == aqi_ds.id)).one()
    assert (stored.parameters or {})["band_vi"] == "Kém"
    assert (stored.parameters or {})["dominant"] == "pm25"
    changes = process_observations(session, aqi_ds.id, [(hour, 138.0)])
    assert [(c.action, c.severity) for c in changes] == [("opened", Severity.WATCH)]
    # Observations of other properties do not trigger AQI work (nor parsing: the time is never read);
    # version 1 payloads (one object per observation, written before #6) are still read.
    assert (
        on_observations(session, {"observations": [{"datastream_id": aqi_ds.id, "phenomenon_time": "x"}]})
        == []
    )
    wl = {"observations": [{"datastream_id": aqi_ds.id, "phenomenon_time": "2026-02-01T13:05:00Z"}]}
    assert on_observations(session, wl) == []


def test_stations_lie_in_their_communes(session: Session, loaded_areas: LoadedAreas) -> None:
    load_stations(session, STATIONS)
    session.commit()
    for thing in session.scalars(select(Thing)).all():
        props = thing.properties or {}
        names = [a.name for a in (session.get(Area, i) for i in props["area_ids"]) if a]
        assert props["area_name"] in names, (props["station_code"], names)
        assert loaded_areas.province_id in props["area_ids"]
    # A province-wide subscription matches every station's alerts; a ward's only its own stations.
    tan_an = next(
        t for t in session.scalars(select(Thing)).all() if (t.properties or {})["station_code"] == "VCT-TANAN"
    )
    assert loaded_areas.tan_an_ward_id in (tan_an.properties or {})["area_ids"]


def test_end_to_end_simulated_salinity_raises_an_alert_through_the_bus(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    import time

    key, prefix, digest = new_api_key()
    station = BY_CODE["SR-CANGIUOC"]
    with sessions() as s:
        load_stations(s, [station])
        load_alert_rules(session=s, settings=settings, console=QUIET)
        s.add(ApiKey(name="simulator", prefix=prefix, secret_hash=digest, scopes=["ingest", "read"]))
        s.commit()
    sender = HttpSender("http://testserver", client=client, api_key=key)
    # Three hours of the dry season at Cần Giuộc: salinity is well above 1 g/L for more than 30 minutes.
    stats = run([station], sender, start=datetime(2026, 3, 25, tzinfo=UTC), minutes=180, speed=0)
    assert stats.sent == 36 * 4
    # The observations.created events reach the alerts consumer asynchronously: wait for the alert.
    deadline = time.monotonic() + 30
    alerts: list[dict[str, object]] = []
    while time.monotonic() < deadline and not alerts:
        alerts = client.get("/api/v1/alerts", params={"state": "open"}).json()
        if not alerts:
            time.sleep(0.2)
    assert alerts, "no alert was raised from the simulated series"
    assert alerts[0]["severity"] in {"watch", "warning"}
    assert "Cần Giuộc" in str(alerts[0]["message_vi"])


def test_stations_api_reports_latest_values_and_health(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    from cityops.clock import utcnow
    from cityops.sensing.ingest import ObservationIn, ingest_observations

    with sessions() as s:
        load_stations(s, [BY_CODE["VCT-TANAN"], BY_CODE["AQ-TANAN"]])
        sal = _datastream(s, "VCT-TANAN", "salinity")
        level = _datastream(s, "VCT-TANAN", "water_level")
        now = utcnow()
        ingest_observations(
            s,
            [
                ObservationIn(sal.id, now - timedelta(minutes=3), 1.8),
                ObservationIn(level.id, now - timedelta(minutes=20), 1.1),
            ],
            emit_event=False,
        )
        s.commit()
    body = client.get("/api/v1/environment/stations").json()
    by_code = {st["code"]: st for st in body}
    water = by_code["VCT-TANAN"]
    assert water["health"] == "online"  # freshest datastream 3 min old, interval 5 min
    assert (water["lat"], water["lon"]) == (10.529, 106.414)
    streams = {d["property"]: d for d in water["datastreams"]}
    assert streams["salinity"]["last_value"] == 1.8
    assert streams["salinity"]["unit"] == "g/L"
    assert streams["water_level"]["health"] == "late"  # 20 min: 4 intervals
    assert streams["conductivity"]["health"] == "offline"  # never reported
    assert by_code["AQ-TANAN"]["health"] == "offline"
    assert [st["code"] for st in client.get("/api/v1/environment/stations?kind=air").json()] == ["AQ-TANAN"]
    assert client.get("/api/v1/environment/stations?kind=boats").status_code == 422


def test_hourly_aqi_appears_after_observations_are_posted_through_the_app(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    import time

    from cityops.sectors.environment.plugin import AQI_DURABLE, event_consumers

    assert [c.durable for c in event_consumers()] == [AQI_DURABLE]  # run by the events capability
    key, prefix, digest = new_api_key()
    station = BY_CODE["AQ-TANAN"]
    with sessions() as s:
        load_stations(s, [station])
        s.add(ApiKey(name="simulator", prefix=prefix, secret_hash=digest, scopes=["ingest", "read"]))
        s.commit()
    sender = HttpSender("http://testserver", client=client, api_key=key)
    # Three hours of readings every 5 minutes: the hours they complete get their VN_AQI from the consumer.
    stats = run([station], sender, start=datetime(2026, 1, 10, tzinfo=UTC), minutes=180, speed=0)
    assert stats.sent == 36 * 6  # the six VN_AQI inputs
    deadline = time.monotonic() + 30
    aqi: list[Observation] = []
    while time.monotonic() < deadline and not aqi:
        with sessions() as s:
            aqi = (
                [
                    o
                    for o in s.scalars(select(Observation)).all()
                    if o.datastream_id == _datastream(s, "AQ-TANAN", "aqi").id
                ]
                if ("AQ-TANAN", "aqi") in _codes(s)
                else []
            )
        if not aqi:
            time.sleep(0.2)
    assert aqi, "no hourly VN_AQI was published from the posted observations"
    assert all(o.phenomenon_time.minute == 0 and o.result_number for o in aqi)
    # the full VN_AQI: a sub-index for every pollutant the station measures, not PM alone
    subs = (aqi[0].parameters or {})["sub_indices"]
    assert set(subs) == {"pm25", "pm10", "o3_1h", "no2", "so2", "co"}
    assert aqi[0].result_number == max(subs.values())


def _codes(session: Session) -> set[tuple[str, str]]:
    from cityops.sensing.stations import datastream_index

    return set(datastream_index(session))


def test_water_level_alarm_levels_are_read_by_the_sector_template(
    session: Session, settings: Settings
) -> None:
    """The template, not the rule engine, says alarm level I is a watch, II a warning and III critical."""
    load_stations(session, [BY_CODE["VCT-TANAN"]])
    load_alert_rules(session=session, settings=settings, console=QUIET)
    thing = session.get(Thing, _datastream(session, "VCT-TANAN", "water_level").thing_id)
    assert thing is not None
    # An operator lists the levels in another order: the labels, not their order, decide the severities.
    thing.properties = {**(thing.properties or {}), "alarm_levels": {"III": 1.6, "I": 1.2, "II": 1.4}}
    session.flush()
    ds = _datastream(session, "VCT-TANAN", "water_level")
    t0 = datetime(2026, 10, 10, tzinfo=UTC)
    points = [
        (t0 + timedelta(minutes=15 * i), v) for i, v in enumerate((1.0, 1.25, 1.25, 1.45, 1.45, 1.65, 1.65))
    ]
    changes = process_observations(session, ds.id, points)
    assert [(c.action, c.severity) for c in changes] == [
        ("opened", Severity.WATCH),
        ("escalated", Severity.WARNING),
        ("escalated", Severity.CRITICAL),
    ]
