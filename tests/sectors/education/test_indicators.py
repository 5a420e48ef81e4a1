"""Students per class from the schools' attributes: students over classes of the schools stating both."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.indicators.engine import recompute
from cityops.indicators.models import IndicatorValue
from cityops.indicators.registry import sync
from tests.fixtures_areas import LoadedAreas
from tests.kit.factories import Factory

YEAR = date(2026, 1, 1)


def test_students_per_class(session: Session, factory: Factory, loaded_areas: LoadedAreas) -> None:
    registry = sync(session)
    session.commit()
    level = {"level": "primary"}
    factory.place(
        "school",
        name="Trường A",
        lat=10.539,
        lon=106.414,
        attributes={**level, "students": 700, "classes": 20},
    )
    factory.place(
        "school",
        name="Trường B",
        lat=10.539,
        lon=106.415,
        attributes={**level, "students": 500, "classes": 12},
    )
    factory.place(
        "school", name="Trường C", lat=10.539, lon=106.416, attributes={**level, "students": 900}
    )  # no classes
    recompute(session, YEAR, YEAR, ["education.students_per_class"], registry)
    session.commit()
    cell = session.scalars(
        select(IndicatorValue).where(
            IndicatorValue.indicator_code == "education.students_per_class",
            IndicatorValue.area_id == loaded_areas.long_an_ward_id,
            IndicatorValue.period_start == YEAR,
            IndicatorValue.agency_id.is_(None),
        )
    ).one()
    assert cell.numerator == 1200
    assert cell.denominator == 32
    assert cell.value == 37.5
    assert cell.inputs == 2
