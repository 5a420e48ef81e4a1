"""``GET /api/v1/public-order/hotspots.geojson``: the public-order hotspot map (see ``hotspots.py``).

Query: ``from`` and ``to`` (months, ``YYYY-MM``, both included, at most 12; default the current month),
``category`` (one of the sector's restricted categories; default all of them), ``resolution`` (H3, 5–9; default
7), ``area_id`` (the IOC's drill-down: cells holding a case of the area; 404 ``unknown_area``). Staff (policy ``hotspot.view_full``) get every cell with its first and last report time; everyone else gets
resolution at most 7 and only cells of at least 5 cases, with months for times. Errors: 422 in the native format.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from cityops.areas.models import Area
from cityops.clock import to_local, utcnow
from cityops.deps import SessionDep
from cityops.errors import Invalid, NotFound
from cityops.identity.deps import CurrentPrincipal
from cityops.identity.policy import Action, can
from cityops.openapi import GEOJSON_OK, GeoJSONResponse
from cityops.places.query import area_scope
from cityops.sectors.public_order.hotspots import (
    MIN_RESOLUTION,
    PUBLIC_MAX_RESOLUTION,
    STAFF_MAX_RESOLUTION,
    feature_collection,
    hotspot_cells,
    month_range,
    parse_month,
    publishable,
    restricted_categories,
)

router = APIRouter(prefix="/api/v1/public-order", tags=["public order"])


@router.get(
    "/hotspots.geojson",
    response_class=GeoJSONResponse,
    responses=GEOJSON_OK,
    summary="Public-order hotspots on the H3 grid (k-anonymous for the public)",
)
def hotspots(
    session: SessionDep,
    principal: CurrentPrincipal,
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: str | None = None,
    category: str | None = None,
    resolution: int = PUBLIC_MAX_RESOLUTION,
    area_id: int | None = None,
) -> JSONResponse:
    full = can(principal, Action.HOTSPOT_VIEW_FULL)
    this_month = to_local(utcnow()).strftime("%Y-%m")
    first = parse_month(from_ or to or this_month, "from")
    last = parse_month(to or from_ or this_month, "to")
    start, end = month_range(first, last)
    allowed = restricted_categories()
    if category is not None and category not in allowed:
        raise Invalid(
            "Not a public-order category",
            details=[{"field": "category", "msg": f"one of {', '.join(allowed)}"}],
        )
    top = STAFF_MAX_RESOLUTION if full else PUBLIC_MAX_RESOLUTION
    if not MIN_RESOLUTION <= resolution <= STAFF_MAX_RESOLUTION:
        raise Invalid(
            "The H3 resolution is out of range",
            details=[{"field": "resolution", "msg": f"between {MIN_RESOLUTION} and {STAFF_MAX_RESOLUTION}"}],
        )
    resolution = min(resolution, top)  # the public's cells are never finer than 7
    areas = None
    if area_id is not None:
        if session.get(Area, area_id) is None:
            raise NotFound("No such area", code="unknown_area", details={"area_id": area_id})
        areas = area_scope(session, area_id)
    cats = (category,) if category else allowed
    cells = hotspot_cells(session, cats, start, end, resolution, areas, whole_cells=not full)
    if not full:
        cells = publishable(cells)
    body: dict[str, Any] = feature_collection(
        cells, full=full, first=first, last=last, resolution=resolution, category=category
    )
    return JSONResponse(body, media_type="application/geo+json")
