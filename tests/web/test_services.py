"""The citizen's Services tab in Chromium at a phone viewport (#19): near me from Tân An (nearest first, search
without diacritics, detail card, the last list offline) and the dossier lookup (a wrong second factor reveals
nothing; the right one shows the status)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.places.models import Place
from cityops.sectors.health.demo import load as load_health
from cityops.sectors.public_services.demo import demo_dossiers
from cityops.sectors.public_services.dossiers import upsert
from cityops.sectors.public_services.nearby import haversine_m
from cityops.settings import Settings
from tests.web.conftest import LiveServer

pytestmark = pytest.mark.browser

Shot = Callable[[Any, str], Path]
TAN_AN = (10.5359, 106.4137)  # the browser context's geolocation


def test_near_me_lists_the_nearest_health_facility_and_works_offline(
    browser_context: Any, live_server: LiveServer, session: Session, shot: Shot
) -> None:
    load_health(session, Console(quiet=True))
    session.commit()
    health = session.scalars(
        select(Place).where(Place.type_code.in_(["health_station", "clinic", "hospital"]))
    ).all()
    nearest = min(health, key=lambda p: haversine_m(*TAN_AN, p.lat, p.lon))
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto("/#/services")
    page.get_by_role("link", name="Cơ sở gần tôi").click()
    page.wait_for_selector("#nearby-list .nearby-item")
    first = page.locator("#nearby-list .nearby-item strong").first
    assert first.inner_text() == nearest.name
    assert page.locator("#nearby-list .nearby-item").count() == len(health)
    shot(page, "nearby")
    first.click()
    page.wait_for_selector("#nearby-detail")
    assert page.locator("#nearby-detail h2").inner_text() == nearest.name
    page.fill("#nearby-q", "khanh hau")
    names = page.locator("#nearby-list .nearby-item strong").all_inner_texts()
    assert names
    assert all("Khánh Hậu" in n for n in names)
    # offline: the last fetched list is shown again, marked as saved
    browser_context.set_offline(True)
    page.evaluate("location.hash = '#/services'")
    page.wait_for_selector(".services")
    page.evaluate("location.hash = '#/nearby'")
    page.wait_for_selector("#nearby-list .nearby-item")
    assert "Ngoại tuyến" in page.locator("#nearby-status").inner_text()
    assert page.locator("#nearby-list .nearby-item").count() == len(health)
    browser_context.set_offline(False)
    assert errors == []


def test_dossier_lookup_by_code_and_phone_digits(
    browser_context: Any, live_server: LiveServer, session: Session, settings: Settings, shot: Shot
) -> None:
    report = upsert(session, demo_dossiers(), secret=settings.secret_key, source="demo", demo=True)
    session.commit()
    assert report.rejected == []
    page = browser_context.new_page()
    page.goto("/#/dossier?code=DEMO-2612-0001")  # as the receipt's QR code opens it
    page.wait_for_selector("#dossier-form")
    assert page.input_value("#dossier-code") == "DEMO-2612-0001"
    page.fill("#dossier-digits", "0000")
    page.get_by_role("button", name="Tra cứu").click()
    page.wait_for_selector("#dossier-out .error")
    assert "Không tìm thấy hồ sơ" in page.locator("#dossier-out").inner_text()
    assert page.locator("#dossier-result").count() == 0
    page.fill("#dossier-digits", "5678")
    page.get_by_role("button", name="Tra cứu").click()
    page.wait_for_selector("#dossier-result")
    text = page.locator("#dossier-result").inner_text()
    assert "Đăng ký khai sinh" in text
    assert "Đang xử lý" in text
    assert "Thẩm định, trình ký" in text
    assert "5678" not in text
    shot(page, "dossier")
