"""The scheme's progress as indicators, computed from the programme rows (not entered twice by hand).

Each is a yearly value at the programme's area (the province it was approved for) and rolls up along lineage
like any other series: old Long An's programme counts for today's Tây Ninh. Money is cumulative to the end of
the period (how the province reports disbursement against a multi-year plan); a ``programmes.changed`` event
names the programme and the first day it changed, and every year from then on is recomputed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.areas.models import Area, AreaLineage
from cityops.clock import to_local, utcnow
from cityops.events.bus import Event
from cityops.indicators.calc import Partial, fold, union
from cityops.programmes.models import (
    Disbursement,
    Programme,
    ProgrammePhase,
    ProgrammePhaseArea,
    ProgrammeProject,
)
from cityops.specs import AreaGroups, IndicatorCalculatorSpec, IndicatorSource, IndicatorSpec, Measure, Period

SCHEME_SET = "long_an_scheme_2020"
SUBJECT = "programmes.changed"
BILLION = 1_000_000_000
Compute = Callable[[Session, IndicatorSpec, AreaGroups, datetime, datetime], Mapping[int, Measure]]


def _last_day(end: datetime) -> date:
    """The period's last local day (periods are ``[start, end)`` in UTC, bounded at local midnight)."""
    return to_local(end - timedelta(microseconds=1)).date()


def _programmes(session: Session, groups: AreaGroups) -> list[Programme]:
    areas = union(groups)
    stmt = select(Programme)
    if areas is not None:
        stmt = stmt.where(Programme.area_id.in_(sorted(areas)))
    return list(session.scalars(stmt.order_by(Programme.id)))


def disbursed(
    session: Session, spec: IndicatorSpec, groups: AreaGroups, start: datetime, end: datetime
) -> Mapping[int, Measure]:
    """Money disbursed by the end of the period (cumulative), in billions of VND."""
    last = _last_day(end)
    parts: dict[int | None, Partial] = {}
    for programme in _programmes(session, groups):
        total, count = session.execute(
            select(func.coalesce(func.sum(Disbursement.amount_vnd), 0), func.count(Disbursement.id))
            .join(ProgrammeProject, ProgrammeProject.id == Disbursement.project_id)
            .where(ProgrammeProject.programme_id == programme.id, Disbursement.disbursed_on <= last)
        ).one()
        part = parts.setdefault(programme.area_id, Partial())
        part.numerator += int(total) / BILLION
        part.denominator += programme.budget_planned_vnd / BILLION
        part.inputs += int(count)
    return fold(session, spec, groups, parts, to_local(start).year)


def projects_completed(
    session: Session, spec: IndicatorSpec, groups: AreaGroups, start: datetime, end: datetime
) -> Mapping[int, Measure]:
    """Component projects completed by the end of the period (their end date reached), out of those not cancelled."""
    last = _last_day(end)
    parts: dict[int | None, Partial] = {}
    for programme in _programmes(session, groups):
        rows = list(
            session.execute(
                select(ProgrammeProject.status, ProgrammeProject.ends_on).where(
                    ProgrammeProject.programme_id == programme.id, ProgrammeProject.status != "cancelled"
                )
            )
        )
        done = sum(1 for status, ends in rows if status == "completed" and (ends is None or ends <= last))
        part = parts.setdefault(programme.area_id, Partial())
        part.numerator += done
        part.denominator += len(rows)
        part.inputs += len(rows)
    return fold(session, spec, groups, parts, to_local(start).year)


def rollout_communes(
    session: Session, spec: IndicatorSpec, groups: AreaGroups, start: datetime, end: datetime
) -> Mapping[int, Measure]:
    """Today's communes in a phase that has started by the end of the period.

    A phase names the units of its day (the Tân An city district of 2020); their communes' successors are the
    communes counted, so the figure reads in today's map.
    """
    last = _last_day(end)
    parts: dict[int | None, Partial] = {}
    for programme in _programmes(session, groups):
        phase_areas = (
            select(ProgrammePhaseArea.area_id)
            .join(ProgrammePhase, ProgrammePhase.id == ProgrammePhaseArea.phase_id)
            .where(ProgrammePhase.programme_id == programme.id, ProgrammePhase.starts_on <= last)
        )
        old_communes = select(Area.id).where(Area.parent_id.in_(phase_areas), Area.level == "commune")
        communes = (
            select(AreaLineage.successor_id).where(AreaLineage.predecessor_id.in_(old_communes)).distinct()
        )
        count = session.scalar(select(func.count()).select_from(communes.subquery())) or 0
        part = parts.setdefault(programme.area_id, Partial())
        part.numerator += count
        part.denominator += 1
        part.inputs += count
    return fold(session, spec, groups, parts, to_local(start).year)


def touched(session: Session, event: Event) -> list[tuple[int | None, datetime]]:
    """Every year from the first changed day to now, at the programme's area (values are cumulative)."""
    area_id = event.payload.get("area_id")
    since = event.payload.get("since")
    if not isinstance(area_id, int) or not isinstance(since, str):
        return []
    first = date.fromisoformat(since).year
    return [
        (area_id, datetime(year, 6, 30, tzinfo=UTC)) for year in range(first, to_local(utcnow()).year + 1)
    ]


def calculators() -> list[IndicatorCalculatorSpec]:
    def calc(method: str, fn: Compute, description: str) -> IndicatorCalculatorSpec:
        return IndicatorCalculatorSpec(
            method, IndicatorSource.PROGRAMMES, fn, (SUBJECT,), touched, description
        )

    return [
        calc("programmes.disbursed", disbursed, "money disbursed by the end of the period, billions of VND"),
        calc(
            "programmes.disbursement_rate", disbursed, "% of the planned budget disbursed by the period's end"
        ),
        calc(
            "programmes.projects_completed", projects_completed, "component projects completed (count or %)"
        ),
        calc("programmes.rollout_communes", rollout_communes, "today's communes in a phase that has started"),
    ]


def _spec(
    code: str, vi: str, en: str, unit: str, method: str, aggregation: str, ref: str, **kw: object
) -> IndicatorSpec:
    return IndicatorSpec(
        code=code,
        name_vi=vi,
        name_en=en,
        unit=unit,
        direction="higher",
        period=Period.YEAR,
        source=IndicatorSource.PROGRAMMES,
        sector="scheme",
        method=method,
        levels=("province",),
        sets=((SCHEME_SET, ref),),
        aggregation=aggregation,  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


def indicators() -> list[IndicatorSpec]:
    return [
        _spec(
            "scheme.budget_disbursed",
            "Kinh phí đề án đã giải ngân (lũy kế)",
            "Scheme budget disbursed (cumulative)",
            "10*9.{VND}",
            "programmes.disbursed",
            "sum",
            "NS.1",
            decimals=1,
        ),
        _spec(
            "scheme.disbursement_rate",
            "Tỷ lệ giải ngân so với kế hoạch (lũy kế)",
            "Disbursement against plan (cumulative)",
            "%",
            "programmes.disbursement_rate",
            "ratio",
            "NS.2",
            params={"scale": 100},
            decimals=1,
        ),
        _spec(
            "scheme.projects_completed",
            "Số dự án thành phần hoàn thành (lũy kế)",
            "Component projects completed (cumulative)",
            "{projects}",
            "programmes.projects_completed",
            "sum",
            "TD.1",
            decimals=0,
        ),
        _spec(
            "scheme.rollout_communes",
            "Số xã, phường trong vùng triển khai",
            "Communes in the rollout",
            "{communes}",
            "programmes.rollout_communes",
            "sum",
            "TD.2",
            decimals=0,
        ),
    ]
