"""A rule on a forecast Datastream fires from a forecast run, with texts that say it is a forecast and when
it was issued (the run's ``observations.created`` event, handled as the alerts consumer handles it)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cityops.alerts.models import Alert, Rule, RuleKind
from cityops.alerts.plugin import handle_observations
from cityops.events.models import OutboxEvent
from cityops.forecasting.datastreams import forecast_info
from cityops.forecasting.service import run_all
from cityops.sectors.environment.backfill import backfill_year
from cityops.sectors.environment.forecasts import targets
from cityops.sectors.environment.stations import BY_CODE
from cityops.sensing.models import Datastream, Observation
from cityops.sensing.observation_events import SUBJECT

END = datetime(2026, 3, 25, 12, 0, tzinfo=UTC)  # dry season: salt near the mouth
STATION = "SR-CANGIUOC"


def test_a_salinity_forecast_rule_fires_with_forecast_texts(sessions: sessionmaker[Session]) -> None:
    spec = next(t for t in targets() if t.code == f"{STATION}:salinity")
    with sessions.begin() as session:
        from cityops.sensing.stations import load_stations

        load_stations(session, [BY_CODE[STATION]])
        backfill_year(session, [BY_CODE[STATION]], end=END, days=30)
        run_all(session, [spec], now=END)  # creates the forecast Datastreams and a first run
        lead24 = _lead(session, 24)
        value = session.scalar(
            select(Observation.result_number).where(Observation.datastream_id == lead24.id)
        )
        assert value is not None
        session.add(
            Rule(
                name_vi="Dự báo mặn vượt ngưỡng trong 24 giờ",
                name_en="Salinity forecast above threshold within 24 h",
                kind=RuleKind.THRESHOLD,
                datastream_id=lead24.id,
                parameters={"direction": "above", "levels": [{"severity": "warning", "value": value * 0.5}]},
            )
        )
        before = {e.id for e in session.scalars(select(OutboxEvent))}
    later = datetime(2026, 3, 25, 15, 0, tzinfo=UTC)
    with sessions.begin() as session:
        backfill_year(session, [BY_CODE[STATION]], end=later, days=30)
        run_all(session, [spec], now=later)
    with sessions() as session:
        events = [
            e
            for e in session.scalars(select(OutboxEvent).where(OutboxEvent.subject == SUBJECT))
            if e.id not in before
        ]
    assert events
    changes = sum(handle_observations(sessions, e.payload) for e in events)
    assert changes == 1
    with sessions() as session:
        alert = session.scalars(select(Alert)).one()
        assert alert.datastream_id == _lead(session, 24).id
        assert "DỰ BÁO" in alert.message_vi
        assert "phát hành lúc 22:00 25/03/2026" in alert.message_vi  # 15:00 UTC, Vietnam time
        assert "độ mặn" in alert.message_vi.lower()
        assert "forecast issued at" in alert.message_en
        assert "24 h ahead" in alert.message_en


def _lead(session: Session, hours: int) -> Datastream:
    for ds in session.scalars(select(Datastream)).all():
        info = forecast_info(ds)
        if info and info["horizon_hours"] == hours and info["target"].startswith(STATION):
            return ds
    raise AssertionError(f"no {hours} h forecast Datastream")
