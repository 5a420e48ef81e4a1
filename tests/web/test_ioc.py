"""IOC read models: KPI tiles from indicator cells, drill-down by area, stations levelled by the sectors'
thresholds and open alerts, and the dashboard panels."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from cityops.alerts.models import Alert, AlertState, Severity
from cityops.clock import utcnow
from cityops.indicators.engine import recompute
from cityops.indicators.models import IndicatorTarget
from cityops.indicators.registry import sync
from cityops.reports.models import Case, CaseRating, Category
from cityops.sensing import properties as props
from cityops.sensing.models import Datastream, Location, ObservedProperty, Sensor, Thing, thing_locations
from cityops.web.ioc import summary
from tests.fixtures_areas import LoadedAreas
from tests.sensing.test_native_api import count_statements


def _case(session: Session, n: int, **kw: object) -> Case:
    now = utcnow()
    values: dict[str, object] = {
        "token_hash": f"{n:064d}",
        "category_code": "web.test",
        "submitted_at": now,
        "updated_at": now,
        "state": "submitted",
        "lat": 10.54,
        "lon": 106.41,
    }
    values.update(kw)
    case = Case(**values)
    session.add(case)
    session.flush()
    return case


def _station(session: Session, name: str, code: str, value: float | None) -> Datastream:
    spec = props.get(code)
    assert spec is not None
    op = ObservedProperty(name=spec.name_en, definition=spec.definition, ucum=spec.unit_symbol)
    sensor = Sensor(name="s", encoding_type="text/plain", sensor_metadata="")
    thing = Thing(name=name)
    loc = Location(name=name, location={"type": "Point", "coordinates": [106.4, 10.5]}, lat=10.5, lon=106.4)
    session.add_all([op, sensor, thing, loc])
    session.flush()
    session.execute(thing_locations.insert().values(thing_id=thing.id, location_id=loc.id))
    ds = Datastream(
        name=f"{name} {code}",
        unit_of_measurement=spec.unit_of_measurement,
        observation_type="OM_Measurement",
        thing_id=thing.id,
        sensor_id=sensor.id,
        observed_property_id=op.id,
        last_value=value,
        last_phenomenon_time=utcnow() if value is not None else None,
    )
    session.add(ds)
    session.flush()
    return ds


def test_summary_reads_indicator_cells_and_drills_down(
    client: TestClient, session: Session, loaded_areas: LoadedAreas
) -> None:
    session.add(Category(code="web.test", name_vi="Thử", name_en="Test"))
    session.flush()
    now = utcnow()
    ward = loaded_areas.tan_an_ward_id
    _case(session, 1, area_id=ward)
    _case(session, 2, area_id=ward, state="in_progress", overdue=True)
    on_time = _case(
        session, 3, state="resolved", resolved_at=now, resolve_due_at=now + timedelta(hours=1), area_id=None
    )
    _case(session, 4, state="closed", resolved_at=now, resolve_due_at=now - timedelta(hours=1))
    hidden = _case(
        session, 5, hidden=True, area_id=ward, resolved_at=now, resolve_due_at=now + timedelta(hours=1),
    )  # fmt: skip
    rated_in_ward = _case(session, 6, area_id=ward, state="resolved", resolved_at=now, resolve_due_at=now)
    session.add_all(
        [
            CaseRating(case_id=on_time.id, rater="token", score=5, created_at=now),
            CaseRating(case_id=on_time.id, rater="user:1", score=2, created_at=now),
            CaseRating(case_id=rated_in_ward.id, rater="token", score=4, created_at=now),
            # a hidden case's ratings and resolution count nowhere
            CaseRating(case_id=hidden.id, rater="token", score=1, created_at=now),
            CaseRating(case_id=hidden.id, rater="user:2", score=1, created_at=now),
        ]
    )
    reg = sync(session)
    session.commit()
    today = now.date()
    recompute(
        session,
        today - timedelta(days=1),
        today + timedelta(days=1),
        ["cases.received_daily", "cases.on_time_rate", "cases.satisfied_share"],
        reg,
    )
    session.commit()

    body = client.get("/api/v1/ioc/summary").json()
    assert body["reports_today"] == 5  # the hidden case is not counted
    assert body["open"] == 2
    assert body["overdue"] == 1
    assert body["on_time_pct"] == 66.7  # 2 of 3 resolved by their due time (equal is on time)
    assert body["satisfaction_pct"] == 66.7  # 2 of 3 ratings of 4 or 5
    assert len(body["daily"]) == 14
    assert body["daily"][-1]["count"] == 5
    assert "worst_aqi" not in body  # environment knowledge: the environment's panels carry it

    ward_body = client.get("/api/v1/ioc/summary", params={"area_id": ward}).json()
    assert ward_body["reports_today"] == 3
    assert ward_body["overdue"] == 1
    assert ward_body["on_time_pct"] == 100.0
    assert ward_body["satisfaction_pct"] == 100.0  # the ward's one visible rating; the hidden case's not
    province = client.get("/api/v1/ioc/summary", params={"area_id": loaded_areas.province_id}).json()
    assert province["reports_today"] == 5
    assert province["satisfaction_pct"] == 66.7
    missing = client.get("/api/v1/ioc/summary", params={"area_id": 999_999})
    assert missing.status_code == 404
    assert client.get("/api/v1/ioc/summary", params={"area_id": "x"}).status_code == 422


def test_stations_are_levelled_by_value_and_open_alerts(client: TestClient, session: Session) -> None:
    fresh = _station(session, "Fresh", "salinity", 0.4)
    salty = _station(session, "Salty", "salinity", 4.2)
    _station(session, "Silent", "salinity", None)
    level = _station(session, "River", "water_level", 1.2)
    session.add(
        Alert(
            datastream_id=level.id,
            state=AlertState.OPEN,
            severity=Severity.CRITICAL,
            opened_at=utcnow(),
            area_ids=[],
        )
    )
    session.commit()
    rows = {s["name"]: s for s in client.get("/api/v1/ioc/stations").json()}
    assert rows["Fresh"]["level"] == "good"
    assert rows["Salty"]["level"] == "bad"
    assert rows["Silent"]["level"] == "nodata"
    assert rows["River"]["level"] == "bad"  # no scale of its own: the open critical alarm decides
    assert rows["River"]["datastreams"][0]["alert"] == "critical"
    assert rows["Fresh"]["datastreams"][0]["id"] == fresh.id
    assert rows["Salty"]["datastreams"][0]["property"] == "salinity"
    assert salty.id != fresh.id


def test_summary_is_three_statements_and_days_are_local(session: Session, loaded_areas: LoadedAreas) -> None:
    session.add(Category(code="web.test", name_vi="Thử", name_en="Test"))
    session.flush()
    now = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 09:00 on 2 March in Hồ Chí Minh (UTC+7)
    today = datetime(2026, 3, 1, 17, 0, tzinfo=UTC)  # local midnight of 2 March
    first = today - timedelta(days=13)  # local midnight of 17 February
    ward = loaded_areas.long_an_ward_id
    for n, at, hidden in (
        (1, today - timedelta(seconds=1), False),  # 1 March, 23:59:59 local
        (2, today, False),
        (3, today + timedelta(hours=3), True),  # hidden: in no count
        (4, first, False),
        (5, first - timedelta(seconds=1), False),  # before the series
    ):
        _case(session, n, submitted_at=at, updated_at=at, hidden=hidden, area_id=ward)
    reg = sync(session)
    session.commit()
    recompute(session, date(2026, 2, 15), date(2026, 3, 2), ["cases.received_daily"], reg)
    session.commit()

    with count_statements(session) as statements:
        body = summary(session, now=now)
    assert len(statements) == 3  # the province, the indicator cells, the live backlog
    assert body["reports_today"] == 1
    assert body["open"] == 4
    assert body["month"] == "2026-03"
    assert body["daily"][0] == {"day": "2026-02-17", "count": 1}
    assert body["daily"][-2:] == [{"day": "2026-03-01", "count": 1}, {"day": "2026-03-02", "count": 1}]
    assert sum(d["count"] for d in body["daily"]) == 3


def test_dashboard_panels_render_the_sectors_declarations(
    client: TestClient, session: Session, loaded_areas: LoadedAreas
) -> None:
    reg = sync(session)
    _station(session, "Salt", "salinity", 4.6)
    session.commit()
    year = utcnow().year
    session.add(
        IndicatorTarget(
            indicator_code="environment.salinity_days_4", area_id=loaded_areas.province_id, year=year,
            value=2.0, set_at=utcnow(),
        )
    )  # fmt: skip
    session.commit()
    assert reg.indicators["environment.salinity_days_4"].unit == "d"
    got = client.get("/api/v1/dashboard/panels")
    assert got.status_code == 200
    by_code = {p["code"]: p for p in got.json()}
    latest = by_code["environment.latest"]
    assert latest["kind"] == "latest_values"
    assert [(d["property"], d["value"], d["level"]) for d in latest["data"]] == [("salinity", 4.6, "bad")]
    tiles = {d["code"]: d for d in by_code["environment.days"]["data"]}
    assert tiles["environment.salinity_days_4"]["target"] == 2.0
    assert tiles["environment.salinity_days_4"]["value"] is None  # nothing computed yet: no value, no status
    assert by_code["environment.stations"]["kind"] == "place_layer"
    assert client.get("/api/v1/dashboard/panels", params={"area_id": 999_999}).status_code == 404
