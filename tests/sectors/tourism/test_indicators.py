"""Visitor accommodation capacity: the guests a night of the area's accommodation, from their attributes."""

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


def test_visitor_capacity_sums_the_guests(
    session: Session, factory: Factory, loaded_areas: LoadedAreas
) -> None:
    registry = sync(session)
    session.commit()
    factory.place(
        "accommodation",
        name="Khách sạn A",
        lat=10.539,
        lon=106.414,
        attributes={"kind": "hotel", "capacity": 120},
    )
    factory.place(
        "accommodation",
        name="Homestay B",
        lat=10.539,
        lon=106.415,
        attributes={"kind": "homestay", "capacity": 14},
    )
    factory.place(
        "accommodation", name="Nhà nghỉ C", lat=10.539, lon=106.416, attributes={"kind": "guesthouse"}
    )
    recompute(session, YEAR, YEAR, ["tourism.visitor_capacity"], registry)
    session.commit()
    cells = {
        r.area_id: r
        for r in session.scalars(
            select(IndicatorValue).where(
                IndicatorValue.indicator_code == "tourism.visitor_capacity",
                IndicatorValue.period_start == YEAR,
                IndicatorValue.agency_id.is_(None),
            )
        )
    }
    assert cells[loaded_areas.long_an_ward_id].value == 134
    assert cells[loaded_areas.province_id].value == 134
