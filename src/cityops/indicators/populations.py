"""Residents per area and year, the denominators of per-capita indicators, entered by an admin with their source.

``GET /api/v1/areas/{id}/populations`` lists them (public); ``PUT /api/v1/areas/{id}/populations/{year}``
``{"population", "source"}`` creates or replaces one (``area.population.enter``: admins), audited, and
recomputes that year's cells of every per-capita indicator, so a new figure shows at once. A former unit, an
empty source or a year outside 1975–2100 answer 422 and change nothing.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from cityops.areas.models import Area
from cityops.audit.service import record, snapshot
from cityops.deps import ReadSessionDep, SessionDep
from cityops.errors import Invalid, NotFound
from cityops.identity.deps import requires
from cityops.identity.policy import Action, Principal
from cityops.indicators.models import AreaPopulation
from cityops.text import nfc

router = APIRouter(prefix="/api/v1", tags=["indicators"])


class PopulationIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    population: int = Field(ge=0, le=100_000_000)
    source: str = Field(min_length=1, max_length=300, description="Where the figure comes from")


def _view(row: AreaPopulation) -> dict[str, Any]:
    return {
        "area_id": row.area_id,
        "year": row.year,
        "population": row.population,
        "source": row.source,
        "demo": row.demo,
    }


def _area(session: Any, area_id: int) -> Area:
    area = session.get(Area, area_id)
    if area is None:
        raise NotFound(f"No area with id {area_id}", code="unknown_area")
    return area  # type: ignore[no-any-return]


@router.get("/areas/{area_id}/populations", summary="Residents of an area per year, with their source")
def list_populations(session: ReadSessionDep, area_id: int) -> dict[str, Any]:
    _area(session, area_id)
    rows = session.scalars(
        select(AreaPopulation).where(AreaPopulation.area_id == area_id).order_by(AreaPopulation.year)
    )
    return {"area_id": area_id, "items": [_view(r) for r in rows]}


@router.put("/areas/{area_id}/populations/{year}", summary="Enter the residents of an area for a year")
def put_population(
    request: Request,
    session: SessionDep,
    area_id: int,
    year: int,
    body: PopulationIn,
    principal: Annotated[Principal, Depends(requires(Action.AREA_POPULATION_ENTER))],
) -> dict[str, Any]:
    area = _area(session, area_id)
    problems = []
    if area.valid_to is not None:
        problems.append({"field": "area_id", "msg": "is a former unit; enter today's unit"})
    if not 1975 <= year <= 2100:
        problems.append({"field": "year", "msg": "must be between 1975 and 2100"})
    source = nfc(body.source).strip()
    if not source:
        problems.append({"field": "source", "msg": "is required"})
    if problems:
        raise Invalid("The population cannot be entered", details=problems)
    row = session.get(AreaPopulation, (area_id, year))
    before = snapshot(row) if row is not None else None
    if row is None:
        row = AreaPopulation(area_id=area_id, year=year)
        session.add(row)
    row.population, row.source, row.demo = body.population, source, False
    session.flush()
    record(
        session,
        principal,
        "area.population",
        "area",
        area_id,
        before=before,
        after=snapshot(row),
        request=request,
    )
    _recompute_per_capita(session, year)
    session.commit()
    return _view(row)


def _recompute_per_capita(session: Any, year: int) -> None:
    from cityops.indicators.engine import recompute
    from cityops.indicators.registry import load

    reg = load()
    codes = [code for code, spec in reg.indicators.items() if spec.aggregation == "per_capita"]
    if codes:
        recompute(session, date(year, 1, 1), date(year, 12, 31), codes, reg)
