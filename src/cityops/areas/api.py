"""Native API for administrative units: list/search, detail with lineage, point lookup, GeoJSON for maps.

Areas are public reference data, so these routes need no authentication.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from cityops.areas import service
from cityops.areas.lineage import current_successors, direct_predecessors, direct_successors
from cityops.areas.lookup import locate
from cityops.areas.models import Area, AreaLineage
from cityops.deps import SessionDep
from cityops.errors import NotFound
from cityops.openapi import GEOJSON_OK, GeoJSONResponse
from cityops.paging import Page, page_params

router = APIRouter(prefix="/api/v1", tags=["areas"])

Level = Literal["province", "district", "commune"]


class AreaRef(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    kind: str
    level: str
    valid_from: date | None
    valid_to: date | None


class AreaSummary(AreaRef):
    parent_id: int | None
    lat: float | None
    lon: float | None
    area_km2: float | None
    approximate: bool
    geometry_source: str | None

    @classmethod
    def of(cls, area: Area) -> AreaSummary:
        return cls(
            id=area.id,
            code=area.code,
            name=area.name,
            kind=area.kind,
            level=area.level,
            valid_from=area.valid_from,
            valid_to=area.valid_to,
            parent_id=area.parent_id,
            lat=area.lat,
            lon=area.lon,
            area_km2=area.area_km2,
            approximate=bool(area.geometry_approximate),
            geometry_source=area.geometry_source,
        )


class AreaPage(BaseModel):
    items: list[AreaSummary]
    total: int
    limit: int
    offset: int


class LinkOut(BaseModel):
    area: AreaRef
    relation: str
    is_default: bool
    effective: date

    @classmethod
    def of(cls, area: Area, link: AreaLineage) -> LinkOut:
        return cls(
            area=AreaRef.model_validate(area),
            relation=link.relation,
            is_default=link.is_default,
            effective=link.effective,
        )


class AreaDetail(AreaSummary):
    current: bool
    parent: AreaRef | None
    ancestors: list[AreaRef]
    children_count: int
    predecessors: list[LinkOut]
    successors: list[LinkOut]
    current_successors: list[AreaRef]
    geometry: dict[str, Any] | None = None


class LookupOut(BaseModel):
    at: date
    lat: float
    lon: float
    area: AreaSummary
    ancestors: list[AreaRef]


def _page_params(
    level: Level | None, parent_id: int | None, q: str | None, at: date | None, historical: bool
) -> dict[str, Any]:
    return {"level": level, "parent_id": parent_id, "q": q, "at": at, "historical": historical}


LevelQ = Annotated[Level | None, Query(description="province, district or commune")]
AtQ = Annotated[date | None, Query(description="Units valid on this date (default: today)")]
HistoricalQ = Annotated[bool, Query(description="Include units that have ended (ignored when `at` is given)")]


@router.get("/areas", response_model=AreaPage)
def list_areas(
    session: SessionDep,
    page: Annotated[Page, Depends(page_params(50))],
    level: LevelQ = None,
    parent_id: int | None = None,
    q: Annotated[str | None, Query(max_length=128, description="Name search, diacritics ignored")] = None,
    at: AtQ = None,
    historical: HistoricalQ = False,
) -> AreaPage:
    """Administrative units, current by default; `q` matches every word of the name without diacritics."""
    rows, total = service.list_areas(
        session, **_page_params(level, parent_id, q, at, historical), limit=page.limit, offset=page.offset
    )
    return AreaPage(
        items=[AreaSummary.of(a) for a in rows], total=total, limit=page.limit, offset=page.offset
    )


@router.get("/areas.geojson", response_class=GeoJSONResponse, responses=GEOJSON_OK)
def areas_geojson(
    session: SessionDep,
    level: Annotated[Level, Query(description="province, district or commune")] = "commune",
    parent_id: int | None = None,
    at: AtQ = None,
    historical: HistoricalQ = False,
) -> Response:
    """A GeoJSON FeatureCollection for the IOC map; `properties.approximate` marks approximate cells."""
    import orjson

    stmt = service.area_query(level=level, parent_id=parent_id, at=at, historical=historical)
    rows = list(session.scalars(stmt.order_by(Area.id)))
    return Response(orjson.dumps(service.geojson_features(rows)), media_type="application/geo+json")


@router.get("/areas/lookup", response_model=LookupOut)
def lookup(
    session: SessionDep,
    lat: Annotated[float, Query(ge=-90, le=90, allow_inf_nan=False, description="WGS 84 latitude")],
    lon: Annotated[float, Query(ge=-180, le=180, allow_inf_nan=False, description="WGS 84 longitude")],
    at: AtQ = None,
) -> LookupOut:
    """The commune containing a point (on `at`, default today) and its parents; 404 outside every unit."""
    day = at or service.today()
    found = locate(session, lat, lon, day)
    if not found:
        raise NotFound("No area contains this point", details={"lat": lat, "lon": lon, "at": day.isoformat()})
    area = found[0]
    return LookupOut(
        at=day,
        lat=lat,
        lon=lon,
        area=AreaSummary.of(area),
        ancestors=[AreaRef.model_validate(a) for a in service.ancestors(session, area)],
    )


@router.get("/areas/{area_id}", response_model=AreaDetail, response_model_exclude_none=False)
def get_area(
    session: SessionDep,
    area_id: int,
    geometry: Annotated[bool, Query(description="Include the GeoJSON geometry")] = False,
) -> AreaDetail:
    """One unit with its parent, children count, validity, lineage and approximate flag."""
    area = service.get_area(session, area_id)
    chain = service.ancestors(session, area)
    summary = AreaSummary.of(area).model_dump()
    return AreaDetail(
        **summary,
        current=area.valid_on(service.today()),
        parent=AreaRef.model_validate(chain[0]) if chain else None,
        ancestors=[AreaRef.model_validate(a) for a in chain],
        children_count=service.children_count(session, area.id),
        predecessors=[LinkOut.of(a, link) for a, link in direct_predecessors(session, area.id)],
        successors=[LinkOut.of(a, link) for a, link in direct_successors(session, area.id)],
        current_successors=[AreaRef.model_validate(a) for a in current_successors(session, area.id)],
        geometry=area.geometry if geometry else None,
    )
