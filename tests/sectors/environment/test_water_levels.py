"""Water levels against alarm levels I/II/III and the day's tide peaks (worked examples), and the API."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from cityops.clock import LOCAL_TZ, to_local, utcnow
from cityops.sectors.environment.stations import BY_CODE
from cityops.sectors.environment.water_levels import alarm_of, peaks
from cityops.sensing.ingest import ObservationIn, ingest_observations
from cityops.sensing.stations import datastream_index, load_stations

LEVELS = {"I": 1.2, "II": 1.4, "III": 1.6}  # Tân An's demo alarm levels


def test_alarm_levels() -> None:
    assert alarm_of(1.19, LEVELS) is None
    assert alarm_of(1.2, LEVELS) == "I"  # reaching the level counts
    assert alarm_of(1.45, LEVELS) == "II"
    assert alarm_of(1.8, LEVELS) == "III"
    assert alarm_of(1.8, {"III": 1.6, "I": 1.2}) == "III"  # the labels decide, not their order
    assert alarm_of(None, LEVELS) is None
    assert alarm_of(2.0, {}) is None


def test_peaks_of_a_semi_diurnal_day() -> None:
    t0 = datetime(2026, 10, 10, tzinfo=UTC)
    # hourly (max, min): rising to 1.3 at hour 3, falling to -0.8 at hour 9, rising to 1.1 at hour 15
    maxima = [0.2, 0.8, 1.2, 1.3, 1.1, 0.6, 0.0, -0.4, -0.7, -0.6, -0.2, 0.3, 0.7, 1.0, 1.05, 1.1, 0.9]
    rows = [(t0 + timedelta(hours=i), m, m - 0.2) for i, m in enumerate(maxima)]
    highs, lows = peaks(rows)
    assert highs == [(t0 + timedelta(hours=3), 1.3), (t0 + timedelta(hours=15), 1.1)]
    assert [(t, round(v, 3)) for t, v in lows] == [(t0 + timedelta(hours=8), -0.9)]
    assert peaks(rows[:2]) == ([], [])  # too few hours


def test_water_levels_api(client: TestClient, sessions: sessionmaker[Session]) -> None:
    now = utcnow()
    local_midnight = datetime.combine(to_local(now).date(), time(0), tzinfo=LOCAL_TZ).astimezone(UTC)
    with sessions() as s:
        load_stations(s, [BY_CODE["VCT-TANAN"], BY_CODE["AQ-TANAN"]])
        ds = datastream_index(s)[("VCT-TANAN", "water_level")]
        # today from local midnight: a peak of 1.5 m (alarm II) at 02:00 local, then falling, then rising to 1.45
        profile = [1.0, 1.3, 1.5, 1.2, 0.8, 0.5, 0.9, 1.45]
        rows = [
            ObservationIn(ds.id, local_midnight + timedelta(hours=i, minutes=10), v)
            for i, v in enumerate(profile)
            if local_midnight + timedelta(hours=i, minutes=10) <= now
        ]
        ingest_observations(s, rows, emit_event=False)
        s.commit()
    body = client.get("/api/v1/environment/water-levels").json()
    assert [st["code"] for st in body] == ["VCT-TANAN"]  # water stations only
    station = body[0]
    assert station["alarm_levels"] == LEVELS
    last = rows[-1].result
    assert station["level_m"] == last
    assert station["alarm"] == alarm_of(last, LEVELS)
    if len(rows) >= 4:  # the 02:00 high water is known once the 03:00 hour has a reading
        assert station["high_waters"][0]["level_m"] == 1.5
        assert to_local(datetime.fromisoformat(station["high_waters"][0]["time"])).hour == 2
    layer = client.get("/api/v1/environment/water-levels.geojson")
    assert layer.status_code == 200
    feature = layer.json()["features"][0]
    assert feature["properties"]["alarm"] == (alarm_of(last, LEVELS) or "none")
    assert "Trạm Tân An" in feature["properties"]["name_vi"]
    assert client.get("/api/v1/environment/water-levels.geojson?area_id=99999999").status_code == 404
