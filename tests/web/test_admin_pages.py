"""Admin pages in Chromium: the admin adds a category and makes a ward live, in Vietnamese and English.

Checks the page's own validation messages in both languages, the server's refusal of a used code shown as
a sentence, and that what the pages did is what the API then holds (category offered to citizens, ward
in the public live-areas list). Screenshots go to test-artifacts/web/.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy.orm import Session, sessionmaker

from cityops.areas.models import Area
from cityops.identity.models import Role, User
from cityops.reports.categories import sync_categories
from cityops.text import search_key
from tests.web.conftest import LiveServer
from tests.web.test_flows import sign_in

pytestmark = pytest.mark.browser


def _areas(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as s:
        province = Area(
            code="72", level="province", kind="Tỉnh", name="Tây Ninh", name_key=search_key("Tây Ninh")
        )
        s.add(province)
        s.flush()
        ids = {}
        for code, name in (("27694", "Phường Long An"), ("27695", "Phường Tân An"), ("27700", "Xã Bến Lức")):
            area = Area(
                code=code,
                level="commune",
                kind="Xã",
                name=name,
                name_key=search_key(name),
                parent_id=province.id,
            )
            s.add(area)
            s.flush()
            ids[name] = area.id
        sync_categories(s)
        s.commit()
    return ids


def test_admin_adds_a_category_and_makes_a_ward_live(
    browser_context: Any,
    live_server: LiveServer,
    sessions: sessionmaker[Session],
    make_user: Callable[..., User],
    shot: Callable[[Any, str], Path],
) -> None:
    ids = _areas(sessions)
    admin = make_user(Role.ADMIN)
    officer = make_user(Role.OFFICER)
    page = browser_context.new_page()
    page.set_viewport_size({"width": 1280, "height": 900})  # admins work at a desk
    sign_in(page, admin)
    page.click("#admin-link")
    page.wait_for_selector("#admin-categories table")

    # The page's own checks, in Vietnamese.
    page.fill("#cat-code", "Biển báo")
    page.click("#cat-submit")
    expect(page.locator("#cat-code-error")).to_contain_text("Mã chỉ gồm chữ thường không dấu")
    expect(page.locator("#cat-name-vi-error")).to_have_text("Hãy nhập tên (ít nhất 2 ký tự).")
    page.fill("#cat-code", "bien_bao_hong")
    page.fill("#cat-name-vi", "Biển báo giao thông hỏng")
    page.fill("#cat-name-en", "Damaged traffic sign")
    page.fill("#cat-group", "Giao thông")
    page.fill("#cat-sla", "16")
    page.check("#cat-urgent")
    page.fill("#q-code", "kind")
    page.fill("#q-label", "Loại biển")
    page.fill("#q-label-en", "Sign type")
    page.select_option("#q-type", "singlevaluelist")
    page.click("#cat-submit")
    expect(page.locator("#q-values-error")).to_have_text("Câu hỏi dạng lựa chọn cần ít nhất một dòng mã=tên.")
    page.fill("#q-values", "cam=Biển cấm=Prohibitory\nchi_dan=Biển chỉ dẫn=Guide")
    shot(page, "category-form-vi")
    page.click("#cat-submit")
    expect(page.locator("#admin-categories")).to_contain_text("Biển báo giao thông hỏng")
    shot(page, "category-added-vi")
    citizen_categories = page.request.get("/api/v1/reports/categories").json()
    added = next(c for c in citizen_categories if c["code"] == "bien_bao_hong")
    assert (added["sla_hours"], added["urgent"]) == (16.0, True)
    assert added["questions"][0]["values_en"] == [["cam", "Prohibitory"], ["chi_dan", "Guide"]]

    # English: the same code again is refused by the server, shown as a sentence in English.
    page.click("#lang")
    expect(page.locator("h1")).to_have_text("Administration")
    page.fill("#cat-code", "bien_bao_hong")
    page.fill("#cat-name-vi", "Trùng mã")
    page.fill("#cat-name-en", "Same code")
    page.click("#cat-submit")
    expect(page.locator("#cat-form-error")).to_have_text("Another category already uses this code.")
    expect(page.locator("#admin-categories")).to_contain_text("Damaged traffic sign")
    shot(page, "category-refused-en")

    # Live areas: find the ward, make it live (pilot stage), in English, then check it in Vietnamese.
    page.click("#tab-rollout")
    page.wait_for_selector("#rollout-list table")
    page.fill("#rollout-search", "tan an")
    box = page.locator(f"#rollout-list input[data-area-id='{ids['Phường Tân An']}']")
    expect(box).to_be_visible()
    expect(page.locator("#rollout-list tbody tr")).to_have_count(1)
    box.check()
    expect(page.locator("#rollout-status")).to_have_text("Saved.")
    expect(page.locator("#rollout-list tbody tr")).to_contain_text("Pilot (Tân An)")
    shot(page, "ward-live-en")
    live = page.request.get("/api/v1/live-areas").json()
    assert [(a["area_id"], a["stage"]) for a in live] == [(ids["Phường Tân An"], "pilot")]
    page.click("#lang")
    page.check("#rollout-live-only")
    expect(page.locator("#rollout-list tbody tr")).to_have_count(1)
    expect(page.locator("#rollout-list")).to_contain_text("Thí điểm (Tân An)")
    shot(page, "ward-live-vi")

    # Users and roles: the admin makes an officer a supervisor (audited by the users API).
    page.click("#tab-users")
    role = page.locator(f"select[data-user-id='{officer.id}']")
    role.select_option("supervisor")
    expect(page.locator("#users-status")).to_have_text("Đã lưu.")
    assert page.request.get(f"/api/v1/users/{officer.id}").json()["role"] == "supervisor"
    shot(page, "users-vi")
