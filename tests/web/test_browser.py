"""The three front ends in a real browser (Debian's Chromium driven by Playwright), against a live server."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy.orm import Session

from cityops.reports.categories import sync_categories
from cityops.web.assets import manifest
from tests.fixtures_areas import LoadedAreas
from tests.web.conftest import ARTIFACTS, LiveServer

pytestmark = pytest.mark.browser

Shot = Callable[[Any, str], Path]


def test_citizen_pwa_loads_in_vietnamese_and_toggles_to_english(
    browser_context: Any, live_server: LiveServer, shot: Shot
) -> None:
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto("/")
    page.wait_for_selector(".hero h1")
    assert page.locator("html").get_attribute("lang") == "vi"
    assert page.locator(".hero h1").inner_text() == "Cùng chung tay quản lý đô thị"
    assert page.locator(".tabbar a[aria-current=page]").inner_text().strip().endswith("Trang chủ")
    shot(page, "home-vi")
    page.get_by_role("button", name="English").click()
    page.wait_for_selector("text=Help look after your city")
    assert page.locator("html").get_attribute("lang") == "en"
    assert "Report" in page.locator(".tabbar").inner_text()
    shot(page, "home-en")
    # the choice is remembered on the next visit
    page.reload()
    page.wait_for_selector("text=Help look after your city")
    # keyboard: the skip link is the first tab stop and moves focus to the main content
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    assert errors == []


def test_service_worker_caches_the_shell_and_serves_it_offline(
    browser_context: Any, live_server: LiveServer, report_categories: int, shot: Shot
) -> None:
    page = browser_context.new_page()
    page.goto("/")
    page.wait_for_selector(".hero h1")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()  # now controlled by the worker
    page.wait_for_selector(".hero h1")
    assert page.evaluate("navigator.serviceWorker.controller !== null")
    browser_context.set_offline(True)
    page.reload()
    page.wait_for_selector(".hero h1")
    # The offline banner appears once the page notices the network is gone: wait for it, don't race it.
    page.wait_for_selector("#net", state="visible", timeout=10_000)
    assert "Ngoại tuyến" in page.locator("#net").inner_text()
    shot(page, "offline-shell")
    # the report form works offline too: Leaflet chunk precached, categories and boundaries from the cache
    page.click("a.btn-primary[href='#/report']")
    page.wait_for_selector("#pick-map.leaflet-container")
    assert page.locator("#category option").count() > 1
    shot(page, "offline-report-form")
    browser_context.set_offline(False)


@pytest.fixture
def report_categories(session: Session) -> int:
    """The sectors' case categories in the test database."""
    count = sync_categories(session)
    session.commit()
    return count


def test_officer_sign_in_page_renders(browser_context: Any, live_server: LiveServer, shot: Shot) -> None:
    page = browser_context.new_page()
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto("/officer")
    page.wait_for_selector("#login-form")
    assert page.get_by_label("Tên đăng nhập hoặc email").is_visible()
    assert page.get_by_label("Mật khẩu").is_visible()
    page.get_by_label("Tên đăng nhập hoặc email").fill("nobody")
    page.get_by_label("Mật khẩu").fill("wrong-password")
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_selector("#login-error:has-text('Sai tên đăng nhập')")
    shot(page, "officer-login")


def test_ioc_map_draws_area_boundaries(
    browser_context: Any, live_server: LiveServer, loaded_areas: LoadedAreas, shot: Shot
) -> None:
    page = browser_context.new_page()
    page.set_viewport_size({"width": 1600, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto("/ioc")
    page.wait_for_selector("#map[data-areas]")
    drawn = page.locator("#map path.area").count()
    assert drawn >= 97  # the province outline and its 96 communes
    assert page.locator("#map path.area-approx").count() > 0  # demo cells are flagged approximate
    assert page.locator("#kpi-open .kpi-value").inner_text() == "0"
    shot(page, "ioc-map")
    # drill-down: a click on a ward scopes the dashboard to it
    page.locator("#map path.area-commune").nth(40).click(force=True)
    page.wait_for_selector("#crumbs .crumb[aria-current=page]:not(button)")
    shot(page, "ioc-ward")
    assert errors == []


def test_citizen_first_load_weight_is_measured_and_within_budget(
    browser_context: Any, live_server: LiveServer
) -> None:
    """JS and CSS bytes the citizen PWA transfers on a first visit (fresh profile), saved as an artifact."""
    page = browser_context.new_page()
    seen: list[Any] = []
    page.on("requestfinished", lambda req: seen.append(req))
    page.goto("/", wait_until="networkidle")
    page.wait_for_selector(".hero h1")
    totals = {"script": [0, 0], "stylesheet": [0, 0]}  # [transferred body bytes, decoded bytes]
    files: list[dict[str, Any]] = []
    for req in seen:
        if req.resource_type not in totals or req.url.endswith("/sw.js"):
            continue
        res = req.response()
        assert res is not None
        body = len(res.body())
        wire = req.sizes()["responseBodySize"]
        totals[req.resource_type][0] += wire
        totals[req.resource_type][1] += body
        files.append({"url": req.url, "type": req.resource_type, "transferred": wire, "decoded": body})
    # then the report form, which loads Leaflet on demand
    before = len(seen)
    page.click("a.btn-primary[href='#/report']")
    page.wait_for_selector("#pick-map.leaflet-container")
    page.wait_for_load_state("networkidle")
    later = [r for r in seen[before:] if r.resource_type == "script"]
    # the service worker precached these during the first visit: count their brotli size from the build
    built = manifest()
    assert built is not None
    packed = {f"/static/dist/{name}": sizes["br"] for name, sizes in built["compressed"].items()}
    report_js = sum(packed[urlsplit(r.url).path] for r in later)
    report = {
        "report_form_extra_js_transferred": report_js,
        "js_transferred": totals["script"][0],
        "js_decoded": totals["script"][1],
        "css_transferred": totals["stylesheet"][0],
        "css_decoded": totals["stylesheet"][1],
        "files": files,
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "pwa-first-load.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    assert report["js_decoded"] > 0
    assert report["css_decoded"] > 0
    assert report["js_transferred"] < 20 * 1024  # brotli; Leaflet is not needed on the home screen
    assert report["css_transferred"] < 12 * 1024
    assert 0 < report_js < 80 * 1024  # Leaflet arrives with the first map


def test_citizen_pwa_is_installable(browser_context: Any, live_server: LiveServer) -> None:
    """Chromium's own installability check (manifest, service worker, icons) reports no error."""
    page = browser_context.new_page()
    page.goto("/")
    page.wait_for_selector(".hero h1")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    cdp = browser_context.new_cdp_session(page)
    errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    # Playwright's contexts are incognito-like profiles, where Chromium never offers installation
    errors = [e for e in errors if e["errorId"] != "in-incognito"]
    assert errors == [], errors
    manifest_info = cdp.send("Page.getAppManifest")
    assert manifest_info["errors"] == []
