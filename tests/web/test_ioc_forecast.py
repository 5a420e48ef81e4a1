"""The IOC draws the forecast band (#16): a water-level station with forecasts gets a forecast chart beside
its observations, saying when the forecast was issued."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from cityops.clock import utcnow
from cityops.forecasting.service import run_all
from cityops.sensing.models import Thing
from cityops.specs import ForecastTargetSpec
from tests.fixtures_identity import DEFAULT_PASSWORD
from tests.kit.factories import Factory
from tests.web.conftest import LiveServer

pytestmark = pytest.mark.browser


def test_the_ioc_shows_the_forecast_band(
    live_server: LiveServer, browser_context: Any, factory: Factory, sessions: sessionmaker[Session]
) -> None:
    ward = factory.area("Phường Dự Báo")
    level = factory.station("water_level", name="Trạm triều Dự Báo", area=ward, kind="water")
    start = (utcnow() - timedelta(days=10)).replace(minute=0, second=0, microsecond=0)
    tide = [1.2 * math.cos(2 * math.pi * i / 12.42) + 0.3 for i in range(10 * 24)]
    factory.observations(level, tide, start=start, step=timedelta(hours=1))
    with sessions.begin() as session:
        thing = session.get(Thing, level.thing_id)
        assert thing is not None
        code = str((thing.properties or {})["station_code"])
        spec = ForecastTargetSpec(
            code=f"{code}:water_level", station=code, property_code="water_level", method="harmonic",
            leads_hours=(1, 6, 12, 24), season_hours=24.84, history_days=10,
        )  # fmt: skip
        assert run_all(session, [spec], backtest=True)[0].written == 4
    operator = factory.user("operator")
    login = browser_context.request.post(
        "/api/v1/auth/login",
        data={"username": operator.username, "password": DEFAULT_PASSWORD, "session": True},
    )
    assert login.status == 200, login.text()
    page = browser_context.new_page()
    page.set_viewport_size({"width": 1920, "height": 1080})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto("/ioc")
    row = page.locator("#station-rows tr", has_text="Trạm triều Dự Báo")
    row.locator("button.station-pick").click()
    page.wait_for_selector("#series-chart figure.forecast canvas")
    band = page.locator("#series-chart figure.forecast")
    assert band.get_attribute("data-forecast-points") == "4"
    caption = band.locator("figcaption").inner_text()
    assert "Dự báo" in caption
    assert "phát hành lúc" in caption
    assert "RMSE" in band.locator("p.forecast-note").inner_text()
    assert errors == []
