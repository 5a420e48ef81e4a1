"""The citizen chooses a ward for alerts on the phone ("where I am"), the alert arrives by Web Push, old
alerts show their age, and offline the list says it could not load — in Chromium, both languages.

Headless Chromium has no push service of its own, so the page's ``PushManager.subscribe`` answers with a
subscription at the test's local push service (real keys); everything after that — registration, the
VAPID-signed encrypted push, its decryption — is the real thing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cityops.alerts.delivery import deliver_event
from cityops.alerts.models import Alert, AlertState, Severity
from cityops.areas.lookup import invalidate_cache
from cityops.clock import utcnow
from cityops.notify.models import PushSubscription
from cityops.settings import Settings
from tests.alerts.support import make_area
from tests.notify.pushkit import Browser, PushService, push_service
from tests.web.conftest import LiveServer

__all__ = ["push_service"]  # the fixture
pytestmark = pytest.mark.browser

LAT, LON = 10.5359, 106.4137  # the browser context's position (Tân An)

FAKE_SUBSCRIBE = """
(sub) => {
  PushManager.prototype.getSubscription = async () => null;
  PushManager.prototype.subscribe = async () => ({ toJSON: () => sub });
}
"""


def test_ward_by_position_push_arrives_and_stale_alerts_show_their_age(
    browser_context: Any,
    live_server: LiveServer,
    sessions: sessionmaker[Session],
    session: Session,
    settings: Settings,
    push_service: PushService,
    shot: Callable[[Any, str], Path],
) -> None:
    with sessions() as s:
        ward = make_area(s, "Phường Long An", "27694")
        ward.lat, ward.lon = LAT, LON
        ward.geometry = {
            "type": "Polygon",
            "coordinates": [
                [
                    [LON - 0.05, LAT - 0.05],
                    [LON + 0.05, LAT - 0.05],
                    [LON + 0.05, LAT + 0.05],
                    [LON - 0.05, LAT + 0.05],
                    [LON - 0.05, LAT - 0.05],
                ]
            ],
        }
        old = Alert(
            severity=Severity.WARNING,
            state=AlertState.OPEN,
            opened_at=utcnow() - timedelta(hours=26),
            area_ids=[ward.id],
            message_vi="Độ mặn cao tại Trạm Long An",
            message_en="High salinity at Long An station",
        )
        s.add(old)
        s.commit()
        ward_id, old_id = ward.id, old.id
    invalidate_cache()
    phone = Browser(f"{push_service.base}/push/phone")
    browser_context.grant_permissions(["geolocation", "notifications"])
    browser_context.add_init_script(f"({FAKE_SUBSCRIBE})({json.dumps(phone.subscription())})")
    page = browser_context.new_page()

    page.goto("/#/alerts")
    item = page.locator(f"#alert-{old_id}")
    item.wait_for()
    assert "cách đây 26 giờ" in item.inner_text()
    page.click("#push-here")
    page.wait_for_selector(f"#push-areas li[data-area-id='{ward_id}']")
    assert "Phường Long An" in page.locator("#push-areas").inner_text()
    page.click("#push-save")
    expect(page.locator("#push-status")).to_have_text("Đã đăng ký nhận cảnh báo.")
    shot(page, "subscribed-vi")
    device_key = page.evaluate("localStorage.getItem('cityops.pushDevice')")
    assert device_key
    mine = page.request.get("/api/v1/push/devices/current", headers={"X-Device-Key": device_key})
    assert mine.status == 200
    assert mine.json()["area_ids"] == [ward_id]
    with sessions() as s:
        assert s.scalars(select(PushSubscription.endpoint)).all() == [phone.endpoint]

    # An alert of the ward reaches the phone, encrypted for its keys.
    new = Alert(
        severity=Severity.WATCH,
        state=AlertState.OPEN,
        opened_at=utcnow(),
        area_ids=[ward_id],
        message_vi="Độ mặn tăng tại Trạm Long An",
        message_en="Salinity rising at Long An station",
    )
    session.add(new)
    session.flush()
    assert deliver_event(session, settings, "alerts.opened", {"alert_id": new.id}) == 1
    session.commit()
    [(path, _, body)] = push_service.received
    assert path == "/push/phone"
    payload = phone.decrypt(body)
    assert (payload["body"], payload["url"]) == ("Độ mặn tăng tại Trạm Long An", f"/#/alerts/{new.id}")

    # Tapping the notification opens the alert; the fresh one shows no age.
    page.goto(f"/#/alerts/{new.id}")
    page.wait_for_selector(f"#alert-{new.id}.focus")
    assert "cách đây" not in page.locator(f"#alert-{new.id}").inner_text()

    # English, then offline: "could not load", not "no alerts".
    page.click("#lang")
    expect(page.locator("#push-sub h2")).to_have_text("Alerts on this phone")
    assert "26 h ago" in page.locator(f"#alert-{old_id}").inner_text()
    shot(page, "subscribed-en")
    browser_context.set_offline(True)
    page.evaluate("location.hash = '#/'")
    page.evaluate("location.hash = '#/alerts'")
    failed = page.locator("#alerts-list [data-state='load-failed']")
    failed.wait_for()
    assert failed.inner_text() == "Could not load alerts. Check your connection."
    page.click("#lang")
    expect(page.locator("#push-sub h2")).to_have_text("Nhận cảnh báo trên điện thoại")
    assert (
        page.locator("#alerts-list [data-state='load-failed']").inner_text()
        == "Không tải được cảnh báo. Hãy kiểm tra mạng."
    )
    assert page.locator("#alerts-list").inner_text().count("Hiện không có cảnh báo") == 0
    shot(page, "offline-vi")
    browser_context.set_offline(False)

    # Unsubscribing deletes the device on the server.
    page.click("#push-stop")
    expect(page.locator("#push-status")).to_have_text("Đã ngừng nhận cảnh báo.")
    assert (
        page.request.get("/api/v1/push/devices/current", headers={"X-Device-Key": device_key}).status == 404
    )
