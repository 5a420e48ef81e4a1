"""Scorecards per agency and per area read from the case indicators' cells (agency breakdown), equal to
them, changed by a case event through the indicators' consumer and never on a read; CSV and XLSX export."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cityops.events.bus import Event
from cityops.events.models import OutboxEvent
from cityops.identity.policy import Principal
from cityops.indicators.engine import handle, recompute
from cityops.indicators.models import IndicatorValue
from cityops.indicators.registry import Registry, sync
from cityops.reports.access import Actor
from cityops.reports.followup import rate
from cityops.reports.handling import ActionRequest, perform
from cityops.reports.models import Case
from cityops.reports.scorecards import CODES, TOTAL_NAME, ScoreRow, scorecard, to_csv, to_xlsx
from cityops.reports.sla import sweep_sla
from cityops.reports.workflow import CaseAction
from tests.reports.conftest import B_POINT, MONDAY_9, World

A = CaseAction
H = timedelta(hours=1)
MARCH = date(2026, 3, 1)


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


@pytest.fixture
def registry(world: World) -> Registry:
    reg = sync(world.session)
    world.session.commit()
    return reg


def _build(world: World, registry: Registry) -> Case:
    """Ward A: one case resolved fast, one late, one rejected, a merged duplicate; ward B: one untouched
    (returned). Then the March cells are computed once, as the consumers or a recompute would."""
    s = world.session
    fast = world.submit()
    _handle(world, fast, 1 * H, timedelta(hours=5, minutes=30))
    slow = world.submit()
    _handle(world, slow, 2 * H, timedelta(days=14))  # well past its deadline
    rejected = world.submit()
    _act(
        world, rejected, "officer_a", A.REJECT, 3 * H, reason="out_of_scope", comment="Không thuộc thẩm quyền"
    )
    untouched = world.submit(point=B_POINT)
    dup = world.submit()
    _act(world, dup, "supervisor_a", A.MERGE, 1 * H, master_id=fast.id)
    rate(s, Actor(Principal.anonymous(), token_case_id=fast.id), fast, 4, now=MONDAY_9 + timedelta(days=1))
    rate(s, Actor(Principal.anonymous(), token_case_id=slow.id), slow, 2, now=MONDAY_9 + timedelta(days=15))
    s.commit()
    recompute(s, MARCH, MARCH, CODES, registry)
    s.commit()
    return untouched


def _cell(world: World, code: str, agency_id: int | None) -> IndicatorValue:
    row = world.session.scalar(
        select(IndicatorValue).where(
            IndicatorValue.indicator_code == code,
            IndicatorValue.area_id == world.province.id,
            IndicatorValue.period_start == MARCH,
            IndicatorValue.agency_id.is_(None)
            if agency_id is None
            else IndicatorValue.agency_id == agency_id,
        )
    )
    assert row is not None, (code, agency_id)
    return row


def _by_key(rows: list[ScoreRow]) -> dict[int | None, ScoreRow]:
    return {r.key: r for r in rows}


def test_scorecard_reads_the_agency_cells(world: World, registry: Registry) -> None:
    _build(world, registry)
    rows = _by_key(scorecard(world.session, "agency", MARCH, MARCH))
    a = rows[world.ward_a_committee.id]
    assert (a.received, a.resolved, a.rejected, a.open) == (3, 2, 1, 0)  # the merged duplicate is not counted
    assert a.on_time_pct == 50.0
    assert a.median_ack_hours == 1.5  # 1 h and 2 h (the rejection was never acknowledged)
    assert a.median_resolve_hours == pytest.approx((5.5 + 14 * 24) / 2)  # elapsed hours
    assert (a.ratings, a.satisfaction) == (2, 3.0)
    assert a.name == "UBND phường Long An"
    # every figure is its indicator cell for the agency
    assert a.received == _cell(world, "cases.received", a.key).value
    assert a.on_time_pct == _cell(world, "cases.on_time_rate", a.key).value
    assert a.satisfaction == _cell(world, "cases.satisfaction", a.key).value
    assert a.median_resolve_hours == _cell(world, "cases.median_handling_hours", a.key).value
    b = rows[world.ward_b_committee.id]
    assert (b.received, b.open, b.resolved, b.on_time_pct, b.satisfaction) == (1, 1, 0, None, None)
    total = rows[None]
    assert (total.name, total.received, total.resolved) == (TOTAL_NAME, 4, 2)
    assert total.received == _cell(world, "cases.received", None).value
    areas = _by_key(scorecard(world.session, "area", MARCH, MARCH))
    assert (areas[world.ward_a.id].received, areas[world.ward_b.id].received, areas[None].received) == (
        3,
        1,
        4,
    )
    assert scorecard(world.session, "agency", date(2026, 4, 1), date(2026, 4, 1)) == []
    # over two months the counts and rates add up; April has no cell, so March's median is the range's
    two = _by_key(scorecard(world.session, "agency", MARCH, date(2026, 4, 1)))[a.key]
    assert (two.received, two.on_time_pct, two.median_resolve_hours) == (3, 50.0, a.median_resolve_hours)


def test_a_case_event_changes_the_scorecard_a_read_does_not(
    world: World, registry: Registry, sessions: sessionmaker[Session]
) -> None:
    untouched = _build(world, registry)
    s = world.session
    mark = s.scalar(select(OutboxEvent.id).order_by(OutboxEvent.id.desc()).limit(1)) or 0
    before = _by_key(scorecard(s, "agency", MARCH, MARCH))[world.ward_b_committee.id]
    assert (before.resolved, before.open, before.on_time_pct) == (0, 1, None)
    at = timedelta(hours=3)
    perform(
        s,
        world.settings,
        world.actor("officer_b"),
        untouched,
        ActionRequest(A.ACKNOWLEDGE),
        now=MONDAY_9 + at,
    )
    perform(
        s,
        world.settings,
        world.actor("supervisor_b"),
        untouched,
        ActionRequest(A.ASSIGN, assignee_id=world.users["officer_b"].id),  # type: ignore[arg-type]
        now=MONDAY_9 + at,
    )
    perform(
        s,
        world.settings,
        world.actor("officer_b"),
        untouched,
        ActionRequest(A.RESOLVE, comment="Đã xử lý"),  # type: ignore[arg-type]
        now=MONDAY_9 + 2 * at,
    )
    s.commit()
    # the case changed, but reading computes nothing: the figure is the stored cell until its event is handled
    unread = _by_key(scorecard(s, "agency", MARCH, MARCH))[world.ward_b_committee.id]
    assert (unread.resolved, unread.open) == (0, 1)
    events = s.scalars(select(OutboxEvent).where(OutboxEvent.id > mark).order_by(OutboxEvent.id)).all()
    assert [e.subject for e in events if e.subject == "cases.transitioned"]
    for e in events:
        handle(sessions, Event(e.subject, e.payload, id=e.event_id, occurred_at=e.occurred_at))
    s.expire_all()
    after = _by_key(scorecard(s, "agency", MARCH, MARCH))
    b = after[world.ward_b_committee.id]
    assert (b.resolved, b.open, b.on_time_pct) == (1, 0, 100.0)
    assert b.resolved == _cell(world, "cases.resolved", b.key).value
    assert (after[None].resolved, after[None].open) == (3, 0)
    # what the events gave is what a recompute gives
    recompute(s, MARCH, MARCH, CODES, registry)
    s.commit()
    assert _by_key(scorecard(s, "agency", MARCH, MARCH)) == after


def test_csv_and_xlsx_exports(world: World, registry: Registry, app: FastAPI) -> None:
    _build(world, registry)
    with TestClient(
        app
    ) as client:  # started after the cells are computed (its consumers would race the build)
        _exports(world, client)


def _exports(world: World, client: TestClient) -> None:
    rows = scorecard(world.session, "agency", MARCH, MARCH)
    parsed = list(csv.DictReader(io.StringIO(to_csv(rows).decode("utf-8-sig"))))
    assert {r["name"] for r in parsed} == {"UBND phường Long An", "UBND phường Tân An", TOTAL_NAME}
    wb = load_workbook(io.BytesIO(to_xlsx(rows)))
    sheet = wb.active
    assert sheet is not None
    assert [c.value for c in sheet[1]][:3] == ["key", "name", "received"]
    assert sorted(r[2] for r in sheet.iter_rows(min_row=2, values_only=True)) == [1, 3, 4]
    url = "/api/v1/reports/scorecards?since=2026-03-01&until=2026-03-03"
    body = client.get(url).json()
    assert (body["since"], body["until"], body["source"]) == ("2026-03-01", "2026-03-31", "indicators")
    assert {r["received"] for r in body["rows"]} == {1, 3, 4}
    got = client.get(url + "&format=csv")
    assert got.headers["content-type"].startswith("text/csv")
    assert "UBND phường Long An" in got.content.decode("utf-8-sig")
    xlsx = client.get(url + "&by=area&format=xlsx")
    assert xlsx.status_code == 200
    assert xlsx.content[:2] == b"PK"
    ward = client.get(url + f"&by=area&area_id={world.ward_b.id}").json()
    assert [(r["key"], r["received"]) for r in ward["rows"]] == [(None, 1)]
    assert client.get("/api/v1/reports/scorecards?since=2026-03-05&until=2026-03-01").status_code == 422
    assert client.get("/api/v1/reports/scorecards?format=pdf").status_code == 422
    assert client.get("/api/v1/reports/scorecards?area_id=999999").status_code == 404


def test_an_overdue_flag_reaches_the_scorecard_through_its_event(
    world: World, registry: Registry, sessions: sessionmaker[Session]
) -> None:
    """The SLA sweep flags ward B's untouched case overdue and emits ``cases.overdue``; its consumer updates
    the overdue-open cells the scorecard shows (escalation aside)."""
    untouched = _build(world, registry)
    s = world.session
    mark = s.scalar(select(OutboxEvent.id).order_by(OutboxEvent.id.desc()).limit(1)) or 0
    assert _by_key(scorecard(s, "agency", MARCH, MARCH))[world.ward_b_committee.id].overdue_open == 0
    result = sweep_sla(s, MONDAY_9 + timedelta(days=30), world.settings, ids=[untouched.id])
    s.commit()
    assert result.overdue == [untouched.id]
    events = s.scalars(select(OutboxEvent).where(OutboxEvent.id > mark).order_by(OutboxEvent.id)).all()
    assert "cases.overdue" in {e.subject for e in events}
    for e in events:
        handle(sessions, Event(e.subject, e.payload, id=e.event_id, occurred_at=e.occurred_at))
    s.expire_all()
    rows = _by_key(scorecard(s, "agency", MARCH, MARCH))
    assert (rows[world.ward_b_committee.id].overdue_open, rows[None].overdue_open) == (1, 1)
