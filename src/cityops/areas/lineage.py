"""Lineage between administrative units: predecessor → successor links (merges, splits, renames).

Facts keep the area that was current when they happened; roll-ups to today's units follow these links.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.areas.models import Area, AreaLineage


def direct_successors(session: Session, area_id: int) -> list[tuple[Area, AreaLineage]]:
    """The units this one became (with the link: relation, default flag, effective date)."""
    stmt = (
        select(Area, AreaLineage)
        .join(AreaLineage, AreaLineage.successor_id == Area.id)
        .where(AreaLineage.predecessor_id == area_id)
        .order_by(AreaLineage.is_default.desc(), Area.name_key, Area.id)
    )
    return [(a, link) for a, link in session.execute(stmt).all()]


def direct_predecessors(session: Session, area_id: int) -> list[tuple[Area, AreaLineage]]:
    """The units that became this one."""
    stmt = (
        select(Area, AreaLineage)
        .join(AreaLineage, AreaLineage.predecessor_id == Area.id)
        .where(AreaLineage.successor_id == area_id)
        .order_by(Area.level, Area.name_key, Area.id)
    )
    return [(a, link) for a, link in session.execute(stmt).all()]


def successors_of(
    session: Session, area_id: int, *, at: date | None = None, default_only: bool = False
) -> list[Area]:
    """The units valid on ``at`` (default today) reached by following lineage from ``area_id``.

    A unit that is itself valid on ``at`` is its own answer. With ``default_only``, a split follows only its
    default successor, so the answer has at most one unit per path (what roll-ups want).
    """
    from cityops.areas.service import today

    day = at or today()
    found: dict[int, Area] = {}
    seen: set[int] = set()
    frontier = [area_id]
    while frontier:
        current_id = frontier.pop()
        if current_id in seen:
            continue
        seen.add(current_id)
        area = session.get(Area, current_id)
        if area is None:
            continue
        if area.valid_on(day):
            found[area.id] = area
            continue
        for successor, link in direct_successors(session, current_id):
            if default_only and not link.is_default:
                continue
            frontier.append(successor.id)
    return sorted(found.values(), key=lambda a: (a.name_key, a.id))


def current_successors(session: Session, area_id: int) -> list[Area]:
    """Today's units that took over (part of) ``area_id``; ``[area]`` when it is current."""
    return successors_of(session, area_id)


def default_successor(session: Session, area_id: int, *, at: date | None = None) -> Area | None:
    """The one unit a fact in ``area_id`` rolls up to (following the default successor of each split)."""
    found = successors_of(session, area_id, at=at, default_only=True)
    return found[0] if found else None
