"""The indicators API: sets, definitions, values (JSON pages, CSV, XLSX), hand entry and targets.

Values are public aggregates (no personal data) and are only read here: they are computed by the event
consumers and ``cityops indicators recompute``, never on a request.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.areas.models import Area
from cityops.deps import ReadSessionDep, SessionDep
from cityops.errors import Invalid
from cityops.identity.deps import requires
from cityops.identity.policy import Action, Principal
from cityops.indicators import export
from cityops.indicators.models import (
    Indicator,
    IndicatorSet,
    IndicatorSetMember,
    IndicatorTarget,
    IndicatorValue,
)
from cityops.indicators.schemas import (
    IndicatorOut,
    IndicatorPage,
    SetOut,
    TargetIn,
    TargetList,
    TargetOut,
    ValueIn,
    ValueOut,
    ValuePage,
    errors,
)
from cityops.indicators.service import (
    ManualEntry,
    cell_agency,
    cell_area,
    enter_value,
    get_indicator,
    set_target,
    status_of,
)
from cityops.paging import Page, page_params, total

router = APIRouter(prefix="/api/v1", tags=["indicators"])

Format = Literal["json", "csv", "xlsx"]


@router.get("/indicator-sets", summary="Published indicator sets", response_model=list[SetOut])
def list_sets(session: ReadSessionDep) -> list[SetOut]:
    counts = {
        code: int(n)
        for code, n in session.execute(
            select(IndicatorSetMember.set_code, func.count())
            .join(Indicator, Indicator.code == IndicatorSetMember.indicator_code)
            .where(Indicator.active.is_(True))
            .group_by(IndicatorSetMember.set_code)
        )
    }
    rows = session.scalars(select(IndicatorSet).order_by(IndicatorSet.code))
    return [SetOut.of(r, counts.get(r.code, 0)) for r in rows]


def _memberships(session: Session, codes: list[str]) -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = defaultdict(list)
    if codes:
        for m in session.scalars(
            select(IndicatorSetMember)
            .where(IndicatorSetMember.indicator_code.in_(codes))
            .order_by(IndicatorSetMember.set_code)
        ):
            found[m.indicator_code].append((m.set_code, m.number))
    return found


@router.get(
    "/indicators", summary="Indicators (filter by set, sector, source)", response_model=IndicatorPage,
    responses=errors(422),
)  # fmt: skip
def list_indicators(
    session: ReadSessionDep,
    page: Annotated[Page, Depends(page_params(100))],
    set: Annotated[str | None, Query(description="A set code", max_length=64)] = None,
    sector: Annotated[str | None, Query(max_length=64)] = None,
    source: Annotated[
        str | None, Query(description="cases, observations, places, manual, ...", max_length=32)
    ] = None,
) -> IndicatorPage:
    stmt = select(Indicator).where(Indicator.active.is_(True))
    if set is not None:
        stmt = stmt.where(
            Indicator.code.in_(
                select(IndicatorSetMember.indicator_code).where(IndicatorSetMember.set_code == set)
            )
        )
    if sector is not None:
        stmt = stmt.where(Indicator.sector == sector)
    if source is not None:
        stmt = stmt.where(Indicator.source == source)
    rows = list(session.scalars(page.of(stmt.order_by(Indicator.code))))
    sets = _memberships(session, [r.code for r in rows])
    return IndicatorPage(
        items=[IndicatorOut.of(r, sets.get(r.code, [])) for r in rows],
        total=total(session, stmt),
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/indicators/{code}", summary="One indicator", response_model=IndicatorOut, responses=errors(404))
def read_indicator(session: ReadSessionDep, code: str) -> IndicatorOut:
    row = get_indicator(session, code)
    return IndicatorOut.of(row, _memberships(session, [code]).get(code, []))


@router.get(
    "/indicators/{code}/values",
    summary="Values of an indicator for an area and a range of periods (JSON, CSV or XLSX)",
    response_model=ValuePage,
    responses={**errors(404, 422), 200: {"content": {"text/csv": {}, export.XLSX: {}}}},
)
def read_values(
    session: ReadSessionDep,
    code: str,
    page: Annotated[Page, Depends(page_params(200, 5000))],
    area_id: Annotated[
        int | None, Query(description="An area (an old unit reads its successor's values)")
    ] = None,
    from_: Annotated[date | None, Query(alias="from", description="First period start (inclusive)")] = None,
    to: Annotated[date | None, Query(description="Last period start (inclusive)")] = None,
    agency_id: Annotated[
        int | None, Query(description="One agency's cells (indicators kept by_agency); absent: all agencies")
    ] = None,
    breakdown: Annotated[
        Literal["agency"] | None, Query(description="'agency': every agency's cells instead of the total")
    ] = None,
    format: Annotated[Format, Query()] = "json",
) -> ValuePage | Response:
    indicator = get_indicator(session, code)
    if from_ is not None and to is not None and to < from_:
        raise Invalid("'to' is before 'from'", code="bad_range", details={"from": str(from_), "to": str(to)})
    if (agency_id is not None or breakdown is not None) and not indicator.by_agency:
        raise Invalid(
            f"{code} is not kept per agency", code="no_agency_breakdown", details={"indicator": code}
        )
    if agency_id is not None:
        cell_agency(session, agency_id)
    area = cell_area(session, area_id) if area_id is not None else None
    stmt = select(IndicatorValue).where(IndicatorValue.indicator_code == code)
    if agency_id is not None:
        stmt = stmt.where(IndicatorValue.agency_id == agency_id)
    elif breakdown == "agency":
        stmt = stmt.where(IndicatorValue.agency_id.is_not(None))
    else:
        stmt = stmt.where(IndicatorValue.agency_id.is_(None))
    if area is not None:
        stmt = stmt.where(IndicatorValue.area_id == area.id)
    if from_ is not None:
        stmt = stmt.where(IndicatorValue.period_start >= from_)
    if to is not None:
        stmt = stmt.where(IndicatorValue.period_start <= to)
    ordered = stmt.order_by(IndicatorValue.period_start, IndicatorValue.area_id, IndicatorValue.agency_id)
    rows = list(session.scalars(page.of(ordered)))
    if format != "json":
        names = {
            i: n
            for i, n in session.execute(
                select(Area.id, Area.name).where(Area.id.in_({r.area_id for r in rows}))
            )
        }
        if format == "csv":
            return Response(export.to_csv(indicator, rows, names), media_type="text/csv; charset=utf-8")
        return Response(
            export.to_xlsx(indicator, rows, names),
            media_type=export.XLSX,
            headers={"Content-Disposition": f'attachment; filename="{code}.xlsx"'},
        )
    return ValuePage(
        indicator=code,
        area_id=area.id if area is not None else None,
        agency_id=agency_id,
        items=[ValueOut.of(r) for r in rows],
        total=total(session, stmt),
        limit=page.limit,
        offset=page.offset,
    )


@router.post(
    "/indicators/{code}/values",
    summary="Enter a value by hand, with its source document (replaces the cell's earlier entry)",
    status_code=201,
    response_model=ValueOut,
    responses=errors(401, 403, 404, 422),
)
def post_value(
    request: Request,
    session: SessionDep,
    code: str,
    body: ValueIn,
    principal: Annotated[Principal, Depends(requires(Action.INDICATOR_ENTER))],
) -> ValueOut:
    indicator = get_indicator(session, code)
    entry = ManualEntry(body.area_id, body.period_start, body.value, body.source_document, body.note)
    row = enter_value(session, indicator, entry, principal, request)
    session.commit()
    return ValueOut.of(row)


def _targets(session: Session, indicator: Indicator) -> list[TargetOut]:
    targets = list(
        session.scalars(
            select(IndicatorTarget)
            .where(IndicatorTarget.indicator_code == indicator.code)
            .order_by(IndicatorTarget.year, IndicatorTarget.area_id)
        )
    )
    if not targets:
        return []
    years = {t.year for t in targets}
    latest: dict[tuple[int, int], IndicatorValue] = {}
    for found in session.scalars(
        select(IndicatorValue)
        .where(
            IndicatorValue.indicator_code == indicator.code,
            IndicatorValue.area_id.in_({t.area_id for t in targets}),
            IndicatorValue.agency_id.is_(None),
            IndicatorValue.period_start >= date(min(years), 1, 1),
            IndicatorValue.period_start < date(max(years) + 1, 1, 1),
            IndicatorValue.value.is_not(None),
        )
        .order_by(IndicatorValue.period_start)
    ):
        latest[(found.area_id, found.period_start.year)] = found
    out = []
    for t in targets:
        v = latest.get((t.area_id, t.year))
        out.append(TargetOut.of(t, v, status_of(indicator.direction, v.value if v else None, t.value)))
    return out


@router.get(
    "/indicators/{code}/targets", summary="Targets with the latest value and status", response_model=TargetList,
    responses=errors(404),
)  # fmt: skip
def read_targets(session: ReadSessionDep, code: str) -> TargetList:
    indicator = get_indicator(session, code)
    return TargetList(indicator=code, items=_targets(session, indicator))


@router.put(
    "/indicators/{code}/targets",
    summary="Set (create or replace) the target of an area for a year",
    response_model=TargetList,
    responses=errors(401, 403, 404, 422),
)
def put_target(
    request: Request,
    session: SessionDep,
    code: str,
    body: TargetIn,
    principal: Annotated[Principal, Depends(requires(Action.INDICATOR_TARGET))],
) -> TargetList:
    indicator = get_indicator(session, code)
    set_target(session, indicator, body.area_id, body.year, body.value, body.note, principal, request)
    session.commit()
    return TargetList(indicator=code, items=_targets(session, indicator))
