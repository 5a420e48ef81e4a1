"""Scorecards per agency and per area, in working hours, with CSV and XLSX export."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from fastapi.testclient import TestClient
from openpyxl import load_workbook

from cityops.identity.policy import Principal
from cityops.reports.access import Actor
from cityops.reports.followup import rate
from cityops.reports.handling import ActionRequest, perform
from cityops.reports.models import Case
from cityops.reports.scorecards import scorecard, to_csv, to_xlsx
from cityops.reports.workflow import CaseAction
from tests.reports.conftest import B_POINT, MONDAY_9, World

A = CaseAction
H = timedelta(hours=1)


def _act(world: World, case: Case, who: str, action: CaseAction, at: timedelta, **kw: object) -> None:
    perform(
        world.session,
        world.settings,
        world.actor(who),
        case,
        ActionRequest(action, **kw),  # type: ignore[arg-type]
        now=MONDAY_9 + at,
    )


def _handle(world: World, case: Case, ack_after: timedelta, resolve_after: timedelta) -> None:
    _act(world, case, "officer_a", A.ACKNOWLEDGE, ack_after)
    _act(world, case, "supervisor_a", A.ASSIGN, ack_after, assignee_id=world.users["officer_a"].id)
    _act(world, case, "officer_a", A.RESOLVE, resolve_after, comment="Đã xử lý")


def _build(world: World) -> None:
    s = world.session
    fast = world.submit()
    _handle(world, fast, 1 * H, timedelta(hours=5, minutes=30))  # Mon 14:30 local: 3.5 working hours
    slow = world.submit()
    _handle(world, slow, 2 * H, timedelta(days=14))  # well past 24 working hours
    rejected = world.submit()
    _act(
        world, rejected, "officer_a", A.REJECT, 3 * H, reason="out_of_scope", comment="Không thuộc thẩm quyền"
    )
    world.submit(point=B_POINT)  # ward B, untouched
    dup = world.submit()
    _act(world, dup, "supervisor_a", A.MERGE, 1 * H, master_id=fast.id)
    rate(s, Actor(Principal.anonymous(), token_case_id=fast.id), fast, 4, now=MONDAY_9 + timedelta(days=1))
    rate(s, Actor(Principal.anonymous(), token_case_id=slow.id), slow, 2, now=MONDAY_9 + timedelta(days=15))
    s.commit()


def test_scorecard_per_agency_and_area(world: World) -> None:
    _build(world)
    since, until = MONDAY_9 - timedelta(days=1), MONDAY_9 + timedelta(days=1)
    rows = {r.key: r for r in scorecard(world.session, world.settings, "agency", since, until)}
    a = rows[world.ward_a_committee.id]
    assert (a.received, a.resolved, a.rejected, a.open) == (3, 2, 1, 0)  # the merged duplicate is not counted
    assert a.on_time_pct == 50.0
    assert a.median_ack_hours == 1.5  # 1 h and 2 h (the rejection was never acknowledged)
    assert a.median_resolve_hours is not None
    assert a.median_resolve_hours > 3.5
    assert (a.ratings, a.satisfaction) == (2, 3.0)
    assert a.name == "UBND phường Long An"
    b = rows[world.ward_b_committee.id]
    assert (b.received, b.open, b.resolved, b.on_time_pct, b.satisfaction) == (1, 1, 0, None, None)
    areas = {r.key: r for r in scorecard(world.session, world.settings, "area", since, until)}
    assert areas[world.ward_a.id].received == 3
    assert areas[world.ward_b.id].received == 1
    assert scorecard(world.session, world.settings, "agency", until, until + timedelta(days=1)) == []


def test_csv_and_xlsx_exports(world: World, client: TestClient) -> None:
    _build(world)
    rows = scorecard(
        world.session, world.settings, "agency", MONDAY_9 - timedelta(days=1), MONDAY_9 + timedelta(days=1)
    )
    parsed = list(csv.DictReader(io.StringIO(to_csv(rows).decode("utf-8-sig"))))
    assert {r["name"] for r in parsed} == {"UBND phường Long An", "UBND phường Tân An"}
    wb = load_workbook(io.BytesIO(to_xlsx(rows)))
    sheet = wb.active
    assert sheet is not None
    assert [c.value for c in sheet[1]][:3] == ["key", "name", "received"]
    assert sorted(r[2] for r in sheet.iter_rows(min_row=2, values_only=True)) == [1, 3]
    url = "/api/v1/reports/scorecards?since=2026-03-01&until=2026-03-03"
    assert {r["received"] for r in client.get(url).json()["rows"]} == {1, 3}
    got = client.get(url + "&format=csv")
    assert got.headers["content-type"].startswith("text/csv")
    assert "UBND phường Long An" in got.content.decode("utf-8-sig")
    xlsx = client.get(url + "&by=area&format=xlsx")
    assert xlsx.status_code == 200
    assert xlsx.content[:2] == b"PK"
    assert client.get("/api/v1/reports/scorecards?since=2026-03-05&until=2026-03-01").status_code == 422
    assert client.get("/api/v1/reports/scorecards?format=pdf").status_code == 422
