"""Indicators computed from cases: what reports declares and how each is calculated.

A case counts for the period it was *submitted* in (a cohort: its handling is judged with its month,
whenever it ends) and for the area it was filed in, rolled up along lineage by the indicators capability.
Hidden (moderated out) cases and merged duplicates count nowhere; their master does. Every ``cases.*``
event names a case; the cells holding that case are recomputed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, func, select
from sqlalchemy.orm import Session

from cityops.events.bus import Event
from cityops.indicators.calc import Partial, fold, in_filter, medians, union
from cityops.reports.models import Case, CaseRating
from cityops.specs import (
    AreaGroups,
    IndicatorCalculatorSpec,
    IndicatorSource,
    IndicatorSpec,
    Measure,
    Period,
)

SATISFIED_SCORE = 4  # a rating of 4 or 5 out of 5 is "satisfied"
RESOLVED_STATES = ("resolved", "closed")
NATIONAL = "vn_smart_city_2026"
NATIONAL_2019 = "vn_smart_city_2019"
ISO = "iso_37122"
SCHEME = "long_an_scheme_2020"


def counted(start: datetime, end: datetime, areas: frozenset[int] | None = None) -> list[ColumnElement[bool]]:
    """Cases of the cohort ``[start, end)`` that count: visible, not merged, in ``areas``."""
    return [
        Case.submitted_at >= start,
        Case.submitted_at < end,
        Case.hidden == false(),
        Case.master_id.is_(None),
        *in_filter(Case.area_id, areas),  # type: ignore[list-item]
    ]


def _by_area(
    session: Session, numerator: Any, denominator: Any, where: list[Any]
) -> dict[int | None, Partial]:
    rows = session.execute(
        select(Case.area_id, func.coalesce(numerator, 0), func.coalesce(denominator, 0), func.count())
        .where(*where)
        .group_by(Case.area_id)
    )
    return {area: Partial(float(num), float(den), int(n)) for area, num, den, n in rows}


def received(
    session: Session, spec: IndicatorSpec, groups: AreaGroups, start: datetime, end: datetime
) -> Mapping[int, Measure]:
    """Cases received (``sum``), or per ``params["per"]`` residents (``per_capita``)."""
    where = counted(start, end, union(groups))
    per_area = _by_area(session, func.count(), func.count(), where)
    return fold(session, spec, groups, per_area, _local_year(start))


def on_time_rate(
    session: Session, spec: IndicatorSpec, groups: AreaGroups, start: datetime, end: datetime
) -> Mapping[int, Measure]:
    """Share of the cohort's resolved cases resolved by their (possibly extended) deadline, in %."""
    where = [
        *counted(start, end, union(groups)),
        Case.resolved_at.is_not(None),
        Case.resolve_due_at.is_not(None),
    ]
    on_time = func.sum(case((Case.resolved_at <= Case.resolve_due_at, 1), else_=0))
    return fold(session, spec, groups, _by_area(session, on_time, func.count(), where), _local_year(start))


def resolved_share(
    session: Session, spec: IndicatorSpec, groups: AreaGroups, start: datetime, end: datetime
) -> Mapping[int, Measure]:
    """Share of the cohort's cases resolved (or closed after resolution), in %."""
    resolved = func.sum(case((Case.state.in_(RESOLVED_STATES), 1), else_=0))
    where = counted(start, end, union(groups))
    return fold(session, spec, groups, _by_area(session, resolved, func.count(), where), _local_year(start))


def handling_hours(
    session: Session, spec: IndicatorSpec, groups: AreaGroups, start: datetime, end: datetime
) -> Mapping[int, Measure]:
    """Median elapsed hours from submission to resolution of the cohort's resolved cases."""
    samples: dict[int | None, list[float]] = defaultdict(list)
    rows = session.execute(
        select(Case.area_id, Case.submitted_at, Case.resolved_at).where(
            *counted(start, end, union(groups)), Case.resolved_at.is_not(None)
        )
    )
    for area_id, submitted, resolved in rows:
        if resolved is not None:
            samples[area_id].append((resolved - submitted).total_seconds() / 3600)
    return medians(groups, samples)


def satisfaction(
    session: Session, spec: IndicatorSpec, groups: AreaGroups, start: datetime, end: datetime
) -> Mapping[int, Measure]:
    """Mean rating (1–5) of the cohort's cases, or with ``params["satisfied"]`` the % of ratings ≥ 4."""
    where = [*counted(start, end, union(groups))]
    if spec.params.get("satisfied"):
        num = func.sum(case((CaseRating.score >= SATISFIED_SCORE, 1), else_=0))
    else:
        num = func.sum(CaseRating.score)
    rows = session.execute(
        select(Case.area_id, func.coalesce(num, 0), func.count(CaseRating.id))
        .select_from(CaseRating)
        .join(Case, and_(Case.id == CaseRating.case_id))
        .where(*where)
        .group_by(Case.area_id)
    )
    per_area = {area: Partial(float(n), float(d), int(d)) for area, n, d in rows}
    return fold(session, spec, groups, per_area, _local_year(start))


def touched(session: Session, event: Event) -> list[tuple[int | None, datetime]]:
    """The case an event names: its area and submission time (its cohort)."""
    case_id = event.payload.get("id") or event.payload.get("case_id")
    if not isinstance(case_id, int):
        return []
    row = session.execute(select(Case.area_id, Case.submitted_at).where(Case.id == case_id)).first()
    return [(row[0], row[1])] if row is not None else []


def _local_year(start: datetime) -> int:
    from cityops.clock import to_local

    return to_local(start).year


_SUBJECTS = ("cases.>",)


def calculators() -> list[IndicatorCalculatorSpec]:
    def calc(method: str, fn: Any, description: str) -> IndicatorCalculatorSpec:
        return IndicatorCalculatorSpec(method, IndicatorSource.CASES, fn, _SUBJECTS, touched, description)

    return [
        calc("cases.received", received, "cases submitted in the period (sum or per capita)"),
        calc("cases.on_time_rate", on_time_rate, "% of resolved cases resolved by their deadline"),
        calc("cases.resolved_share", resolved_share, "% of cases resolved"),
        calc("cases.handling_hours", handling_hours, "median hours from submission to resolution"),
        calc("cases.satisfaction", satisfaction, "mean rating, or % of ratings of 4 or 5"),
    ]


def _ind(code: str, vi: str, en: str, unit: str, direction: str, method: str, **kw: Any) -> IndicatorSpec:
    return IndicatorSpec(
        code=code, name_vi=vi, name_en=en, unit=unit, direction=direction,  # type: ignore[arg-type]
        period=kw.pop("period", Period.MONTH), source=IndicatorSource.CASES, sector="public_services",
        method=method, **kw,
    )  # fmt: skip


def indicators() -> list[IndicatorSpec]:
    """The case indicators of the national set, ISO 37122 and the scheme."""
    return [
        _ind(
            "cases.on_time_rate",
            "Tỷ lệ phản ánh được xử lý đúng hạn",
            "Reports handled on time",
            "%",
            "higher",
            "cases.on_time_rate",
            params={"scale": 100},
            aggregation="ratio",
            sets=((NATIONAL, "DV.3"), (NATIONAL_2019, "2.4"), (SCHEME, "KQ.1")),
        ),
        _ind(
            "cases.resolved_share",
            "Tỷ lệ phản ánh đã được giải quyết",
            "Share of reports resolved",
            "%",
            "higher",
            "cases.resolved_share",
            params={"scale": 100},
            aggregation="ratio",
            sets=((NATIONAL, "DV.2"), (SCHEME, "KQ.2")),
        ),
        _ind(
            "cases.median_handling_hours",
            "Thời gian xử lý trung vị",
            "Median handling time",
            "h",
            "lower",
            "cases.handling_hours",
            aggregation="direct",
            sets=((NATIONAL, "DV.4"), (ISO, "11.2")),
        ),
        _ind(
            "cases.satisfaction",
            "Mức độ hài lòng (điểm trung bình)",
            "Satisfaction (mean rating)",
            "{score}",
            "higher",
            "cases.satisfaction",
            aggregation="ratio",
            decimals=2,
            sets=((NATIONAL, "DV.5"), (NATIONAL_2019, "2.5"), (SCHEME, "KQ.3")),
        ),
        _ind(
            "cases.satisfied_share",
            "Tỷ lệ đánh giá hài lòng (4–5 sao)",
            "Satisfied ratings (4–5 stars)",
            "%",
            "higher",
            "cases.satisfaction",
            params={"scale": 100, "satisfied": True},
            aggregation="ratio",
            sets=((SCHEME, "KQ.4"),),
        ),
        _ind(
            "cases.received",
            "Số phản ánh tiếp nhận",
            "Reports received",
            "{reports}",
            "none",
            "cases.received",
            aggregation="sum",
            decimals=0,
            sets=((SCHEME, "HĐ.1"),),
        ),
        _ind(
            "cases.received_daily",
            "Số phản ánh tiếp nhận trong ngày",
            "Reports received per day",
            "{reports}",
            "none",
            "cases.received",
            aggregation="sum",
            decimals=0,
            period=Period.DAY,
        ),
        _ind(
            "cases.per_10k",
            "Số phản ánh trên 10.000 dân",
            "Reports per 10,000 residents",
            "{reports}/10.10*3{residents}",
            "none",
            "cases.received",
            params={"per": 10000},
            aggregation="per_capita",
            decimals=2,
            sets=((ISO, "11.1"), (NATIONAL, "DV.1")),
        ),
    ]
