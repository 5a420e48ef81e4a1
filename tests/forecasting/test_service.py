"""Forecasts stored as Datastreams, every run kept, backtests stored, the API (SQLite and PostgreSQL).

The station series come from the simulator: synthetic, and the backtest endpoint says so.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cityops.forecasting.datastreams import forecast_info
from cityops.forecasting.models import ForecastScore
from cityops.forecasting.service import run_all
from cityops.sectors.environment.backfill import backfill_year
from cityops.sectors.environment.forecasts import targets
from cityops.sectors.environment.stations import BY_CODE
from cityops.sensing.models import Datastream, Observation
from cityops.sensing.stations import datastream_index, load_stations

END = datetime(2026, 3, 25, 12, 0, tzinfo=UTC)  # dry season
STATION = "VC-CANDUOC"


@pytest.fixture
def loaded(sessions: sessionmaker[Session]) -> dict[str, int]:
    """One river station with 35 days of hourly simulated history; its forecasts run and backtested once."""
    specs = [t for t in targets() if t.station == STATION]
    with sessions.begin() as session:
        load_stations(session, [BY_CODE[STATION]])
        backfill_year(session, [BY_CODE[STATION]], end=END, days=35)
        results = run_all(session, specs, backtest=True, now=END)
        assert {r.target for r in results} == {f"{STATION}:water_level", f"{STATION}:salinity"}
        index = datastream_index(session)
        return {code: index[(STATION, code)].id for code in ("water_level", "salinity")}


def _forecast_streams(session: Session, source_id: int) -> dict[int, Datastream]:
    out = {}
    for ds in session.scalars(select(Datastream)).all():
        info = forecast_info(ds)
        if info and info["of"] == source_id:
            out[int(info["horizon_hours"])] = ds
    return out


def test_a_run_writes_one_forecast_per_lead_at_its_target_time(
    sessions: sessionmaker[Session], loaded: dict[str, int]
) -> None:
    with sessions() as session:
        streams = _forecast_streams(session, loaded["water_level"])
        assert sorted(streams) == [1, 6, 12, 24, 48]
        last = END - timedelta(hours=24, minutes=0)  # backfill_year stops a day before its end
        for lead, ds in streams.items():
            rows = session.scalars(select(Observation).where(Observation.datastream_id == ds.id)).all()
            assert len(rows) == 1
            obs = rows[0]
            assert obs.result_time == END
            assert obs.phenomenon_time == last - timedelta(hours=1) + timedelta(hours=lead)
            assert obs.parameters is not None
            assert obs.parameters["model"] == (forecast_info(ds) or {})["model"]
            assert obs.result_number is not None


def test_the_backtest_is_stored_against_both_baselines_and_harmonics_beat_persistence(
    sessions: sessionmaker[Session], loaded: dict[str, int]
) -> None:
    with sessions() as session:
        scores = {
            s.lead_hours: s
            for s in session.scalars(
                select(ForecastScore).where(ForecastScore.source_datastream_id == loaded["water_level"])
            )
        }
    assert sorted(scores) == [1, 6, 12, 24, 48]
    six = scores[6]
    assert six.model == "harmonic"
    assert six.synthetic is True
    assert six.rmse_persistence is not None
    assert six.rmse_seasonal is not None
    assert six.rmse_model is not None
    assert six.rmse_model < six.rmse_persistence  # tides: six hours is half a semidiurnal cycle
    assert six.skill_persistence is not None
    assert six.skill_persistence > 0.5
    assert six.published == "harmonic"
    for score in scores.values():  # published only where it beats persistence and the seasonal naive
        assert score.rmse_model is not None
        assert score.rmse_persistence is not None
        assert score.rmse_seasonal is not None
        best = score.rmse_model < score.rmse_persistence and score.rmse_model <= score.rmse_seasonal
        assert (score.published == "harmonic") == best


def test_every_run_is_kept_and_the_api_serves_latest_and_issued_at(
    sessions: sessionmaker[Session], loaded: dict[str, int], client: TestClient
) -> None:
    later = END + timedelta(hours=3)
    with sessions.begin() as session:
        backfill_year(session, [BY_CODE[STATION]], end=later, days=35)  # three more hours of readings
        run_all(session, [t for t in targets() if t.code == f"{STATION}:water_level"], now=later)
    wl = loaded["water_level"]
    latest = client.get(f"/api/v1/forecasts/{wl}/latest")
    assert latest.status_code == 200
    body = latest.json()
    assert body["issued_at"].startswith("2026-03-25T15:00:00")
    assert [p["lead_hours"] for p in body["points"]] == [1, 6, 12, 24, 48]
    first = client.get(f"/api/v1/forecasts/{wl}", params={"issued_at": "2026-03-25T12:00:00Z"})
    assert first.status_code == 200
    assert first.json()["issued_at"].startswith("2026-03-25T12:00:00")
    assert [p["time"] for p in first.json()["points"]] != [p["time"] for p in body["points"]]
    # a forecast Datastream's id answers for what it forecasts
    one = body["points"][0]["forecast_datastream_id"]
    assert client.get(f"/api/v1/forecasts/{one}/latest").json()["issued_at"] == body["issued_at"]


def test_the_backtest_endpoint_labels_synthetic_skill(client: TestClient, loaded: dict[str, int]) -> None:
    res = client.get(f"/api/v1/forecasts/{loaded['salinity']}/backtest")
    assert res.status_code == 200
    body = res.json()
    assert body["synthetic"] is True
    assert "synthetic" in body["note_en"].lower()
    assert "mô phỏng" in body["note_vi"]
    assert [lead["lead_hours"] for lead in body["leads"]] == [6, 24, 48, 72, 168]
    for lead in body["leads"]:
        assert set(lead["rmse"]) == {"model", "persistence", "seasonal_naive"}
        assert lead["baseline"] == (lead["published"] != "salinity")


def test_unknown_or_unforecast_datastreams_are_404(client: TestClient, loaded: dict[str, int]) -> None:
    assert client.get("/api/v1/forecasts/999999/latest").status_code == 404
    assert client.get("/api/v1/forecasts/999999/backtest").status_code == 404
    res = client.get(
        f"/api/v1/forecasts/{loaded['water_level']}", params={"issued_at": "2020-01-01T00:00:00Z"}
    )
    assert res.status_code == 404
    assert (
        client.get(f"/api/v1/forecasts/{loaded['water_level']}", params={"issued_at": "soon"}).status_code
        == 422
    )


def test_the_forecast_reads_cost_a_fixed_number_of_statements(
    client: TestClient, loaded: dict[str, int]
) -> None:
    from tests.kit.queries import app_engine, count_queries

    sal = loaded["salinity"]
    client.get(f"/api/v1/forecasts/{sal}/latest")  # warm the app's caches
    with count_queries(app_engine(client)) as latest:
        assert client.get(f"/api/v1/forecasts/{sal}/latest").status_code == 200
    with count_queries(app_engine(client)) as backtest:
        assert client.get(f"/api/v1/forecasts/{sal}/backtest").status_code == 200
    # the Datastream, the forecast Thing, its Datastreams, (the latest issue time,) the rows — not one per lead
    assert latest.count == 5, latest
    assert backtest.count == 4, backtest
