"""The demo's simulated history: stored up to the end time, AQI and rules run on it, idempotent."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from rich.console import Console
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.alerts.models import Alert, AlertState, Severity
from cityops.alerts.plugin import load_demo as load_alert_rules
from cityops.alerts.service import sweep_staleness
from cityops.clock import utcnow
from cityops.sectors.environment.backfill import backfill, backfill_year
from cityops.sectors.environment.demo import LAB_SAMPLES
from cityops.sectors.environment.plugin import load_demo
from cityops.sectors.environment.simulation import RiverStation
from cityops.sectors.environment.stations import BY_CODE, STATIONS
from cityops.sensing.models import Datastream, Observation, ObservationRollup
from cityops.sensing.stations import datastream_index, load_stations
from cityops.settings import Settings

QUIET = Console(file=io.StringIO())
DRY = datetime(2026, 3, 25, 12, 2, tzinfo=UTC)  # dry season: salinity intrudes far up the Vàm Cỏ


def test_backfill_stores_history_up_to_the_end_and_runs_aqi_and_rules(
    session: Session, settings: Settings
) -> None:
    load_alert_rules(session=session, settings=settings, console=QUIET)
    stations = [BY_CODE["SR-CANGIUOC"], BY_CODE["AQ-TANAN"]]
    load_stations(session, stations)
    result = backfill(session, stations, end=DRY, hours=6)
    index = datastream_index(session)
    measured = [ds for (station, code), ds in index.items() if code != "aqi"]
    assert len(measured) == sum(len(s.properties) for s in stations)
    assert result.inserted == len(measured) * 6 * 12  # every 5 minutes for 6 hours
    for ds in measured:
        session.refresh(ds)
        # The latest reading is the last 5-minute mark before the end: 12:00 for an end at 12:02.
        assert ds.last_phenomenon_time == datetime(2026, 3, 25, 12, 0, tzinfo=UTC)
        assert ds.last_value is not None
    sal = index[("SR-CANGIUOC", "salinity")]
    river = BY_CODE["SR-CANGIUOC"].model
    assert isinstance(river, RiverStation)
    assert sal.last_value == river.salinity(datetime(2026, 3, 25, 12, 0, tzinfo=UTC), "SR-CANGIUOC")
    hourly = session.scalar(
        select(func.count())
        .select_from(ObservationRollup)
        .where(ObservationRollup.datastream_id == sal.id, ObservationRollup.interval == "hour")
    )
    assert hourly == 7  # 06:02–12:02 touches the hours 06 … 12
    # Complete hours 07 … 11 get their VN_AQI (the partial first hour and the current hour do not).
    aqi = index[("AQ-TANAN", "aqi")]
    aqi_times = session.scalars(
        select(Observation.phenomenon_time)
        .where(Observation.datastream_id == aqi.id)
        .order_by(Observation.phenomenon_time)
    ).all()
    assert [t.astimezone(UTC).hour for t in aqi_times] == [7, 8, 9, 10, 11]
    assert result.aqi_hours == 5
    # The rules ran: dry-season salinity at Cần Giuộc opens an alert (so may the dry season's AQI), and no
    # station is silent.
    open_alerts = {
        a.datastream_id: a for a in session.scalars(select(Alert).where(Alert.state != AlertState.CLOSED))
    }
    assert set(open_alerts) <= {sal.id, aqi.id}
    assert open_alerts[sal.id].severity in {Severity.WATCH, Severity.WARNING}
    assert "xâm nhập mặn" in open_alerts[sal.id].message_vi
    assert result.alert_changes >= 1
    assert sweep_staleness(session, DRY + timedelta(minutes=1)) == []


def test_backfill_again_adds_only_the_new_points(session: Session, settings: Settings) -> None:
    load_alert_rules(session=session, settings=settings, console=QUIET)
    stations = [BY_CODE["VCT-TANAN"]]
    load_stations(session, stations)
    first = backfill(session, stations, end=DRY, hours=2)
    alerts = session.scalar(select(func.count()).select_from(Alert))
    again = backfill(session, stations, end=DRY + timedelta(minutes=30), hours=2)
    n = len(BY_CODE["VCT-TANAN"].properties)
    assert first.inserted == n * 24
    assert (again.inserted, again.duplicates) == (n * 6, n * 18)
    total = session.scalar(select(func.count()).select_from(Observation))
    assert total == n * 30
    # Points already evaluated are not evaluated again: no alert is opened twice.
    assert session.scalar(select(func.count()).select_from(Alert)) == alerts


def test_demo_hook_backfills_the_last_day_up_to_now(session: Session, settings: Settings) -> None:
    load_alert_rules(session=session, settings=settings, console=QUIET)
    before = utcnow()
    buffer = io.StringIO()
    load_demo(session=session, settings=settings, console=Console(file=buffer, width=200))
    after = utcnow()
    assert "Station history: 10944 simulated observations over the last 24 hours" in buffer.getvalue()
    lab_results = sum(len(v) for v in LAB_SAMPLES.values())
    assert f"Water samples: {lab_results} laboratory results for VN_WQI." in buffer.getvalue()
    streams = session.scalars(select(Datastream)).all()
    # + the two computed AQI streams and one lab stream per sampled parameter
    assert len(streams) == sum(len(s.properties) for s in STATIONS) + 2 + lab_results
    for ds in streams:
        assert ds.last_phenomenon_time is not None, ds.name
        if (ds.properties or {}).get("lab_sample"):  # sampled two days ago at 10:00 local time
            assert after - timedelta(days=3) <= ds.last_phenomenon_time <= after - timedelta(days=1), ds.name
            continue
        # Readings every 5 minutes (hourly for the AQI) ending at the time of loading.
        step = timedelta(hours=2) if (ds.properties or {}).get("computed") else timedelta(minutes=5)
        assert before - step <= ds.last_phenomenon_time <= after, ds.name
    assert sweep_staleness(session, after) == []


def test_backfill_year_stores_hourly_history_before_the_last_day_once(session: Session) -> None:
    stations = [BY_CODE["SR-CANGIUOC"]]
    load_stations(session, stations)
    result = backfill_year(session, stations, end=DRY, days=3)
    index = datastream_index(session)
    measured = [ds for (station, code), ds in index.items() if station == "SR-CANGIUOC"]
    # one reading an hour for 3 days, ending where the detailed last day begins (12:02 the day before DRY)
    assert result.inserted == len(measured) * 3 * 24
    sal = index[("SR-CANGIUOC", "salinity")]
    times = session.scalars(
        select(Observation.phenomenon_time)
        .where(Observation.datastream_id == sal.id)
        .order_by(Observation.phenomenon_time)
    ).all()
    assert times[0] == datetime(2026, 3, 21, 13, 0, tzinfo=UTC)
    assert times[-1] == datetime(2026, 3, 24, 12, 0, tzinfo=UTC)
    assert {t.minute for t in times} == {0}
    again = backfill_year(session, stations, end=DRY, days=3)
    assert again.inserted == 0
    assert again.duplicates == result.inserted
