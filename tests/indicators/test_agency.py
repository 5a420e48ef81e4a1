"""The agency breakdown: per-agency cells beside the all-agencies cell, exact on crafted cases, kept current by
a real event, one row per (indicator, area, period, agency) on both backends, and the values API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from cityops.clock import utcnow
from cityops.identity.agencies import create_agency
from cityops.identity.models import Agency, AgencyKind
from cityops.indicators.engine import handle, recompute
from cityops.indicators.models import IndicatorValue
from cityops.indicators.registry import Registry
from cityops.reports import integrations
from cityops.reports.models import Case
from tests.fixtures_areas import LoadedAreas
from tests.indicators.conftest import outbox_events

H = timedelta(hours=1)
MARCH = date(2026, 3, 1)
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def _case_codes(registry: Registry) -> list[str]:
    """The reports capability's case indicators (other sectors' indicators are their own tests')."""
    return [code for code in registry.indicators if code.startswith("cases.")]


def _cells(session: Session, code: str, area_id: int) -> dict[int | None, IndicatorValue]:
    rows = session.scalars(
        select(IndicatorValue).where(
            IndicatorValue.indicator_code == code,
            IndicatorValue.area_id == area_id,
            IndicatorValue.period_start == MARCH,
        )
    )
    return {r.agency_id: r for r in rows}


@pytest.fixture
def two_agencies(
    session: Session,
    registry: Registry,
    loaded_areas: LoadedAreas,
    make_case: Callable[..., Case],
) -> tuple[Agency, Agency, list[Case]]:
    """March cases of phường Long An: two held by agency A (one on time, one late), one by B (open,
    flagged overdue), one in the dispatcher queue (no agency)."""
    a, b = (
        create_agency(session, code=code, name=name, kind=AgencyKind.WARD_COMMITTEE, audit_label="test")
        for code, name in (("ind-a", "UBND phường Long An"), ("ind-b", "Công ty Điện lực"))
    )
    la = loaded_areas.long_an_ward_id
    cases = [
        make_case(
            T0, la, agency_id=a.id, state="resolved", resolved_at=T0 + 2 * H, resolve_due_at=T0 + 4 * H
        ),
        make_case(T0, la, agency_id=a.id, state="closed", resolved_at=T0 + 9 * H, resolve_due_at=T0 + 4 * H),
        make_case(T0, la, agency_id=b.id, state="assigned", overdue=True, resolve_due_at=T0 + H),
        make_case(T0, la, state="submitted"),
    ]
    session.commit()
    recompute(session, MARCH, MARCH, _case_codes(registry), registry)
    session.commit()
    return a, b, cases


def test_per_agency_cells_beside_the_total(
    session: Session, loaded_areas: LoadedAreas, two_agencies: tuple[Agency, Agency, list[Case]]
) -> None:
    a, b, _ = two_agencies
    for area in (loaded_areas.long_an_ward_id, loaded_areas.province_id):
        received = _cells(session, "cases.received", area)
        assert {k: v.value for k, v in received.items()} == {None: 4, a.id: 2, b.id: 1}  # queue: total only
        on_time = _cells(session, "cases.on_time_rate", area)
        assert {k: v.value for k, v in on_time.items()} == {None: 50.0, a.id: 50.0}  # B resolved nothing
        assert (on_time[a.id].numerator, on_time[a.id].denominator) == (1, 2)
        hours = _cells(session, "cases.median_handling_hours", area)
        assert {k: v.value for k, v in hours.items()} == {None: 5.5, a.id: 5.5}
        overdue = _cells(session, "cases.overdue_open", area)
        assert {k: v.value for k, v in overdue.items()} == {None: 1, b.id: 1}
        opened = _cells(session, "cases.open", area)
        assert {k: v.value for k, v in opened.items()} == {None: 2, b.id: 1}
    # an indicator not kept per agency has the total only
    assert set(_cells(session, "cases.resolved_share", loaded_areas.long_an_ward_id)) == {None}


def test_one_row_per_cell_and_agency(
    session: Session, loaded_areas: LoadedAreas, two_agencies: tuple[Agency, Agency, list[Case]]
) -> None:
    """The unique key holds with a NULL agency too (coalesce index), on SQLite and PostgreSQL."""
    a, _, _ = two_agencies
    for agency_id in (None, a.id):
        session.add(
            IndicatorValue(
                indicator_code="cases.received",
                area_id=loaded_areas.long_an_ward_id,
                agency_id=agency_id,
                period_start=MARCH,
                value=9,
                inputs=9,
                origin="computed",
                computed_at=utcnow(),
            )
        )
        with pytest.raises(IntegrityError):
            session.flush()
        session.rollback()


def test_reassignment_event_moves_the_agency_cells(
    session: Session,
    sessions: sessionmaker[Session],
    registry: Registry,
    loaded_areas: LoadedAreas,
    two_agencies: tuple[Agency, Agency, list[Case]],
) -> None:
    a, b, cases = two_agencies
    la = loaded_areas.long_an_ward_id
    moved = cases[1]  # A's late case goes to B
    moved.agency_id = b.id
    integrations.emit(session, "cases.transitioned", {"id": moved.id})
    session.commit()
    (event,) = outbox_events(session)
    handle(sessions, event)
    session.expire_all()
    received = {k: v.value for k, v in _cells(session, "cases.received", la).items()}
    assert received == {None: 4, a.id: 1, b.id: 2}
    on_time = {k: v.value for k, v in _cells(session, "cases.on_time_rate", la).items()}
    assert on_time == {None: 50.0, a.id: 100.0, b.id: 0.0}
    # what the event gave is what a recompute gives
    incremental = {
        (r.indicator_code, r.area_id, r.agency_id, r.period_start): r.value
        for r in session.scalars(select(IndicatorValue))
    }
    recompute(session, MARCH, MARCH, _case_codes(registry), registry)
    session.commit()
    again = {
        (r.indicator_code, r.area_id, r.agency_id, r.period_start): r.value
        for r in session.scalars(select(IndicatorValue))
    }
    assert again == incremental


def test_values_api_by_agency(
    client: TestClient, loaded_areas: LoadedAreas, two_agencies: tuple[Agency, Agency, list[Case]]
) -> None:
    a, b, _ = two_agencies
    la = loaded_areas.long_an_ward_id
    base = f"/api/v1/indicators/cases.received/values?area_id={la}&from=2026-03-01&to=2026-03-01"
    total = client.get(base)
    assert total.status_code == 200
    assert [(i["agency_id"], i["value"]) for i in total.json()["items"]] == [(None, 4)]
    one = client.get(base + f"&agency_id={b.id}")
    assert one.status_code == 200
    assert one.json()["agency_id"] == b.id
    assert [(i["agency_id"], i["value"]) for i in one.json()["items"]] == [(b.id, 1)]
    every = client.get(base + "&breakdown=agency")
    assert every.status_code == 200
    assert sorted((i["agency_id"], i["value"]) for i in every.json()["items"]) == sorted(
        [(a.id, 2), (b.id, 1)]
    )
    csv_text = client.get(base + "&breakdown=agency&format=csv").content.decode("utf-8-sig")
    assert csv_text.splitlines()[0].endswith(",agency_id")
    missing = client.get(base + "&agency_id=999999")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "unknown_agency")
    flat = client.get("/api/v1/indicators/cases.resolved_share/values?breakdown=agency")
    assert (flat.status_code, flat.json()["error"]["code"]) == (422, "no_agency_breakdown")
    assert client.get(base + "&breakdown=area").status_code == 422
    assert client.get("/api/v1/indicators/cases.received").json()["by_agency"] is True
