"""The base map in Chromium: without one the wards are named on the map; with an imported PMTiles archive
the map draws its tiles, read from cityops with range requests (206), nothing from the internet."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy.orm import Session, sessionmaker

from cityops.areas.lookup import invalidate_cache
from cityops.basemap.archive import import_archive
from cityops.settings import Settings
from tests.alerts.support import make_area
from tests.basemap.test_basemap import tiny_archive
from tests.web.conftest import LiveServer

pytestmark = pytest.mark.browser
LAT, LON = 10.5359, 106.4137


def _ward(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        ward = make_area(s, "Phường Long An", "27694")
        ward.lat, ward.lon = LAT, LON
        d = 0.02
        ward.geometry = {
            "type": "Polygon",
            "coordinates": [
                [
                    [LON - d, LAT - d],
                    [LON + d, LAT - d],
                    [LON + d, LAT + d],
                    [LON - d, LAT + d],
                    [LON - d, LAT - d],
                ]
            ],
        }
        s.commit()
    invalidate_cache()


def test_wards_are_named_without_a_base_map_and_the_archive_is_drawn_when_imported(
    browser_context: Any,
    live_server: LiveServer,
    sessions: sessionmaker[Session],
    settings: Settings,
    tmp_path: Path,
    shot: Callable[[Any, str], Path],
) -> None:
    _ward(sessions)
    outside: list[str] = []
    browser_context.on(
        "request",
        lambda r: (
            outside.append(r.url) if not r.url.startswith((live_server.url, "blob:", "data:")) else None
        ),
    )
    page = browser_context.new_page()
    page.goto("/#/map")
    label = page.locator(".leaflet-tooltip.area-label")
    expect(label).to_have_text("Phường Long An")
    assert page.locator(".leaflet-container").get_attribute("data-basemap") is None
    shot(page, "no-basemap-labels")

    archive = tmp_path / "tayninh.pmtiles"
    tiny_archive(archive)
    import_archive(settings, archive)
    ranges: list[tuple[int, str]] = []
    page.on(
        "response",
        lambda r: (
            ranges.append((r.status, r.headers.get("content-range", "")))
            if "/basemap/basemap.pmtiles" in r.url
            else None
        ),
    )
    page.reload()
    page.goto("/#/map")
    expect(page.locator(".leaflet-container[data-basemap='pmtiles']")).to_have_count(1)
    expect(page.locator("img.leaflet-tile-loaded").first).to_be_attached()
    assert ranges
    assert all(status == 206 and cr.startswith("bytes ") for status, cr in ranges)
    assert page.locator(".leaflet-tooltip.area-label").count() == 0  # the base map names places itself
    shot(page, "pmtiles-basemap")
    assert outside == []
