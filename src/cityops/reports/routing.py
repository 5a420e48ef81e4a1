"""Routing: the area from the coordinate, then the responsible agency from its jurisdiction.

A jurisdiction row is (agency, area, category or null = every category). Among the rows whose area is
the case's area or one of its ancestors, the most specific wins: a row naming the category beats a
catch-all row, then the nearer area (ward before district before province), then the lower agency id.
No match → ``None``: the case waits in the dispatcher queue.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Integer, bindparam, cast, func, literal_column, or_, select
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


MAX_DEPTH = 10  # area levels followed upwards (a cycle in bad data stops here)


def _jurisdiction_query() -> Any:
    """Built once: the jurisdiction rows of an area and its ancestors with each area's distance, in one
    recursive statement (the walk up the tree took a query per level, four round trips a submission)."""
    from cityops.identity.models import AgencyJurisdiction

    # typed: PostgreSQL wants the same column types in both terms of the recursion
    start = cast(bindparam("area_id", type_=Integer), Integer)
    chain = select(literal_column("0", Integer).label("depth"), start.label("id")).cte(
        "chain", recursive=True
    )
    chain = chain.union_all(
        select((chain.c.depth + 1).label("depth"), Area.parent_id.label("id"))
        .join(chain, Area.id == chain.c.id)
        .where(Area.parent_id.is_not(None), chain.c.depth < MAX_DEPTH - 1)
    )
    return (
        select(
            AgencyJurisdiction.agency_id,
            AgencyJurisdiction.category_code,
            func.min(chain.c.depth).label("depth"),
        )
        .join(chain, AgencyJurisdiction.area_id == chain.c.id)
        .where(
            or_(
                AgencyJurisdiction.category_code == bindparam("category"),
                AgencyJurisdiction.category_code.is_(None),
            )
        )
        .group_by(AgencyJurisdiction.agency_id, AgencyJurisdiction.area_id, AgencyJurisdiction.category_code)
    )


_JURISDICTIONS: Any = None


def route_agency(session: Session, area_id: int | None, category_code: str) -> int | None:
    """The agency responsible for ``category_code`` in ``area_id`` (most specific wins), else ``None``."""
    global _JURISDICTIONS
    if area_id is None:
        return None
    if _JURISDICTIONS is None:
        _JURISDICTIONS = _jurisdiction_query()
    rows = session.connection().execute(_JURISDICTIONS, {"area_id": area_id, "category": category_code}).all()
    if not rows:
        return None
    # a row naming the category beats a catch-all, then the nearer area, then the lower agency id
    best = min(rows, key=lambda r: (r.category_code is None, r.depth, r.agency_id))
    return int(best.agency_id)


def route(
    session: Session, lat: float | None, lon: float | None, category_code: str, at: date | None = None
) -> tuple[int | None, int | None]:
    """(area id, agency id) for a report at ``lat``/``lon`` of ``category_code``, with the areas valid on
    ``at`` (the local submission date; default today)."""
    area_id = (
        integrations.find_area_id(session, lat, lon, at) if lat is not None and lon is not None else None
    )
    return area_id, route_agency(session, area_id, category_code)
