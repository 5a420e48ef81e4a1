"""Report volume per ward and category: daily counts from the cases (local days), and the weekly model with
the working calendar backtested against persistence and a one-week seasonal naive."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cityops.forecasting import report_volume
from cityops.forecasting.datastreams import forecast_info
from cityops.forecasting.models import ForecastScore
from cityops.forecasting.service import run_all
from cityops.sensing.models import Datastream, Observation
from tests.kit.factories import Factory


def test_daily_counts_are_local_days_of_visible_cases(
    factory: Factory, sessions: sessionmaker[Session]
) -> None:
    ward = factory.area()
    other = factory.area()
    # 23:30 local on 1 March is 16:30 UTC; 00:30 local on 2 March is 17:30 UTC on 1 March
    factory.case(area=ward, category="lighting", now=datetime(2026, 3, 1, 16, 30, tzinfo=UTC))
    factory.case(area=ward, category="lighting", now=datetime(2026, 3, 1, 17, 30, tzinfo=UTC))
    factory.case(area=ward, category="lighting", now=datetime(2026, 3, 2, 3, 0, tzinfo=UTC))
    factory.case(area=ward, category="waste", now=datetime(2026, 3, 2, 3, 0, tzinfo=UTC))
    factory.case(area=other, category="lighting", now=datetime(2026, 3, 2, 3, 0, tzinfo=UTC))
    with sessions.begin() as session:
        ds = report_volume.volume_datastream(session, ward.id, "lighting")
        session.flush()
        ds.last_phenomenon_time = None
        stored = report_volume.record_days(session, ds, ward.id, "lighting", until=date(2026, 3, 3))
        assert stored == 180
        counts = {
            t.astimezone(report_volume.LOCAL).date(): n
            for t, n in session.execute(
                select(Observation.phenomenon_time, Observation.result_number).where(
                    Observation.datastream_id == ds.id
                )
            )
        }
    assert counts[date(2026, 3, 1)] == 1
    assert counts[date(2026, 3, 2)] == 2
    assert counts[date(2026, 2, 28)] == 0
    assert sum(v or 0 for v in counts.values()) == 3


def test_the_weekly_model_beats_persistence_on_weekly_counts(sessions: sessionmaker[Session]) -> None:
    today = date(2026, 3, 20)
    now = datetime(2026, 3, 20, 3, 0, tzinfo=UTC)
    with sessions.begin() as session:
        ds = report_volume.volume_datastream(session, 999_001, "waste", synthetic=True)
        assert report_volume.demo_history(session, ds, until=today) == 180
        specs = report_volume.volume_targets(session)
        assert [s.method for s in specs] == ["weekly"]
        results = run_all(session, specs, backtest=True, now=now)
        assert results[0].written == 2
        source_id = ds.id
    with sessions() as session:
        scores = {
            s.lead_hours: s
            for s in session.scalars(
                select(ForecastScore).where(ForecastScore.source_datastream_id == source_id)
            )
        }
        assert sorted(scores) == [24, 168]
        day = scores[24]
        assert day.season_hours == 168.0
        assert day.synthetic is True
        assert day.rmse_model is not None
        assert day.rmse_persistence is not None
        assert (
            day.rmse_model < day.rmse_persistence
        )  # weekends and weekdays differ: yesterday is a poor guess
        assert day.published == "weekly"
        forecasts = {}
        for fds in session.scalars(select(Datastream)).all():
            info = forecast_info(fds)
            if info and info["of"] == source_id:
                obs = session.scalars(select(Observation).where(Observation.datastream_id == fds.id)).one()
                forecasts[info["horizon_hours"]] = obs.phenomenon_time.astimezone(report_volume.LOCAL)
    # the last stored day is 19 March: one day and one week ahead, at local midnight
    assert forecasts[24].date() == today
    assert forecasts[168].date() == today + timedelta(days=6)
    assert forecasts[24].hour == 0
