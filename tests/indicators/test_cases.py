"""Case indicators on crafted data (exact numbers), lineage roll-up, and the incremental update on a real
event against a full recompute."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cityops.indicators.engine import handle, recompute
from cityops.indicators.models import AreaPopulation, IndicatorValue
from cityops.indicators.registry import Registry
from cityops.reports.models import Case, CaseRating
from tests.fixtures_areas import LoadedAreas
from tests.indicators.conftest import outbox_events

H = timedelta(hours=1)
MARCH = date(2026, 3, 1)


def _values(session: Session, period: date | None = None) -> dict[tuple[str, int, date], IndicatorValue]:
    stmt = select(IndicatorValue).where(IndicatorValue.agency_id.is_(None))
    if period is not None:
        stmt = stmt.where(IndicatorValue.period_start == period)
    return {(v.indicator_code, v.area_id, v.period_start): v for v in session.scalars(stmt)}


@pytest.fixture
def march(session: Session, loaded_areas: LoadedAreas, make_case: Callable[..., Case]) -> LoadedAreas:
    """Cases of March 2026 in phường Long An (one filed under old Phường 1), Tân An and nowhere."""
    a = loaded_areas
    t0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    c1 = make_case(
        t0, a.long_an_ward_id, state="resolved", resolved_at=t0 + 10 * H, resolve_due_at=t0 + 24 * H
    )
    t2 = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)
    c2 = make_case(t2, a.old_phuong_1_id, state="closed", resolved_at=t2 + 30 * H, resolve_due_at=t2 + 24 * H)
    make_case(datetime(2026, 3, 15, tzinfo=UTC), a.tan_an_ward_id)  # open
    make_case(datetime(2026, 3, 31, 18, 0, tzinfo=UTC), a.long_an_ward_id)  # 1 April, 01:00 local: April
    make_case(t0, a.long_an_ward_id, hidden=True)  # moderated out: nowhere
    make_case(t0, a.long_an_ward_id, master_id=c1.id)  # merged duplicate: its master counts
    t7 = datetime(2026, 3, 5, tzinfo=UTC)
    make_case(t7, None, state="resolved", resolved_at=t7 + 20 * H, resolve_due_at=t7 + 24 * H)  # unlocated
    session.add_all(
        [
            CaseRating(case_id=c1.id, rater="token", score=5, created_at=t0 + 11 * H),
            CaseRating(case_id=c2.id, rater="token", score=2, created_at=t2 + 31 * H),
            AreaPopulation(area_id=a.long_an_ward_id, year=2026, population=20000),
            AreaPopulation(area_id=a.province_id, year=2025, population=100000),  # the latest before 2026
        ]
    )
    session.commit()
    return a


def test_case_indicators_exact_with_lineage(session: Session, registry: Registry, march: LoadedAreas) -> None:
    recompute(session, MARCH, date(2026, 3, 2), reg=registry)
    session.commit()
    v = _values(session, MARCH)
    la, ta, pr = march.long_an_ward_id, march.tan_an_ward_id, march.province_id

    def val(code: str, area: int) -> float | None:
        return v[(code, area, MARCH)].value

    # phường Long An: its own case and old Phường 1's (lineage), not the April one, hidden or merged
    assert val("cases.received", la) == 2
    assert val("cases.on_time_rate", la) == 50.0
    assert val("cases.resolved_share", la) == 100.0
    assert val("cases.median_handling_hours", la) == 20.0  # median of 10 h and 30 h
    assert val("cases.satisfaction", la) == 3.5
    assert val("cases.satisfied_share", la) == 50.0
    assert val("cases.per_10k", la) == 1.0  # 2 reports, 20,000 residents
    assert (
        v[("cases.on_time_rate", la, MARCH)].numerator,
        v[("cases.on_time_rate", la, MARCH)].denominator,
    ) == (1, 2)
    # Tân An: one open case; no resolved case, so no on-time cell at all
    assert val("cases.received", ta) == 1
    assert val("cases.resolved_share", ta) == 0.0
    assert ("cases.on_time_rate", ta, MARCH) not in v
    assert ("cases.per_10k", ta, MARCH) not in v  # no population known
    # the province: every visible case of March, the unlocated one too
    assert val("cases.received", pr) == 4
    assert val("cases.on_time_rate", pr) == pytest.approx(200 / 3, abs=0.01)
    assert val("cases.resolved_share", pr) == 75.0
    assert val("cases.median_handling_hours", pr) == 20.0
    assert val("cases.per_10k", pr) == 0.4  # 4 reports, 100,000 residents (2025 figure)
    # no cell is kept for the old unit
    assert not [k for k in v if k[1] == march.old_phuong_1_id]
    provenance = v[("cases.received", la, MARCH)]
    assert (provenance.origin, provenance.method, provenance.inputs, provenance.stale) == (
        "computed", "cases.received", 2, False,
    )  # fmt: skip
    daily = _values(session, date(2026, 3, 2))
    assert daily[("cases.received_daily", la, date(2026, 3, 2))].value == 1


def test_event_updates_exactly_its_cells_and_matches_recompute(
    session: Session,
    sessions: sessionmaker[Session],
    registry: Registry,
    march: LoadedAreas,
    make_case: Callable[..., Case],
) -> None:
    recompute(session, MARCH, date(2026, 3, 31), reg=registry)
    session.commit()
    before = {k: (r.value, r.computed_at) for k, r in _values(session).items()}
    at = datetime(2026, 3, 20, 4, 0, tzinfo=UTC)
    make_case(
        at, march.tan_an_ward_id, emit=True, state="resolved", resolved_at=at + 2 * H, resolve_due_at=at + H
    )
    session.commit()
    (event,) = outbox_events(session)
    assert event.subject == "cases.created"

    handle(sessions, event)
    session.expire_all()
    after = {k: (r.value, r.computed_at) for k, r in _values(session).items()}
    changed = {k for k in after if before.get(k) != after[k]}
    ta, pr = march.tan_an_ward_id, march.province_id
    day = date(2026, 3, 20)
    month_codes = {
        "cases.received", "cases.on_time_rate", "cases.resolved_share", "cases.median_handling_hours",
        "cases.per_10k", "cases.satisfaction", "cases.satisfied_share", "cases.resolved", "cases.rejected",
        "cases.open", "cases.overdue_open",
    }  # fmt: skip
    expected = {(c, a, MARCH) for c in month_codes for a in (ta, pr)} | {
        ("cases.received_daily", ta, day),
        ("cases.received_daily", pr, day),
    }
    # every touched cell is recomputed; Tân An has no rating and no population, so no cell for those
    expected -= {
        ("cases.satisfaction", ta, MARCH),
        ("cases.satisfied_share", ta, MARCH),
        ("cases.per_10k", ta, MARCH),
    }
    assert changed == expected
    assert after[("cases.received", ta, MARCH)][0] == 2
    assert after[("cases.on_time_rate", ta, MARCH)][0] == 0.0  # resolved an hour late
    assert after[("cases.received", pr, MARCH)][0] == 5
    assert not session.scalars(select(IndicatorValue).where(IndicatorValue.stale.is_(True))).all()

    incremental = {k: r.value for k, r in _values(session).items()}
    recompute(session, MARCH, date(2026, 3, 31), reg=registry)
    session.commit()
    assert {k: r.value for k, r in _values(session).items()} == incremental


def test_event_of_an_unknown_case_touches_nothing(
    session: Session, sessions: sessionmaker[Session], registry: Registry, march: LoadedAreas
) -> None:
    from cityops.events.bus import Event

    recompute(session, MARCH, MARCH, reg=registry)
    session.commit()
    before = {k: (r.value, r.computed_at) for k, r in _values(session).items()}
    handle(sessions, Event("cases.transitioned", {"id": 999_999}))
    session.expire_all()
    assert {k: (r.value, r.computed_at) for k, r in _values(session).items()} == before
