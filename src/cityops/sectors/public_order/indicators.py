"""Public-order indicators: restricted cases per ward (and the province) and month, k-anonymous.

Restricted cases are hidden from the case indicators of the reports capability (they count hidden cases
nowhere), so the sector counts its own: cases of its restricted categories submitted in the month (merged
duplicates left out), per area. Indicator values are public, so a cell of fewer than
:data:`~cityops.sectors.public_order.hotspots.K` cases is not stored (the same k as the hotspot map). The
aggregation is ``direct``: each area's cell is counted over its own cases and suppressed on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.events.bus import Event
from cityops.reports.models import Case
from cityops.sectors.public_order.hotspots import K, restricted_categories
from cityops.specs import (
    AreaGroups,
    IndicatorCalculatorSpec,
    IndicatorSource,
    IndicatorSpec,
    Measure,
    Period,
)

METHOD = "public_order.cases"


def count_cases(
    session: Session, spec: IndicatorSpec, groups: AreaGroups, start: datetime, end: datetime
) -> Mapping[int, Measure]:
    """Cases of the restricted categories per group of areas; groups of fewer than k cases get no value."""
    rows = session.execute(
        select(Case.area_id, func.count())
        .where(
            Case.category_code.in_(restricted_categories()),
            Case.master_id.is_(None),
            Case.submitted_at >= start,
            Case.submitted_at < end,
        )
        .group_by(Case.area_id)
    )
    per_area: dict[int | None, int] = {area: int(n) for area, n in rows}
    out: dict[int, Measure] = {}
    for target, members in groups.items():
        n = sum(per_area.values()) if members is None else sum(v for a, v in per_area.items() if a in members)
        if n >= K:
            out[target] = Measure(float(n), n, float(n), None)
    return out


def touched(session: Session, event: Event) -> list[tuple[int | None, datetime]]:
    """The restricted case an event names: its area and submission time."""
    case_id = event.payload.get("id") or event.payload.get("case_id")
    if not isinstance(case_id, int):
        return []
    row = session.execute(
        select(Case.area_id, Case.submitted_at).where(
            Case.id == case_id, Case.category_code.in_(restricted_categories())
        )
    ).first()
    return [(row[0], row[1])] if row is not None else []


def calculators() -> list[IndicatorCalculatorSpec]:
    return [
        IndicatorCalculatorSpec(
            METHOD,
            IndicatorSource.CASES,
            count_cases,
            ("cases.>",),
            touched,
            "public-order cases of the period per area, cells of fewer than 5 cases not stored",
        )
    ]


def indicators() -> list[IndicatorSpec]:
    return [
        IndicatorSpec(
            code="public_order.cases",
            name_vi="Số vụ việc an ninh trật tự được báo",
            name_en="Public-order incidents reported",
            unit="{cases}",
            direction="none",
            period=Period.MONTH,
            source=IndicatorSource.CASES,
            sector="public_order",
            method=METHOD,
            description_vi="Số phản ánh an ninh trật tự trong tháng theo phường, xã; ô dưới 5 vụ không công bố.",
            description_en="Public-order reports per ward and month; cells of fewer than 5 are not published.",
            decimals=0,
            aggregation="direct",
        )
    ]
