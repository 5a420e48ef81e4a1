"""Routing: the area from the coordinate, then the responsible agency from its jurisdiction.

A jurisdiction row is (agency, area, category or null = every category). Among the rows whose area is
the case's area or one of its ancestors, the most specific wins: a row naming the category beats a
catch-all row, then the nearer area (ward before district before province), then the lower agency id.
No match → ``None``: the case waits in the dispatcher queue.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cityops.areas.models import Area
from cityops.reports import integrations


def area_chain(session: Session, area_id: int) -> list[int]:
    """``area_id`` and its ancestors, nearest first."""
    chain: list[int] = []
    current: int | None = area_id
    while current is not None and current not in chain and len(chain) < 10:
        chain.append(current)
        current = session.scalar(select(Area.parent_id).where(Area.id == current))
    return chain


def route_agency(session: Session, area_id: int | None, category_code: str) -> int | None:
    """The agency responsible for ``category_code`` in ``area_id`` (most specific wins), else ``None``."""
    if area_id is None:
        return None
    from cityops.identity.models import AgencyJurisdiction

    chain = area_chain(session, area_id)
    rows = session.execute(
        select(
            AgencyJurisdiction.agency_id, AgencyJurisdiction.area_id, AgencyJurisdiction.category_code
        ).where(
            AgencyJurisdiction.area_id.in_(chain),
            or_(
                AgencyJurisdiction.category_code == category_code, AgencyJurisdiction.category_code.is_(None)
            ),
        )
    ).all()
    if not rows:
        return None
    best = min(rows, key=lambda r: (r[2] is None, chain.index(r[1]), r[0]))
    return int(best[0])


def route(
    session: Session, lat: float | None, lon: float | None, category_code: str, at: date | None = None
) -> tuple[int | None, int | None]:
    """(area id, agency id) for a report at ``lat``/``lon`` of ``category_code``, with the areas valid on
    ``at`` (the local submission date; default today)."""
    area_id = (
        integrations.find_area_id(session, lat, lon, at) if lat is not None and lon is not None else None
    )
    return area_id, route_agency(session, area_id, category_code)
