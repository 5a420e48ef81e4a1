"""The indicators demo: computed values from what exists, hand-entered values and targets marked demo,
idempotent."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.clock import utcnow
from cityops.indicators.demo import load
from cityops.indicators.models import AreaPopulation, IndicatorTarget, IndicatorValue
from cityops.reports.models import Case
from tests.fixtures_areas import LoadedAreas


def _counts(session: Session) -> tuple[int, int, int, int]:
    def n(stmt: object) -> int:
        return int(session.scalar(stmt) or 0)  # type: ignore[call-overload]

    return (
        n(select(func.count()).select_from(IndicatorValue).where(IndicatorValue.origin == "computed")),
        n(select(func.count()).select_from(IndicatorValue).where(IndicatorValue.origin == "manual")),
        n(select(func.count()).select_from(IndicatorTarget)),
        n(select(func.count()).select_from(AreaPopulation)),
    )


def test_demo_is_computed_marked_and_idempotent(
    session: Session, loaded_areas: LoadedAreas, make_case: Callable[..., Case]
) -> None:
    make_case(utcnow(), loaded_areas.tan_an_ward_id)
    session.commit()
    console = Console(file=None, quiet=True)
    load(session, console)
    session.commit()
    first = _counts(session)
    computed, manual, targets, populations = first
    assert computed > 0
    assert manual == 9  # every hand-entered indicator of the catalogue, for 2025
    assert targets == 11
    assert populations == 97  # 96 communes and the province
    received = session.scalars(
        select(IndicatorValue).where(
            IndicatorValue.indicator_code == "cases.received",
            IndicatorValue.area_id == loaded_areas.tan_an_ward_id,
            IndicatorValue.value > 0,
        )
    ).all()
    assert [r.value for r in received] == [1.0]
    entered = session.scalars(select(IndicatorValue).where(IndicatorValue.origin == "manual")).all()
    assert all(v.demo and v.source_document and "demo" in v.note for v in entered)
    assert all(t.demo for t in session.scalars(select(IndicatorTarget)))

    load(session, console)
    session.commit()
    assert _counts(session) == first
