"""Issue #14 in Debian's Chromium on the demo data: the README's officer finds work, finishes a case with an
after-photo, transfers one and lands on the inbox; a supervisor assigns to the agency's officers; one named
deadline; Vietnamese labels for question codes and error codes; the citizen sees their own photo, a map and the
ward of their report. Screenshots at phone (390×844) and desktop (1440×900) size in both languages."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.identity.models import Agency, User
from cityops.identity.passwords import hash_password
from cityops.reports.models import Case
from tests.web.conftest import LiveServer
from tests.web.test_flows import demo, image_loaded, jpeg, wait_for_gps, ward_point

pytestmark = pytest.mark.browser
__all__ = ["demo"]  # the fixture, imported for these tests

Shot = Callable[[Any, str], Path]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}
PASSWORD = "mật khẩu thử nghiệm đủ dài"


def demo_account(session: Session, username: str) -> User:
    """A demo user of the README, with a password the test knows (outside dev mode they get a random one)."""
    user = session.scalar(select(User).where(User.username == username))
    assert user is not None, f"the demo has {username}"
    user.password_hash = hash_password(PASSWORD)
    session.commit()
    return user


def sign_in(page: Any, username: str) -> None:
    page.goto("/officer")
    page.get_by_label("Tên đăng nhập hoặc email").fill(username)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_selector("#inbox tbody tr[data-ref]")


def test_demo_officer_finishes_a_case_and_transfers_one(
    demo: None, live_server: LiveServer, chromium: Any, session: Session, tmp_path: Path, shot: Shot
) -> None:
    officer = demo_account(session, "tanan.officer")
    mine = session.scalars(select(Case).where(Case.agency_id.in_(officer.agency_ids)).order_by(Case.id)).all()
    states = {c.state for c in mine}
    assert {"submitted", "acknowledged", "in_progress"} <= states, (
        "the README's officer has work of every kind"
    )
    working = next(c for c in mine if c.state == "in_progress")
    acknowledged = next(c for c in mine if c.state == "acknowledged")
    context = chromium.new_context(base_url=live_server.url, locale="vi-VN", viewport=DESKTOP)
    errors: list[str] = []
    try:
        desk = context.new_page()
        desk.on("pageerror", lambda exc: errors.append(str(exc)))
        sign_in(desk, "tanan.officer")
        assert desk.locator("#inbox tbody tr[data-ref]").count() == len(mine)
        # one deadline a row, named: the acknowledgement one while unacknowledged, else the resolution one
        new_row = desk.locator(f"#inbox tr[data-ref='{mine[0].ref}'] .dl")
        assert "Hạn tiếp nhận" in new_row.inner_text()
        working_row = desk.locator(f"#inbox tr[data-ref='{working.ref}'] .dl").inner_text()
        assert "Hạn xử lý" in working_row
        shot(desk, "inbox-desktop-vi")

        # the case page shows the same named deadline, and its default action is progress, never destructive
        desk.click(f"#inbox tr[data-ref='{acknowledged.ref}'] a")
        desk.wait_for_selector("#action-form")
        assert desk.locator("#action").input_value() == "start"
        assert desk.locator("#action option[value=resolve]").count() == 0  # not from this state
        assert desk.locator("#action option[value=assign]").count() == 0  # a supervisor's action
        assert desk.locator(".case-main .dl").inner_text().startswith("Hạn xử lý")
        desk.click("#do-action")
        desk.wait_for_selector(".case-main .badge.state-in_progress")
        # now "Hoàn thành" is offered first, with an after-photo
        assert desk.locator("#action").input_value() == "resolve"
        assert desk.locator("#do-action").inner_text() == "Hoàn thành"
        assert "Trần Văn Cán Bộ" in desk.locator("#assignee-now").inner_text()
        # resolving with neither photo nor text is refused in Vietnamese before anything is sent
        desk.click("#do-action")
        assert "ảnh sau xử lý" in desk.locator("#action-error").inner_text()
        desk.set_input_files("#after-photo", str(jpeg(tmp_path / "after.jpg", (40, 160, 60))))
        desk.fill("#comment", "Đã thay nắp cống mới.")
        shot(desk, "case-resolve-desktop-vi")
        desk.click("#do-action")
        desk.wait_for_selector(".case-main .badge.state-resolved")
        desk.wait_for_selector("#toast:has-text('Đã hoàn thành phản ánh')")
        assert desk.locator("#case-photos figure img").count() >= 1

        # transfer: the case leaves the agency, the job ends on the inbox with a confirmation, no error
        other = session.scalar(select(Agency).where(Agency.code == "so-xd"))
        assert other is not None
        desk.goto(f"/officer#/case/{working.ref}")
        desk.wait_for_selector("#action-form")
        desk.select_option("#action", "transfer")
        assert "btn-danger" in (desk.locator("#do-action").get_attribute("class") or "")
        desk.select_option("#agency", str(other.id))
        desk.fill("#comment", "Thuộc thẩm quyền Sở Xây dựng.")
        desk.click("#do-action")
        desk.wait_for_selector("main[data-view=inbox] #inbox")
        toast = desk.locator("#toast").inner_text()
        assert toast == f"Đã chuyển phản ánh {working.ref} sang {other.name}."
        assert "Có lỗi" not in desk.locator("body").inner_text()
        assert desk.locator(f"#inbox tr[data-ref='{working.ref}']").count() == 0
        shot(desk, "transfer-ends-on-inbox-vi")

        # an API error reads in Vietnamese from its code: the transferred case is no longer ours
        desk.goto(f"/officer#/case/{working.ref}")
        desk.wait_for_selector("main .error")
        assert (
            desk.locator("main .error").inner_text()
            == "Bạn không có quyền thực hiện thao tác này với phản ánh này."
        )

        # the phone-sized workspace, in English
        desk.set_viewport_size(PHONE)
        desk.goto("/officer#/")
        desk.get_by_role("button", name="English").click()
        desk.wait_for_selector("h1:has-text('Inbox')")
        desk.wait_for_selector("#inbox tbody tr[data-ref]")
        assert "Acknowledge by" in desk.locator("#inbox").inner_text()
        shot(desk, "inbox-phone-en")
    finally:
        context.close()
    assert errors == []


def test_supervisor_assigns_to_an_officer_of_the_agency(
    demo: None, live_server: LiveServer, chromium: Any, session: Session, shot: Shot
) -> None:
    demo_account(session, "tanan.supervisor")
    officer = session.scalar(select(User).where(User.username == "tanan.officer"))
    assert officer is not None
    case = session.scalar(
        select(Case).where(Case.agency_id.in_(officer.agency_ids), Case.state == "acknowledged").limit(1)
    )
    assert case is not None
    context = chromium.new_context(base_url=live_server.url, locale="vi-VN", viewport=DESKTOP)
    try:
        desk = context.new_page()
        sign_in(desk, "tanan.supervisor")
        desk.goto(f"/officer#/case/{case.ref}")
        desk.wait_for_selector("#action-form")
        desk.select_option("#action", "assign")
        options = desk.locator("#assignee option").all_inner_texts()
        assert any("Trần Văn Cán Bộ" in o for o in options), options
        assert desk.locator("#assignee").input_value() == str(officer.id)  # an officer, not the supervisor
        shot(desk, "supervisor-assign-vi")
        desk.click("#do-action")
        desk.wait_for_selector(".case-main .badge.state-assigned")
        assert "Trần Văn Cán Bộ" in desk.locator("#assignee-now").inner_text()
    finally:
        context.close()
    session.expire_all()
    assigned = session.get(Case, case.id)
    assert assigned is not None
    assert assigned.assignee_id == officer.id


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_citizen_sees_questions_in_one_language_own_photo_map_and_ward(
    demo: None,
    live_server: LiveServer,
    browser_context: Any,
    session: Session,
    tmp_path: Path,
    shot: Shot,
    lang: str,
) -> None:
    lat, lon = ward_point(session)
    browser_context.set_geolocation({"latitude": lat, "longitude": lon})
    page = browser_context.new_page()
    page.set_viewport_size(PHONE)
    if lang == "en":
        page.goto("/")
        page.get_by_role("button", name="English").click()
    page.goto("/#/report")
    page.wait_for_selector("#category option[value='roads']", state="attached")
    wait_for_gps(page)
    page.select_option("#category", "roads")
    label = page.locator("label[for='q-road_damage']").inner_text()
    values = page.locator("#q-road_damage option").all_inner_texts()
    if lang == "vi":
        assert label == "Loại hư hỏng *"
        assert "Ổ gà" in values
        assert "Pothole" not in values
    else:
        assert label == "Damage *"
        assert "Pothole" in values
        assert "Ổ gà" not in values
    page.select_option("#q-road_damage", "pothole")
    page.set_input_files("#photo-pick", str(jpeg(tmp_path / "before.jpg", (120, 60, 40))))
    page.fill("#description", "Ổ gà sâu trước chợ")
    page.check("#consent")
    shot(page, f"report-form-phone-{lang}")
    page.click("#submit")
    page.wait_for_selector("article.case h1:has-text('PA-')")
    # the photo awaits review (the public does not see it) but its sender does, from this device
    assert image_loaded(page, page.locator("#my-photos img"))
    page.wait_for_selector("#case-map.leaflet-container")
    assert page.locator("#case-map .pin").count() == 1
    assert page.locator("#case-ward").inner_text() == "Phường Tân An"
    due = "Hạn xử lý" if lang == "vi" else "Resolve by"
    assert due in page.locator("article.case dl.meta").inner_text()
    shot(page, f"citizen-case-phone-{lang}")

    # the officer reads the answers with their labels, not `road_damage pothole`
    ref = page.locator("article.case h1").inner_text()
    case = session.scalar(select(Case).where(Case.ref == ref))
    assert case is not None
    if lang == "vi" and case.agency_id is not None:
        agency_officer = session.scalar(
            select(User).where(User.role == "officer", User.memberships.any(agency_id=case.agency_id))
        )
        if agency_officer is not None:
            demo_account(session, agency_officer.username or "")
            desk = browser_context.new_page()
            desk.set_viewport_size(DESKTOP)
            sign_in(desk, agency_officer.username or "")
            desk.goto(f"/officer#/case/{ref}")
            desk.wait_for_selector("#answers")
            text = desk.locator("#answers").inner_text()
            assert "Loại hư hỏng" in text
            assert "Ổ gà" in text
            assert "road_damage" not in text
            assert "pothole" not in text
            shot(desk, "officer-answers-desktop-vi")
