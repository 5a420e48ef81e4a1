"""The IOC wall in Chromium at 1920×1080: an operator acknowledges an alert, drills into a ward and sees the
KPIs, alerts, stations and charts scoped to it; sector map layers in the layer toggle; both languages
screenshotted; the same layout at 4K scales by rem."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cityops.clock import utcnow
from cityops.indicators.engine import recompute
from cityops.indicators.registry import sync
from cityops.plugins import hookimpl, plugin_manager
from cityops.specs import DashboardPanelSpec, LegendEntry
from tests.fixtures_identity import DEFAULT_PASSWORD
from tests.kit.factories import MOMENT, Factory
from tests.web.conftest import LiveServer

pytestmark = pytest.mark.browser

Shot = Callable[[Any, str], Path]
NAME = "tests.web.ioc_browser_layers"


class OutlineLayer:
    """A sector-like ``map_layer`` served by an existing GeoJSON path (the ward outlines), coloured by level."""

    @hookimpl
    def dashboard_panels(self) -> list[DashboardPanelSpec]:
        return [
            DashboardPanelSpec(
                "test.outlines", "Ranh giới thử", "Test outlines", "test", "map_layer",
                layer_url="/api/v1/areas.geojson", style_property="level",
                legend=(LegendEntry("commune", "#8e24aa", "Phường/xã", "Commune"),), order=1,
            ),
            DashboardPanelSpec(
                "test.staff", "Lớp nội bộ", "Staff layer", "test", "map_layer", audience="staff",
                layer_url="/api/v1/areas.geojson", default_on=False, order=2,
            ),
        ]  # fmt: skip


@pytest.fixture
def outline_layer() -> Iterator[None]:
    plugin_manager().register(OutlineLayer(), name=NAME)
    yield
    plugin_manager().unregister(name=NAME)


def test_operator_acknowledges_an_alert_and_drills_into_a_ward(
    live_server: LiveServer, browser_context: Any, factory: Factory, outline_layer: None, shot: Shot
) -> None:
    ward = factory.area("Phường Thử Tường")
    other = factory.area("Phường Thử Khác")
    salty = factory.station("salinity", name="Trạm mặn Tường", area=ward)
    factory.station("salinity", name="Trạm xa", area=other)
    factory.station("water_level", name="Trạm cùng chỗ", area=ward)  # same spot, never reported
    factory.observations(salty, [0.6, 0.9, 1.4, 2.2], start=utcnow() - timedelta(minutes=20))
    here = factory.alert(areas=[ward])
    factory.alert(areas=[other])
    factory.case(area=ward)
    factory.case(area=other)
    operator = factory.user("operator")
    with factory.sessions() as s:  # the monthly case indicators the KPI trends read
        reg = sync(s)
        s.commit()
        recompute(s, MOMENT.date().replace(day=1), MOMENT.date(), ["cases.received"], reg)
        s.commit()

    page = browser_context.new_page()
    page.set_viewport_size({"width": 1920, "height": 1080})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login = browser_context.request.post(
        "/api/v1/auth/login",
        data={"username": operator.username, "password": DEFAULT_PASSWORD, "session": True},
    )
    assert login.status == 200, login.text()
    page.goto("/ioc")
    page.wait_for_selector("#map[data-areas]")
    page.wait_for_selector(f"#alerts li.alert[data-id='{here.id}'] button.ack")
    assert page.locator("#alerts li.alert").count() >= 2  # the province sees both wards' alerts
    # the sector layer is drawn and listed with its legend; the staff layer is offered, off by default
    outlines = "#layers .layer[data-layer='test.outlines']"
    page.wait_for_selector(f"{outlines}:not([data-features='0']) .layer-legend")
    assert page.locator(f"{outlines} input").is_checked()
    assert not page.locator("#layers .layer[data-layer='test.staff'] input").is_checked()
    assert "Phường/xã" in page.locator(f"{outlines} .layer-legend").inner_text()

    page.locator(f"#alerts li.alert[data-id='{here.id}'] button.ack").click()
    page.wait_for_selector(f"#alerts li.alert[data-id='{here.id}'][data-state=acknowledged]")
    assert "Đã xác nhận" in page.locator(f"#alerts li.alert[data-id='{here.id}']").inner_text()

    # drill into the ward: KPIs, alerts, stations, cases and charts follow
    page.select_option("#ward-pick", str(ward.id))
    page.wait_for_selector(f"#kpis[data-area='{ward.id}']")
    page.wait_for_function(
        "() => document.querySelectorAll('#station-rows tr').length === 2"
        " && document.querySelectorAll('#alerts li.alert').length === 1"
    )
    assert page.locator("#alerts li.alert").get_attribute("data-id") == str(here.id)
    assert "Trạm mặn Tường" in page.locator("#station-rows").inner_text()
    rows = page.locator("#station-rows tr")
    assert rows.first.get_attribute("data-health") == "online"  # the worst level first
    assert rows.nth(1).get_attribute("data-health") == "offline"
    # two stations on one spot: the worse stays, the other is fanned out beside it
    spread = page.evaluate(
        "() => [...document.querySelectorAll('.station span')].map(s => s.style.translate || '')"
    )
    assert sorted(bool(t) for t in spread) == [False, True], spread
    assert page.locator("#kpi-open .kpi-value").inner_text() == "1"
    page.wait_for_function("() => document.querySelectorAll('#case-rows tr').length === 1")
    # the KPI trend of the ward's monthly reports, from indicator values: one report in March
    trend = page.locator("#trends li.trend[data-code='cases.received'] .trend-value")
    assert trend.inner_text().startswith("1"), trend.inner_text()
    assert "Phường Thử Tường" in page.locator("#case-rows").inner_text()
    page.locator("#station-rows button.station-pick").first.click()
    page.wait_for_selector("#series-chart figure.param canvas")
    figure = page.locator("#series-chart figure.param")
    assert figure.get_attribute("data-thresholds") == "2"  # warn 1 g/L and bad 4 g/L, from the panel
    assert figure.get_attribute("data-points") == "4"
    assert "g/L" in page.locator("#series-title").inner_text()
    # a custom range with no readings: the chart says so; a wrong date is refused in words
    page.locator("#range [data-range=custom]").click()
    page.fill("#range-from", "31/02/2020")
    page.fill("#range-to", "01/01/2020")
    page.locator("#range .custom button").click()
    assert "dd/mm/yyyy" in page.locator("#range .range-error").inner_text()
    page.fill("#range-from", "01/01/2020")
    page.fill("#range-to", "02/01/2020")
    page.locator("#range .custom button").click()
    page.wait_for_selector("#series-chart figure.param p.muted")
    page.locator("#range [data-range='7d']").click()
    page.wait_for_selector("#series-chart figure.param[data-points='4']")

    # the layout fits the wall: nothing below 1080 px but the sector panels, no sideways scroll
    fits = page.evaluate(
        "() => ({bottom: document.querySelector('.ioc-grid').getBoundingClientRect().bottom,"
        " wide: document.documentElement.scrollWidth, rem: getComputedStyle(document.documentElement).fontSize})"
    )
    assert fits["bottom"] <= 1080, fits
    assert fits["wide"] <= 1920, fits
    assert fits["rem"] == "16px", fits
    shot(page, "ioc-wall-ward-vi")
    page.locator("#lang").click()
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    page.wait_for_function(
        "() => document.querySelector('#alerts .acked')?.textContent.includes('Acknowledged at')"
    )
    assert "Monitoring stations" in page.locator("#stations-title").inner_text()
    shot(page, "ioc-wall-ward-en")

    page.set_viewport_size({"width": 3840, "height": 2160})
    page.wait_for_function("() => getComputedStyle(document.documentElement).fontSize === '32px'")
    # the charts are redrawn at the wall's size, not left at 1080p's
    page.wait_for_function(
        "() => document.querySelector('#daily-chart .uplot').offsetWidth"
        " > 0.9 * document.querySelector('#daily-chart').clientWidth - 20"
        " && document.querySelector('#daily-chart').clientWidth > 800"
    )
    wall = page.evaluate(
        "() => ({bottom: document.querySelector('.ioc-grid').getBoundingClientRect().bottom,"
        " wide: document.documentElement.scrollWidth})"
    )
    assert wall["bottom"] <= 2160, wall
    assert wall["wide"] <= 3840, wall
    shot(page, "ioc-wall-4k-en")
    assert errors == []
