"""The traffic sector's routes: the segments' congestion as GeoJSON (the IOC's and the citizen map's layer),
the camera registry for staff, and cameras' heartbeats.

| route | who |
|---|---|
| ``GET /api/v1/traffic/segments.geojson`` | anyone: each current segment with its level of service, ``closed`` while a closure or works naming it is valid, and ``state`` (``closed`` or the level) |
| ``GET /api/v1/traffic/segments/{id}/days`` | anyone: per local day, hours at E or F and the peak-hour volume |
| ``GET /api/v1/traffic/closures.geojson`` | anyone: closures and works valid today (the permit number only for staff) |
| ``GET /api/v1/traffic/cameras`` (and ``cameras.geojson``) | staff (``place.view_staff``): cameras with status, ``stale`` flag, stream URL and credentials |
| ``POST /api/v1/traffic/cameras/{id}/heartbeat`` | an ingest API key or an admin (``sensing.ingest``): 204 |

Every GET takes ``area_id`` (the IOC's drill-down: the unit, its lineage, the units inside; an unknown id is 404
``unknown_area``). Nothing here computes congestion: the levels are the segments' statuses, kept by ``congestion.py``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cityops.areas.models import Area
from cityops.clock import LOCAL_TZ, ensure_utc, to_local, utcnow
from cityops.deps import SessionDep
from cityops.errors import Invalid, NotFound
from cityops.identity.deps import CurrentPrincipal
from cityops.identity.policy import Action, authorize, can
from cityops.openapi import GEOJSON_OK, GeoJSONResponse
from cityops.places.models import Place
from cityops.places.query import area_scope
from cityops.sectors.traffic.cameras import heartbeat, is_stale
from cityops.sectors.traffic.indicators import segment_days
from cityops.sectors.traffic.specs import CAMERA, ROAD_CLOSURE, ROAD_SEGMENT
from cityops.sensing.models import Thing

router = APIRouter(prefix="/api/v1/traffic", tags=["traffic"])
GEOJSON = "application/geo+json"


def scope(session: Session, area_id: int | None) -> set[int] | None:
    """The areas an ``area_id`` filter covers (the unit, its lineage, the units inside); None: everywhere."""
    if area_id is None:
        return None
    if session.get(Area, area_id) is None:
        raise NotFound("No such area", code="unknown_area", details={"area_id": area_id})
    return area_scope(session, area_id)


def in_scope(place: Place, areas: set[int] | None) -> bool:
    return areas is None or place.area_id in areas


def today() -> date:
    """Today's date in Vietnam (closures are valid by local dates)."""
    return to_local(utcnow()).date()


def valid_closures(session: Session, on: date) -> list[Place]:
    """Closures and works valid on ``on`` (``valid_from`` ≤ on < ``valid_to``)."""
    return list(
        session.scalars(
            select(Place)
            .where(
                Place.type_code == ROAD_CLOSURE.code,
                or_(Place.valid_from.is_(None), Place.valid_from <= on),
                or_(Place.valid_to.is_(None), Place.valid_to > on),
            )
            .order_by(Place.id)
        )
    )


def _feature(place: Place, properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "id": place.id, "geometry": place.geometry, "properties": properties}


def segment_features(session: Session, on: date, areas: set[int] | None = None) -> list[dict[str, Any]]:
    """The current segments with their level and closure state."""
    closed_by: dict[str, Place] = {}
    for closure in valid_closures(session, on):
        ref = (closure.attributes or {}).get("segment")
        if ref and (closure.attributes or {}).get("kind") in ("closure", "works"):
            closed_by.setdefault(str(ref), closure)
    features = []
    for seg in session.scalars(
        select(Place)
        .where(
            Place.type_code == ROAD_SEGMENT.code,
            or_(Place.valid_from.is_(None), Place.valid_from <= on),
            or_(Place.valid_to.is_(None), Place.valid_to > on),
        )
        .order_by(Place.id)
    ):
        if not in_scope(seg, areas):
            continue
        attrs = seg.attributes or {}
        shut = closed_by.get(seg.external_id or "")
        level = seg.status if seg.status and seg.status != "unknown" else None
        features.append(
            _feature(
                seg,
                {
                    "name": seg.name,
                    "road": attrs.get("road"),
                    "road_class": attrs.get("road_class"),
                    "lanes": attrs.get("lanes"),
                    "free_flow_kmh": attrs.get("free_flow_kmh"),
                    "capacity_pcu_h": attrs.get("capacity_pcu_h"),
                    "los": level,
                    "los_at": seg.status_at.isoformat() if seg.status_at and level else None,
                    "closed": shut is not None,
                    "closure_id": shut.id if shut else None,
                    "closure_name": shut.name if shut else None,
                    "state": "closed" if shut else (level or "unknown"),
                    "area_id": seg.area_id,
                    "demo": seg.demo,
                },
            )
        )
    return features


def _collection(features: list[dict[str, Any]]) -> Response:
    import json

    body = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)
    return Response(body, media_type=GEOJSON)


AreaParam = Annotated[int | None, Query(description="only this area (its lineage and the units inside it)")]


@router.get(
    "/segments.geojson",
    response_class=GeoJSONResponse,
    responses=GEOJSON_OK,
    summary="Road segments with their congestion (GeoJSON)",
)
def segments(session: SessionDep, principal: CurrentPrincipal, area_id: AreaParam = None) -> Response:
    authorize(principal, Action.PLACE_READ)
    return _collection(segment_features(session, today(), scope(session, area_id)))


MAX_DAYS = 31


@router.get("/segments/{place_id}/days", summary="A segment's congested hours and peak hour per day")
def segment_day_figures(
    place_id: int,
    session: SessionDep,
    principal: CurrentPrincipal,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: date | None = None,
) -> dict[str, Any]:
    """Per local day (``from``–``to`` inclusive, at most 31 days; default the last 7): hours at level E or F,
    the peak-hour volume and its hour, from the segment's counter's hourly roll-ups."""
    authorize(principal, Action.PLACE_READ)
    seg = session.get(Place, place_id)
    if seg is None or seg.type_code != ROAD_SEGMENT.code:
        raise NotFound("No such road segment", details={"place_id": place_id})
    last = to or today()
    first = from_ or last - timedelta(days=6)
    if first > last or (last - first).days >= MAX_DAYS:
        raise Invalid(
            f"from must not be after to, and at most {MAX_DAYS} days",
            details=[{"field": "from", "msg": f"within {MAX_DAYS} days before to"}],
        )
    code = (seg.attributes or {}).get("counter")
    thing_id = None
    if code:
        for thing in session.scalars(select(Thing)):
            if (thing.properties or {}).get("station_code") == code:
                thing_id = thing.id
    days = {}
    if thing_id is not None:
        start = ensure_utc(datetime.combine(first, datetime.min.time(), tzinfo=LOCAL_TZ))
        end = ensure_utc(datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=LOCAL_TZ))
        days = segment_days(session, thing_id, start, end)
    return {
        "segment_id": seg.id,
        "counter": code,
        "days": [{"date": d.isoformat(), **figures} for d, figures in days.items()],
    }


@router.get(
    "/closures.geojson",
    response_class=GeoJSONResponse,
    responses=GEOJSON_OK,
    summary="Closures and works valid today (GeoJSON)",
)
def closures(session: SessionDep, principal: CurrentPrincipal, area_id: AreaParam = None) -> Response:
    authorize(principal, Action.PLACE_READ)
    staff = can(principal, Action.PLACE_VIEW_STAFF)
    areas = scope(session, area_id)
    features = []
    for c in valid_closures(session, today()):
        if not in_scope(c, areas):
            continue
        attrs = dict(c.attributes or {})
        if not staff:
            attrs.pop("permit", None)
        features.append(
            _feature(
                c,
                {
                    "name": c.name,
                    **attrs,
                    "valid_from": c.valid_from.isoformat() if c.valid_from else None,
                    "valid_to": c.valid_to.isoformat() if c.valid_to else None,
                    "demo": c.demo,
                },
            )
        )
    return _collection(features)


def camera_items(session: Session, areas: set[int] | None) -> list[tuple[Place, dict[str, Any]]]:
    """Current cameras with their registry fields (stream URL and credentials included: staff only)."""
    now = utcnow()
    items = []
    for cam in session.scalars(
        select(Place).where(Place.type_code == CAMERA.code, Place.valid_to.is_(None)).order_by(Place.id)
    ):
        if not in_scope(cam, areas):
            continue
        attrs = cam.attributes or {}
        items.append(
            (
                cam,
                {
                    "id": cam.id,
                    "name": cam.name,
                    "lat": cam.lat,
                    "lon": cam.lon,
                    "area_id": cam.area_id,
                    "status": cam.status,
                    "status_at": cam.status_at.isoformat() if cam.status_at else None,
                    "stale": is_stale(cam, now) or cam.status == "stale",
                    **{key: attrs.get(key) for key in (a.code for a in CAMERA.attributes)},
                },
            )
        )
    return items


@router.get("/cameras", summary="The camera registry with stream URLs (staff only)")
def cameras(session: SessionDep, principal: CurrentPrincipal, area_id: AreaParam = None) -> dict[str, Any]:
    authorize(principal, Action.PLACE_VIEW_STAFF)
    items = [item for _, item in camera_items(session, scope(session, area_id))]
    return {"items": items, "total": len(items)}


@router.get(
    "/cameras.geojson",
    response_class=GeoJSONResponse,
    responses=GEOJSON_OK,
    summary="The camera registry as a map layer (staff only)",
)
def cameras_geojson(session: SessionDep, principal: CurrentPrincipal, area_id: AreaParam = None) -> Response:
    authorize(principal, Action.PLACE_VIEW_STAFF)
    pairs = camera_items(session, scope(session, area_id))
    return _collection([_feature(cam, item) for cam, item in pairs])


@router.post("/cameras/{place_id}/heartbeat", status_code=204, summary="A camera is alive")
def camera_heartbeat(place_id: int, session: SessionDep, principal: CurrentPrincipal) -> Response:
    authorize(principal, Action.SENSING_INGEST)
    place = session.get(Place, place_id)
    if place is None or place.type_code != CAMERA.code:
        raise NotFound("No such camera", details={"place_id": place_id})
    heartbeat(session, place, principal)
    session.commit()
    return Response(status_code=204)
