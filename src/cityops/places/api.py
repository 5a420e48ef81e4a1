"""Native API of the places registry: types, places (JSON pages, GeoJSON, CSV), writes, status history.

Reading is public, but places of staff-only types and staff-only attributes reach staff only (the policy's
``place.view_staff``); a staff-only place is a 404 to anyone else, so its existence does not leak. Writes need
``place.manage`` (operators and admins), status changes ``place.status``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Annotated, Any, Literal, cast

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cityops.deps import SessionDep
from cityops.errors import Conflict, NotFound
from cityops.identity.deps import CurrentPrincipal
from cityops.identity.policy import Action, Principal, authorize, can
from cityops.openapi import CSV, GEOJSON, GEOJSON_OK, GeoJSONResponse, error_responses, success_types
from cityops.paging import Page, page_params, total
from cityops.places import service
from cityops.places.models import Place, PlaceStatusHistory, PlaceType
from cityops.places.query import PlaceFilter, parse_bbox, place_query, visible_types
from cityops.places.render import (
    PlaceOut,
    PlacePage,
    PlaceTypeOut,
    StatusChangeOut,
    StatusHistoryPage,
    feature_collection,
    to_csv,
)
from cityops.places.types import all_types, get_type

router = APIRouter(prefix="/api/v1", tags=["places"])


# JSON carries dates as text: strict models would refuse every one
LooseDate = Annotated[date | None, Field(None, strict=False, description="yyyy-mm-dd")]


class PlaceIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    type: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=255)
    geometry: dict[str, Any] = Field(description="GeoJSON geometry in WGS 84 (lon, lat)")
    attributes: dict[str, Any] = Field(default_factory=dict)
    status: str | None = Field(None, max_length=32, description="Default: the type's default status")
    source: str = Field("", max_length=64, description="The system external_id comes from")
    external_id: str | None = Field(None, min_length=1, max_length=128)
    thing_id: int | None = None
    valid_from: LooseDate = None
    valid_to: LooseDate = None


class PlacePatch(BaseModel):
    """Fields to change. ``attributes`` are merged into the current ones (``null`` removes one)."""

    model_config = ConfigDict(strict=True, extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=255)
    geometry: dict[str, Any] | None = None
    attributes: dict[str, Any] | None = None
    source: str | None = Field(None, max_length=64)
    external_id: str | None = Field(None, min_length=1, max_length=128)
    thing_id: int | None = None
    valid_from: LooseDate = None
    valid_to: LooseDate = None


class StatusIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    status: str = Field(min_length=1, max_length=32)
    note: str = Field("", max_length=1000)


@contextmanager
def _unique_race(session: Session) -> Iterator[None]:
    """A concurrent write that took the same external id or Thing after :func:`service.prepare` checked it
    is a 409 like the checked case, not a server error."""
    try:
        yield
    except IntegrityError:
        session.rollback()
        raise Conflict("Another place took this external id or Thing meanwhile; try again") from None


def _staff(principal: Principal) -> bool:
    return can(principal, Action.PLACE_VIEW_STAFF)


def _types(session: SessionDep) -> dict[str, PlaceType]:
    return {t.code: t for t in all_types(session)}


def _visible_place(session: SessionDep, principal: Principal, place_id: int) -> tuple[Place, PlaceType]:
    place = session.get(Place, place_id)
    ptype = session.get(PlaceType, place.type_code) if place is not None else None
    if place is None or ptype is None or (ptype.visibility != "public" and not _staff(principal)):
        raise NotFound(f"No place with id {place_id}")
    return place, ptype


def _out(session: SessionDep, place: Place, ptype: PlaceType, principal: Principal) -> PlaceOut:
    from cityops.areas.models import Area

    area = session.get(Area, place.area_id) if place.area_id is not None else None
    ref = (area.code, area.name) if area is not None else (None, None)
    return PlaceOut.of(place, ptype, ref, staff=_staff(principal))


@router.get("/place-types", response_model=list[PlaceTypeOut])
def list_place_types(session: SessionDep, principal: CurrentPrincipal) -> list[PlaceTypeOut]:
    """The place types the sectors declare; staff-only types and attributes are listed for staff only."""
    staff = _staff(principal)
    return [PlaceTypeOut.of(t, staff=staff) for t in visible_types(all_types(session), staff=staff)]


Format = Literal["json", "geojson", "csv"]

_LIST_RESPONSES = {**success_types(GEOJSON, CSV), **error_responses(404, 422)}


def place_filter(
    type: Annotated[list[str] | None, Query(description="Place type codes (repeat for several)")] = None,
    area_id: Annotated[
        int | None, Query(description="An area id; its lineage and the units inside it are followed")
    ] = None,
    bbox: Annotated[str | None, Query(description="min_lon,min_lat,max_lon,max_lat (WGS 84)")] = None,
    status: Annotated[list[str] | None, Query(description="Status codes (repeat for several)")] = None,
    q: Annotated[str | None, Query(max_length=128, description="Name search, diacritics ignored")] = None,
    at: Annotated[date | None, Query(description="Places that existed on this date (default: today)")] = None,
    historical: Annotated[
        bool, Query(description="Include places retired (valid_to passed) or not yet valid")
    ] = False,
    thing_id: Annotated[
        list[int] | None, Query(description="SensorThings Thing ids: the station places they are")
    ] = None,
) -> PlaceFilter:
    """The list filters, as one dependency shared by the JSON/CSV and the GeoJSON routes."""
    return PlaceFilter(
        types=type or (),
        area_id=area_id,
        bbox=parse_bbox(bbox) if bbox else None,
        statuses=status or (),
        q=q,
        at=at,
        historical=historical,
        thing_ids=thing_id or (),
    )


FilterDep = Annotated[PlaceFilter, Depends(place_filter)]
PageDep = Annotated[Page, Depends(page_params(100))]


def _list(
    request: Request,
    session: SessionDep,
    principal: Principal,
    page: Page,
    flt: PlaceFilter,
    format: Format | None,
) -> PlacePage | Response:
    staff = _staff(principal)
    types = _types(session)
    visible = [t.code for t in visible_types(list(types.values()), staff=staff)]
    stmt = place_query(session, flt, visible)
    count = total(session, cast("Select[Any]", stmt))
    rows = session.execute(stmt.limit(page.limit).offset(page.offset)).all()
    items = [PlaceOut.of(p, types[p.type_code], (code, name), staff=staff) for p, code, name in rows]
    if format is None and GEOJSON in request.headers.get("accept", ""):
        format = "geojson"
    if format == "geojson":
        body = feature_collection(items, total=count, limit=page.limit, offset=page.offset)
        return Response(orjson.dumps(body), media_type=GEOJSON)
    if format == "csv":
        return Response(
            to_csv(items, types, staff=staff),
            media_type=CSV + "; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="places.csv"'},
        )
    return PlacePage(items=items, total=count, limit=page.limit, offset=page.offset)


@router.get("/places", response_model=PlacePage, responses=_LIST_RESPONSES)
def list_places(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    flt: FilterDep,
    format: Annotated[
        Format | None, Query(description="json (default), geojson or csv; or Accept: " + GEOJSON)
    ] = None,
) -> PlacePage | Response:
    """Places, current by default, filtered by type, area (following lineage), bbox, status and name."""
    return _list(request, session, principal, page, flt, format)


@router.get(
    "/places.geojson",
    response_class=GeoJSONResponse,
    responses={**GEOJSON_OK, **error_responses(404, 422)},
)
def list_places_geojson(
    request: Request, session: SessionDep, principal: CurrentPrincipal, page: PageDep, flt: FilterDep
) -> Response:
    """The same list as a GeoJSON FeatureCollection (for maps)."""
    result = _list(request, session, principal, page, flt, "geojson")
    assert isinstance(result, Response)
    return result


@router.post(
    "/places", response_model=PlaceOut, status_code=201, responses=error_responses(401, 403, 409, 422)
)
def create_place(
    body: PlaceIn, request: Request, session: SessionDep, principal: CurrentPrincipal, response: Response
) -> PlaceOut:
    """Add a place; attributes are checked against its type's schema, its area found from its geometry."""
    authorize(principal, Action.PLACE_MANAGE)
    ptype = get_type(session, body.type)
    values = service.prepare(session, ptype, body.model_dump(exclude={"type"}, exclude_unset=True))
    with _unique_race(session):
        place = service.create_place(session, ptype, values, actor=principal, request=request)
        session.commit()
    response.headers["Location"] = f"/api/v1/places/{place.id}"
    return _out(session, place, ptype, principal)


@router.get("/places/{place_id}", response_model=PlaceOut, responses=error_responses(404))
def get_place(place_id: int, session: SessionDep, principal: CurrentPrincipal) -> PlaceOut:
    """One place (404 for a staff-only place to anyone but staff)."""
    place, ptype = _visible_place(session, principal, place_id)
    return _out(session, place, ptype, principal)


@router.patch(
    "/places/{place_id}", response_model=PlaceOut, responses=error_responses(401, 403, 404, 409, 422)
)
def update_place(
    place_id: int, body: PlacePatch, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> PlaceOut:
    """Change a place's fields (not its type, nor its status: see ``/status``); a no-op writes nothing."""
    authorize(principal, Action.PLACE_MANAGE)
    place, ptype = _visible_place(session, principal, place_id)
    values = service.prepare(session, ptype, body.model_dump(exclude_unset=True), place=place)
    with _unique_race(session):
        if service.update_place(session, place, values, actor=principal, request=request):
            session.commit()
    return _out(session, place, ptype, principal)


@router.delete("/places/{place_id}", status_code=204, responses=error_responses(401, 403, 404))
def delete_place(
    place_id: int, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    """Remove a wrong entry for good (retire a real place with ``valid_to`` instead)."""
    authorize(principal, Action.PLACE_MANAGE)
    place, _ptype = _visible_place(session, principal, place_id)
    service.delete_place(session, place, actor=principal, request=request)
    session.commit()
    return Response(status_code=204)


@router.post(
    "/places/{place_id}/status",
    response_model=StatusChangeOut,
    status_code=201,
    responses=error_responses(401, 403, 404, 422),
)
def change_status(
    place_id: int, body: StatusIn, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> StatusChangeOut:
    """Record a status change (one of the type's statuses) with an optional note."""
    authorize(principal, Action.PLACE_STATUS)
    place, ptype = _visible_place(session, principal, place_id)
    entry = service.change_status(
        session, place, ptype, body.status, note=body.note, actor=principal, request=request
    )
    session.commit()
    return StatusChangeOut.of(entry)


@router.get(
    "/places/{place_id}/status-history", response_model=StatusHistoryPage, responses=error_responses(404)
)
def status_history(
    place_id: int,
    session: SessionDep,
    principal: CurrentPrincipal,
    page: Annotated[Page, Depends(page_params(50))],
) -> StatusHistoryPage:
    """The place's status changes, newest first."""
    place, _ptype = _visible_place(session, principal, place_id)
    stmt = select(PlaceStatusHistory).where(PlaceStatusHistory.place_id == place.id)
    count = total(session, stmt)
    rows = session.scalars(page.of(stmt.order_by(PlaceStatusHistory.at.desc(), PlaceStatusHistory.id.desc())))
    return StatusHistoryPage(
        items=[StatusChangeOut.of(r) for r in rows], total=count, limit=page.limit, offset=page.offset
    )
