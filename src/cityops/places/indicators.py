"""Indicators computed from the places registry: the number of places of each declared type, and sums of a
numeric attribute (``places.attribute_sum``: hospital beds, students over classes, guest capacity).

One indicator per place type a plugin declares (``places.count.<type>``), so a sector that adds a type gets
its count without writing one; a sector declares its attribute indicators itself, naming ``places.attribute_sum``
with ``params`` ``types``, ``attribute`` and, for a ratio, ``per_attribute`` (students per class). A place counts for a year when it existed during it (``valid_from`` /
``valid_to``) and for the area it lies in; ``places.*`` events recompute the cells of the place's area.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from cityops import plugins
from cityops.clock import to_local
from cityops.events.bus import Event
from cityops.indicators.calc import Partial, fold, in_filter, union
from cityops.places.models import Place
from cityops.specs import (
    AreaGroups,
    IndicatorCalculatorSpec,
    IndicatorSource,
    IndicatorSpec,
    Measure,
    Period,
    PlaceTypeSpec,
)

METHOD = "places.count"
ATTRIBUTE_SUM = "places.attribute_sum"


def count(
    session: Session, spec: IndicatorSpec, groups: AreaGroups, start: datetime, end: datetime
) -> Mapping[int, Measure]:
    """Places of ``params["types"]`` that existed at some time in ``[start, end)``, per area."""
    first, last = to_local(start).date(), to_local(end).date()
    rows = session.execute(
        select(Place.area_id, func.count())
        .where(
            Place.type_code.in_(list(spec.params["types"])),
            or_(Place.valid_from.is_(None), Place.valid_from < last),
            or_(Place.valid_to.is_(None), Place.valid_to > first),
            *in_filter(Place.area_id, union(groups)),  # type: ignore[arg-type]
        )
        .group_by(Place.area_id)
    )
    per_area = {area: Partial(float(n), 0.0, int(n)) for area, n in rows}
    return fold(session, spec, groups, per_area, to_local(start).year)


def attribute_sum(
    session: Session, spec: IndicatorSpec, groups: AreaGroups, start: datetime, end: datetime
) -> Mapping[int, Measure]:
    """Per area, the sum of ``params["attribute"]`` over the places of ``params["types"]`` that existed in
    ``[start, end)`` (numerator) and, with ``params["per_attribute"]``, the sum of that one (denominator);
    a place lacking the attribute (or, for a ratio, either one) is left out. The aggregation does the rest
    (``sum``, ``ratio``, ``per_capita`` over the area's population)."""
    first, last = to_local(start).date(), to_local(end).date()
    attribute, per = str(spec.params["attribute"]), spec.params.get("per_attribute")
    rows = session.execute(
        select(Place.area_id, Place.attributes).where(
            Place.type_code.in_(list(spec.params["types"])),
            or_(Place.valid_from.is_(None), Place.valid_from < last),
            or_(Place.valid_to.is_(None), Place.valid_to > first),
            *in_filter(Place.area_id, union(groups)),  # type: ignore[arg-type]
        )
    )
    per_area: dict[int | None, Partial] = {}
    for area, attributes in rows:
        value = (attributes or {}).get(attribute)
        other = (attributes or {}).get(per) if per else 0
        if not isinstance(value, int | float) or not isinstance(other, int | float):
            continue
        part = per_area.setdefault(area, Partial())
        part.numerator += float(value)
        part.denominator += float(other)
        part.inputs += 1
    return fold(session, spec, groups, per_area, to_local(start).year)


def touched(session: Session, event: Event) -> list[tuple[int | None, datetime]]:
    """The place's area, now (a place's change counts for the current period)."""
    area = event.payload.get("area_id")
    return [(area if isinstance(area, int) else None, event.occurred_at)]


def calculators() -> list[IndicatorCalculatorSpec]:
    return [
        IndicatorCalculatorSpec(
            METHOD, IndicatorSource.PLACES, count, ("places.>",), touched, "places of given types"
        ),
        IndicatorCalculatorSpec(
            ATTRIBUTE_SUM,
            IndicatorSource.PLACES,
            attribute_sum,
            ("places.>",),
            touched,
            "the sum of a numeric attribute of places of given types (over another, for a ratio)",
        ),
    ]


def indicators() -> list[IndicatorSpec]:
    """``places.count.<type>`` for every declared place type."""
    return [
        IndicatorSpec(
            code=f"places.count.{t.code}",
            name_vi=f"Số lượng: {t.name_vi}",
            name_en=f"Number of places: {t.name_en}",
            unit="{places}",
            direction="none",
            period=Period.YEAR,
            source=IndicatorSource.PLACES,
            sector=t.sector,
            method=METHOD,
            params={"types": [t.code]},
            aggregation="sum",
            decimals=0,
        )
        for _plugin, t in plugins.declarations("place_types", PlaceTypeSpec)
    ]
