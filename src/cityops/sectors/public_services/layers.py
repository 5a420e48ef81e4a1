"""The IOC's map layer of overdue dossiers: one point per agency that has dossiers, at the centre of the area it
serves (its first jurisdiction's unit, the province for a department), with its overdue count now."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.areas.models import Area
from cityops.errors import NotFound
from cityops.identity.models import Agency, AgencyJurisdiction
from cityops.places.query import area_scope
from cityops.sectors.public_services.models import Dossier


def level(count: int) -> str:
    return "none" if count == 0 else "some" if count < 5 else "many"


def overdue_features(session: Session, counts: dict[str, int], area_id: int | None) -> dict[str, Any]:
    """A FeatureCollection of the agencies holding dossiers (``counts``: overdue per agency code)."""
    scope: set[int] | None = None
    if area_id is not None:
        if session.get(Area, area_id) is None:
            raise NotFound(f"No area with id {area_id}", code="unknown_area", details={"field": "area_id"})
        scope = area_scope(session, area_id)
    codes = sorted(set(session.scalars(select(Dossier.agency_code).distinct())))
    rows = session.execute(
        select(Agency.code, Agency.name, Area.id, Area.lat, Area.lon)
        .join(AgencyJurisdiction, AgencyJurisdiction.agency_id == Agency.id)
        .join(Area, Area.id == AgencyJurisdiction.area_id)
        .where(Agency.code.in_(codes), Area.lat.is_not(None))
        .order_by(Agency.code, AgencyJurisdiction.id)
    ).all()
    placed: dict[str, tuple[str, int, float, float]] = {}
    for code, name, area, lat, lon in rows:
        if lat is not None and lon is not None:
            placed.setdefault(code, (name, area, lat, lon))
    features = []
    for code, (name, area, lat, lon) in placed.items():
        if scope is not None and area not in scope:
            continue
        n = counts.get(code, 0)
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": {
                    "agency_code": code,
                    "name": f"{name}: {n} hồ sơ quá hạn",
                    "name_en": f"{name}: {n} overdue dossiers",
                    "overdue": n,
                    "level": level(n),
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}
