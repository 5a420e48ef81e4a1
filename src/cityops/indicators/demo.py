"""Demo indicator data: populations (approximate, marked demo), 12 months of computed values, 2026 targets
and hand-entered values marked as demo. Idempotent: running it again rewrites the same cells."""

from __future__ import annotations

from datetime import date, timedelta

from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.areas.models import Area
from cityops.clock import to_local, utcnow
from cityops.indicators import periods
from cityops.indicators.engine import compute, computed_specs
from cityops.indicators.geography import AreaMap
from cityops.indicators.models import AreaPopulation, Indicator, IndicatorValue
from cityops.indicators.registry import sync
from cityops.indicators.service import set_target
from cityops.specs import IndicatorSource, Period

POPULATION_SOURCE = "demo: approximate, not official statistics"
DEMO_NOTE = "Số liệu minh họa (demo), không phải số liệu chính thức"
DAILY_DAYS = 14  # daily indicators: the last two weeks (the demo's observations cover 24 hours)
TARGETS_2026 = {
    "cases.on_time_rate": 90.0,
    "cases.resolved_share": 85.0,
    "cases.median_handling_hours": 48.0,
    "cases.satisfaction": 4.0,
    "cases.satisfied_share": 80.0,
    "observations.availability": 95.0,
    "environment.good_air_days": 20.0,
    "environment.salinity_days_4": 2.0,
    "egov.online_services_full": 80.0,
    "ict.fibre_households": 90.0,
    "scheme.disbursement_rate": 100.0,
}
MANUAL_2025 = {
    "egov.online_services_full": 61.5,
    "egov.online_dossier_share": 54.0,
    "ict.fibre_households": 78.0,
    "ict.mobile_broadband_coverage": 99.2,
    "ict.cashless_payments": 48.0,
    "economy.digital_share_grdp": 11.3,
    "environment.solid_waste_treated": 93.0,
    "environment.clean_water_households": 88.5,
    "environment.green_space_per_capita": 7.2,
}


def _populations(session: Session) -> int:
    """Approximate residents per current commune (by its area), and the province as their sum."""
    year = to_local(utcnow()).year
    current = list(session.scalars(select(Area).where(Area.valid_to.is_(None)).order_by(Area.id)))
    known = {
        (p.area_id, p.year)
        for p in session.scalars(select(AreaPopulation).where(AreaPopulation.year == year))
    }
    by_parent: dict[int, int] = {}
    added = 0
    for area in current:
        if area.level != "commune":
            continue
        people = round(8000 + 900 * (area.area_km2 or 20.0)) // 10 * 10
        by_parent[area.parent_id or 0] = by_parent.get(area.parent_id or 0, 0) + people
        if (area.id, year) not in known:
            session.add(
                AreaPopulation(
                    area_id=area.id, year=year, population=people, source=POPULATION_SOURCE, demo=True
                )
            )
            added += 1
    for area in current:
        if area.level == "province" and (area.id, year) not in known and by_parent.get(area.id):
            session.add(
                AreaPopulation(
                    area_id=area.id,
                    year=year,
                    population=by_parent[area.id],
                    source=POPULATION_SOURCE,
                    demo=True,
                )
            )
            added += 1
    session.flush()
    return added


def load(session: Session, console: Console) -> None:
    reg = sync(session)
    _populations(session)
    amap = AreaMap.load(session)
    today = to_local(utcnow()).date()
    first_month = periods.start_of(date(today.year - 1, today.month, 1), Period.MONTH)
    first_month = periods.following(first_month, Period.MONTH)  # 12 months including the current one
    written = 0
    for spec in computed_specs(reg):
        first = today - timedelta(days=DAILY_DAYS - 1) if spec.period is Period.DAY else first_month
        targets = amap.targets(spec.levels)
        for start in periods.starts_between(first, today, spec.period):
            written += compute(session, reg, amap, spec, start, targets)
    province = session.scalar(
        select(Area.id).where(Area.level == "province", Area.valid_to.is_(None)).order_by(Area.id).limit(1)
    )
    entered = targets_set = 0
    if province is not None:
        for code, value in MANUAL_2025.items():
            manual = reg.indicators.get(code)
            if manual is None or manual.source is not IndicatorSource.MANUAL:
                continue
            start = periods.start_of(date(2025, 1, 1), manual.period)
            row = session.scalar(
                select(IndicatorValue).where(
                    IndicatorValue.indicator_code == code,
                    IndicatorValue.area_id == province,
                    IndicatorValue.period_start == start,
                    IndicatorValue.agency_id.is_(None),
                )
            )
            if row is None:
                session.add(
                    IndicatorValue(
                        indicator_code=code, area_id=province, period_start=start, value=value, inputs=1,
                        origin="manual", computed_at=utcnow(), source_document=manual.source_document or "demo",
                        note=DEMO_NOTE, demo=True,
                    )
                )  # fmt: skip
                entered += 1
        for code, value in TARGETS_2026.items():
            indicator = session.get(Indicator, code)
            if indicator is None or "province" not in (indicator.levels or []):
                continue
            set_target(session, indicator, province, 2026, value, DEMO_NOTE, None, demo=True)
            targets_set += 1
    session.flush()
    console.print(
        f"indicators: {written} computed value(s), {entered} hand-entered demo value(s), {targets_set} 2026 target(s)"
    )
