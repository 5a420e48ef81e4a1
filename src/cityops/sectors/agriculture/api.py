"""Agriculture's public API: crop tolerances, intrusion distances, sluice gates with recommendations.

``GET /api/v1/agriculture/crops``, ``/intrusion``, ``/intrusion.geojson``, ``/gates``, ``/gates.geojson``,
``/bulletins`` (the current bulletin per commune and crop) and ``/bulletins/history``.
All public (the data is what farmers read); the GeoJSON endpoints are the IOC's map layers and accept the
IOC's ``area_id`` (an unknown one is 404 ``unknown_area``; rivers and gates are shown whole).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.areas.models import Area
from cityops.audit.service import record
from cityops.clock import utcnow
from cityops.deps import ReadSessionDep, SessionDep
from cityops.errors import Invalid, NotFound
from cityops.identity.deps import CurrentPrincipal
from cityops.identity.policy import Action, authorize
from cityops.places.models import Place
from cityops.sectors.agriculture.bulletins import area_names
from cityops.sectors.agriculture.crops import CROPS, Crop, effective
from cityops.sectors.agriculture.gates import recommend_for
from cityops.sectors.agriculture.intrusion import Reach, geojson, intrusion
from cityops.sectors.agriculture.models import CropTolerance, SalinityBulletin
from cityops.sectors.agriculture.salinity import salinity_outlook

router = APIRouter(prefix="/api/v1/agriculture", tags=["agriculture"])
AreaQuery = Annotated[int | None, Query(description="The IOC's area scope (checked, not filtered)")]


class CropOut(BaseModel):
    code: str
    name_vi: str
    name_en: str
    caution_g_l: float
    harm_g_l: float
    source: str


class ReachOut(BaseModel):
    threshold_g_l: float
    km: float | None
    bound: str
    bound_km: float | None
    text_vi: str
    text_en: str


class StationPoint(BaseModel):
    code: str
    name: str
    km: float | None
    observed_max: float | None
    forecast_max: float | None


class RiverOut(BaseModel):
    code: str
    name_vi: str
    name_en: str
    approximate: bool = True
    stations: list[StationPoint]
    observed: list[ReachOut]
    forecast: list[ReachOut]


class GateOut(BaseModel):
    id: int
    name: str
    lat: float
    lon: float
    status: str | None
    status_at: datetime | None
    outer_station: str | None
    protects: list[str]
    action: str
    threshold_g_l: float
    observed_g_l: float | None
    forecast_g_l: float | None
    text_vi: str
    text_en: str


def _reach(r: Reach) -> ReachOut:
    return ReachOut(
        threshold_g_l=r.threshold,
        km=r.km,
        bound=r.bound,
        bound_km=r.bound_km,
        text_vi=r.text_vi,
        text_en=r.text_en,
    )


def _check_area(session: Session, area_id: int | None) -> None:
    if area_id is not None and session.get(Area, area_id) is None:
        raise NotFound("No such area", code="unknown_area", details={"area_id": area_id})


@router.get("/crops", response_model=list[CropOut])
def list_crops(session: ReadSessionDep) -> list[CropOut]:
    """Crop salinity tolerances (g/L) in force, with their sources."""
    return [_crop_out(c) for c in effective(session).values()]


def _crop_out(c: Crop) -> CropOut:
    return CropOut(
        code=c.code,
        name_vi=c.name_vi,
        name_en=c.name_en,
        caution_g_l=c.caution_g_l,
        harm_g_l=c.harm_g_l,
        source=c.source,
    )


class CropIn(BaseModel):
    caution_g_l: float = Field(gt=0, le=50)
    harm_g_l: float = Field(gt=0, le=50)
    source: str = Field(min_length=3, max_length=2000)


@router.put(
    "/crops/{code}",
    response_model=CropOut,
    responses={401: {}, 403: {}, 404: {}, 422: {}},
)
def edit_crop(
    code: str, body: CropIn, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> CropOut:
    """An administrator sets a crop's caution and harm levels with their source (audited; bulletins follow)."""
    authorize(principal, Action.CROP_TOLERANCE_MANAGE)
    if code not in CROPS:
        raise NotFound("No such crop", code="unknown_crop", details={"code": code})
    if body.caution_g_l > body.harm_g_l:
        raise Invalid(
            "The caution level cannot be above the harm level",
            details=[{"field": "caution_g_l", "msg": "must be at most harm_g_l"}],
        )
    before = _crop_out(effective(session)[code]).model_dump()
    row = session.get(CropTolerance, code)
    if row is None:
        row = CropTolerance(code=code)
        session.add(row)
    row.caution_g_l, row.harm_g_l, row.source = body.caution_g_l, body.harm_g_l, body.source.strip()
    row.updated_at, row.updated_by = utcnow(), principal.label
    session.flush()
    after = _crop_out(effective(session)[code])
    record(session, principal, "agriculture.crop", "crop", code, before, after.model_dump(), request)
    session.commit()
    return after


@router.get("/intrusion", response_model=list[RiverOut])
def list_intrusion(session: ReadSessionDep) -> list[RiverOut]:
    """How far 1 g/L and 4 g/L reach up each river (km from the mouth, approximate): observed and forecast."""
    now = utcnow()
    return [
        RiverOut(
            code=r.code,
            name_vi=r.name_vi,
            name_en=r.name_en,
            stations=[
                StationPoint(
                    code=s.code,
                    name=s.name,
                    km=s.km,
                    observed_max=s.observed_max,
                    forecast_max=s.forecast_max,
                )
                for s in r.stations
            ],
            observed=[_reach(x) for x in r.observed],
            forecast=[_reach(x) for x in r.forecast],
        )
        for r in intrusion(salinity_outlook(session, now), now)
    ]


@router.get("/intrusion.geojson", responses={404: {"description": "No such area"}})
def intrusion_layer(session: ReadSessionDep, area_id: AreaQuery = None) -> dict[str, Any]:
    _check_area(session, area_id)
    now = utcnow()
    return geojson(intrusion(salinity_outlook(session, now), now))


def gates(session: Session, now: datetime) -> list[GateOut]:
    """Every sluice gate with its status and recommendation (a fixed number of statements)."""
    stations = salinity_outlook(session, now)
    crops = effective(session)
    out = []
    for place in session.scalars(
        select(Place).where(Place.type_code == "sluice_gate", Place.valid_to.is_(None)).order_by(Place.id)
    ):
        attrs = dict(place.attributes or {})
        rec = recommend_for(place.status, attrs, stations, now, crops)
        out.append(
            GateOut(
                id=place.id,
                name=place.name,
                lat=place.lat,
                lon=place.lon,
                status=place.status,
                status_at=place.status_at,
                outer_station=attrs.get("outer_station"),
                protects=[c.strip() for c in str(attrs.get("protects") or "").split(",") if c.strip()],
                action=rec.action,
                threshold_g_l=rec.threshold,
                observed_g_l=rec.observed,
                forecast_g_l=rec.forecast,
                text_vi=rec.text_vi,
                text_en=rec.text_en,
            )
        )
    return out


@router.get("/gates", response_model=list[GateOut])
def list_gates(session: ReadSessionDep) -> list[GateOut]:
    """Sluice gates, their state and what the salinity rule recommends."""
    return gates(session, utcnow())


@router.get("/gates.geojson", responses={404: {"description": "No such area"}})
def gates_layer(session: ReadSessionDep, area_id: AreaQuery = None) -> dict[str, Any]:
    _check_area(session, area_id)
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [g.lon, g.lat]},
            "properties": {
                "name": f"{g.name} – {g.text_vi}",
                "name_en": f"{g.name} – {g.text_en}",
                "status": g.status or "",
                "action": g.action,
            },
        }
        for g in gates(session, utcnow())
    ]
    return {"type": "FeatureCollection", "features": features}


class BulletinOut(BaseModel):
    id: int
    area_id: int
    area_name: str
    crop: str
    crop_vi: str
    crop_en: str
    day: date
    issued_at: datetime
    station_code: str
    level: str
    observed_g_l: float | None
    forecast_g_l: float | None
    season: str | None
    intake_window: dict[str, Any] | None
    text_vi: str
    text_en: str


def _bulletins_out(session: Session, rows: list[SalinityBulletin]) -> list[BulletinOut]:
    names = area_names(session, [b.area_id for b in rows])
    return [
        BulletinOut(
            id=b.id,
            area_id=b.area_id,
            area_name=names.get(b.area_id, ""),
            crop=b.crop,
            crop_vi=CROPS[b.crop].name_vi if b.crop in CROPS else b.crop,
            crop_en=CROPS[b.crop].name_en if b.crop in CROPS else b.crop,
            day=b.day,
            issued_at=b.issued_at,
            station_code=b.station_code,
            level=b.level,
            observed_g_l=b.observed_g_l,
            forecast_g_l=b.forecast_g_l,
            season=b.season,
            intake_window=b.intake_window,
            text_vi=b.text_vi,
            text_en=b.text_en,
        )
        for b in rows
    ]


def _filters(session: Session, area_id: int | None, crop: str | None) -> list[Any]:
    where: list[Any] = []
    if area_id is not None:
        if session.get(Area, area_id) is None:
            raise Invalid("No such area", code="unknown_area", details={"field": "area_id"})
        where.append(SalinityBulletin.area_id == area_id)
    if crop is not None:
        if crop not in CROPS:
            raise Invalid(
                "No such crop", code="unknown_crop", details={"field": "crop", "allowed": sorted(CROPS)}
            )
        where.append(SalinityBulletin.crop == crop)
    return where


@router.get(
    "/bulletins", response_model=list[BulletinOut], responses={422: {"description": "Unknown area or crop"}}
)
def latest_bulletins(
    session: ReadSessionDep,
    area_id: AreaQuery = None,
    crop: Annotated[str | None, Query(max_length=32)] = None,
) -> list[BulletinOut]:
    """The current salinity bulletin of each commune and crop (optionally of one area, one crop)."""
    where = _filters(session, area_id, crop)
    newest = (
        select(func.max(SalinityBulletin.id))
        .where(*where)
        .group_by(SalinityBulletin.area_id, SalinityBulletin.crop)
    )
    rows = session.scalars(
        select(SalinityBulletin)
        .where(SalinityBulletin.id.in_(newest))
        .order_by(SalinityBulletin.area_id, SalinityBulletin.crop)
    ).all()
    return _bulletins_out(session, list(rows))


@router.get(
    "/bulletins/history",
    response_model=list[BulletinOut],
    responses={422: {"description": "Unknown area or crop"}},
)
def bulletin_history(
    session: ReadSessionDep,
    area_id: AreaQuery = None,
    crop: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[BulletinOut]:
    """Published bulletins, newest first."""
    where = _filters(session, area_id, crop)
    rows = session.scalars(
        select(SalinityBulletin).where(*where).order_by(SalinityBulletin.id.desc()).limit(limit)
    ).all()
    return _bulletins_out(session, list(rows))


LEVEL_RANK = {"unknown": 0, "safe": 1, "caution": 2, "harm": 3}


@router.get("/bulletins.geojson", responses={404: {"description": "No such area"}})
def bulletins_layer(session: ReadSessionDep, area_id: AreaQuery = None) -> dict[str, Any]:
    """The IOC layer: each pilot commune at its centre, coloured by the worst level of its current bulletins."""
    _check_area(session, area_id)
    newest = select(func.max(SalinityBulletin.id)).group_by(SalinityBulletin.area_id, SalinityBulletin.crop)
    rows = session.scalars(
        select(SalinityBulletin).where(SalinityBulletin.id.in_(newest)).order_by(SalinityBulletin.crop)
    ).all()
    by_area: dict[int, list[SalinityBulletin]] = {}
    for b in rows:
        by_area.setdefault(b.area_id, []).append(b)
    areas = (
        {a.id: a for a in session.scalars(select(Area).where(Area.id.in_(sorted(by_area))))}
        if by_area
        else {}
    )
    features = []
    for aid, bulletins in sorted(by_area.items()):
        area = areas.get(aid)
        if area is None or area.lat is None or area.lon is None:
            continue
        worst = max(bulletins, key=lambda b: LEVEL_RANK.get(b.level, 0)).level
        crops_vi = "; ".join(
            f"{CROPS[b.crop].name_vi if b.crop in CROPS else b.crop}: {b.text_vi}" for b in bulletins
        )
        crops_en = "; ".join(
            f"{CROPS[b.crop].name_en if b.crop in CROPS else b.crop}: {b.text_en}" for b in bulletins
        )
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [area.lon, area.lat]},
                "properties": {
                    "name_vi": f"Bản tin mặn {area.name} – {crops_vi}",
                    "name_en": f"Salinity bulletin {area.name} – {crops_en}",
                    "level": worst,
                    "area_id": aid,
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}
