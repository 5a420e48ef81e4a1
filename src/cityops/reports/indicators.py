"""Indicators computed from cases: what reports declares and how each is calculated.

A case counts for the period it was *submitted* in (a cohort: its handling is judged with its month,
whenever it ends) and for the area it was filed in, rolled up along lineage by the indicators capability.
Hidden (moderated out) cases and merged duplicates count nowhere; their master does. Every ``cases.*``
event names a case; the cells holding that case are recomputed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, func, select
from sqlalchemy.orm import Session

from cityops.events.bus import Event
from cityops.indicators.calc import (
    Partial,
    fold,
    fold_agencies,
    in_filter,
    median_agencies,
    medians,
    union,
)
from cityops.reports.models import Case, CaseRating
from cityops.reports.workflow import OPEN_STATES
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
OPEN = sorted(s.value for s in OPEN_STATES)  # params are JSON: the states as text
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


def _partials(
    session: Session, numerator: Any, denominator: Any, where: list[Any], agency: bool
) -> dict[Any, Partial]:
    """Sums per fact area, or per (area, agency) with ``agency``."""
    keys = (Case.area_id, Case.agency_id) if agency else (Case.area_id,)
    rows = session.execute(
        select(*keys, func.coalesce(numerator, 0), func.coalesce(denominator, 0), func.count())
        .where(*where)
        .group_by(*keys)
    )
    return {
        (tuple(row[:-3]) if agency else row[0]): Partial(float(row[-3]), float(row[-2]), int(row[-1]))
        for row in rows
    }


Facts = Callable[[Session, IndicatorSpec, AreaGroups, datetime, datetime, bool], dict[Any, Partial]]
Samples = Callable[[Session, IndicatorSpec, AreaGroups, datetime, datetime, bool], dict[Any, list[float]]]


def _received(
    session: Session, spec: IndicatorSpec, groups: AreaGroups, start: datetime, end: datetime, agency: bool
) -> dict[Any, Partial]:
    """Cases received (``sum``), or per ``params["per"]`` residents (``per_capita``)."""
    where = counted(start, end, union(groups))
    return _partials(session, func.count(), func.count(), where, agency)


def _count(
    session: Session, spec: IndicatorSpec, groups: AreaGroups, start: datetime, end: datetime, agency: bool
) -> dict[Any, Partial]:
    """Cases of the cohort in ``params["states"]`` (all when absent), with ``params["overdue"]`` only those
    flagged overdue by the SLA sweep."""
    where = counted(start, end, union(groups))
    states = spec.params.get("states")
    if states:
        where.append(Case.state.in_(list(states)))
    if spec.params.get("overdue"):
        where.append(Case.overdue.is_(True))
    return _partials(session, func.count(), func.count(), where, agency)


def _on_time(
    session: Session, spec: IndicatorSpec, groups: AreaGroups, start: datetime, end: datetime, agency: bool
) -> dict[Any, Partial]:
    """Share of the cohort's resolved cases resolved by their (possibly extended) deadline, in %."""
    where = [
        *counted(start, end, union(groups)),
        Case.resolved_at.is_not(None),
        Case.resolve_due_at.is_not(None),
    ]
    on_time = func.sum(case((Case.resolved_at <= Case.resolve_due_at, 1), else_=0))
    return _partials(session, on_time, func.count(), where, agency)


def _resolved_share(
    session: Session, spec: IndicatorSpec, groups: AreaGroups, start: datetime, end: datetime, agency: bool
) -> dict[Any, Partial]:
    """Share of the cohort's cases resolved (or closed after resolution), in %."""
    resolved = func.sum(case((Case.state.in_(RESOLVED_STATES), 1), else_=0))
    return _partials(session, resolved, func.count(), counted(start, end, union(groups)), agency)


def _satisfaction(
    session: Session, spec: IndicatorSpec, groups: AreaGroups, start: datetime, end: datetime, agency: bool
) -> dict[Any, Partial]:
    """Mean rating (1–5) of the cohort's cases, or with ``params["satisfied"]`` the % of ratings ≥ 4."""
    if spec.params.get("satisfied"):
        num = func.sum(case((CaseRating.score >= SATISFIED_SCORE, 1), else_=0))
    else:
        num = func.sum(CaseRating.score)
    keys = (Case.area_id, Case.agency_id) if agency else (Case.area_id,)
    rows = session.execute(
        select(*keys, func.coalesce(num, 0), func.count(CaseRating.id))
        .select_from(CaseRating)
        .join(Case, and_(Case.id == CaseRating.case_id))
        .where(*counted(start, end, union(groups)))
        .group_by(*keys)
    )
    return {
        (tuple(row[:-2]) if agency else row[0]): Partial(float(row[-2]), float(row[-1]), int(row[-1]))
        for row in rows
    }


def _hours(
    session: Session, spec: IndicatorSpec, groups: AreaGroups, start: datetime, end: datetime, agency: bool
) -> dict[Any, list[float]]:
    """Elapsed hours from submission to resolution (or to ``params["until"]``: ``acknowledged_at``)."""
    until = Case.acknowledged_at if spec.params.get("until") == "acknowledged_at" else Case.resolved_at
    samples: dict[Any, list[float]] = defaultdict(list)
    rows = session.execute(
        select(Case.area_id, Case.agency_id, Case.submitted_at, until).where(
            *counted(start, end, union(groups)), until.is_not(None)
        )
    )
    for area_id, agency_id, submitted, done in rows:
        if done is not None:
            samples[(area_id, agency_id) if agency else area_id].append(
                (done - submitted).total_seconds() / 3600
            )
    return samples


def _folded(facts: Facts) -> tuple[Compute, ByAgency]:
    """The calculator pair (all agencies, per agency) of a partial-sums query."""

    def compute(
        session: Session, spec: IndicatorSpec, groups: AreaGroups, start: datetime, end: datetime
    ) -> Mapping[int, Measure]:
        return fold(
            session, spec, groups, facts(session, spec, groups, start, end, False), _local_year(start)
        )

    def agencies(
        session: Session, spec: IndicatorSpec, groups: AreaGroups, start: datetime, end: datetime
    ) -> Mapping[tuple[int, int], Measure]:
        per_key = facts(session, spec, groups, start, end, True)
        return fold_agencies(session, spec, groups, per_key, _local_year(start))

    return compute, agencies


def _median(samples: Samples) -> tuple[Compute, ByAgency]:
    """The calculator pair (all agencies, per agency) of a median over samples."""

    def compute(
        session: Session, spec: IndicatorSpec, groups: AreaGroups, start: datetime, end: datetime
    ) -> Mapping[int, Measure]:
        return medians(groups, samples(session, spec, groups, start, end, False))

    def agencies(
        session: Session, spec: IndicatorSpec, groups: AreaGroups, start: datetime, end: datetime
    ) -> Mapping[tuple[int, int], Measure]:
        return median_agencies(groups, samples(session, spec, groups, start, end, True))

    return compute, agencies


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
Compute = Callable[[Session, IndicatorSpec, AreaGroups, datetime, datetime], Mapping[int, Measure]]
ByAgency = Callable[
    [Session, IndicatorSpec, AreaGroups, datetime, datetime], Mapping[tuple[int, int], Measure]
]


def calculators() -> list[IndicatorCalculatorSpec]:
    def calc(method: str, pair: tuple[Compute, ByAgency], description: str) -> IndicatorCalculatorSpec:
        compute, agencies = pair
        return IndicatorCalculatorSpec(
            method, IndicatorSource.CASES, compute, _SUBJECTS, touched, description, by_agency=agencies
        )

    return [
        calc("cases.received", _folded(_received), "cases submitted in the period (sum or per capita)"),
        calc(
            "cases.count", _folded(_count), "cases of the period in params.states (params.overdue: flagged)"
        ),
        calc("cases.on_time_rate", _folded(_on_time), "% of resolved cases resolved by their deadline"),
        calc("cases.resolved_share", _folded(_resolved_share), "% of cases resolved"),
        calc("cases.handling_hours", _median(_hours), "median hours from submission to resolution"),
        calc("cases.satisfaction", _folded(_satisfaction), "mean rating, or % of ratings of 4 or 5"),
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
            by_agency=True,
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
            by_agency=True,
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
            by_agency=True,
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
            by_agency=True,
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
        _ind(
            "cases.resolved",
            "Số phản ánh đã giải quyết",
            "Reports resolved",
            "{reports}",
            "none",
            "cases.count",
            params={"states": list(RESOLVED_STATES)},
            aggregation="sum",
            decimals=0,
            by_agency=True,
        ),
        _ind(
            "cases.rejected",
            "Số phản ánh bị từ chối",
            "Reports rejected",
            "{reports}",
            "none",
            "cases.count",
            params={"states": ["rejected"]},
            aggregation="sum",
            decimals=0,
            by_agency=True,
        ),
        _ind(
            "cases.open",
            "Số phản ánh đang xử lý",
            "Reports still open",
            "{reports}",
            "lower",
            "cases.count",
            params={"states": OPEN},
            aggregation="sum",
            decimals=0,
            by_agency=True,
        ),
        _ind(
            "cases.overdue_open",
            "Số phản ánh quá hạn chưa xử lý",
            "Overdue open reports",
            "{reports}",
            "lower",
            "cases.count",
            params={"states": OPEN, "overdue": True},
            aggregation="sum",
            decimals=0,
            by_agency=True,
        ),
        _ind(
            "cases.median_ack_hours",
            "Thời gian tiếp nhận trung vị",
            "Median time to acknowledge",
            "h",
            "lower",
            "cases.handling_hours",
            params={"until": "acknowledged_at"},
            aggregation="direct",
            by_agency=True,
        ),
    ]
