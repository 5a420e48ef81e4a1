"""Hotspot maps of public-order cases on the H3 grid, k-anonymous for the public.

Cases carry the H3 cell (resolution 9) of their location from intake; a hotspot map counts the cases of the
sector's restricted categories (merged duplicates left out) per cell of a coarser resolution over whole local
months. Staff (policy ``hotspot.view_full``) get every cell, any resolution up to 9, and each cell's first and
last report time. Everyone else — the public map, open data, API keys — gets:

* cells of at most resolution :data:`PUBLIC_MAX_RESOLUTION` (7: about 5 km², edges of about 1.2 km);
* only cells holding at least :data:`K` cases (k-anonymity, k = 5): a cell with fewer is left out entirely, not
  shown as zero, and nothing says how many were left out;
* times coarsened to the requested months: no report time, day or hour.

A request covers at most :data:`MAX_MONTHS` months, so its cost is bounded.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import h3
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.clock import LOCAL_TZ, ensure_utc
from cityops.errors import Invalid
from cityops.reports.models import Case
from cityops.sectors.public_order.specs import CATEGORIES

K = 5
PUBLIC_MAX_RESOLUTION = 7
STAFF_MAX_RESOLUTION = 9
MIN_RESOLUTION = 5
MAX_MONTHS = 12


def restricted_categories() -> tuple[str, ...]:
    """The sector's categories whose cases are restricted (and mapped only as hotspots)."""
    return tuple(c.code for c in CATEGORIES if c.restricted)


@dataclass(frozen=True, slots=True)
class Cell:
    cell: str
    count: int
    first_at: datetime
    last_at: datetime


def parse_month(text: str, field: str) -> date:
    """``YYYY-MM`` → the month's first day; anything else is a 422 naming the field."""
    try:
        year, month = (int(part) for part in text.split("-"))
        return date(year, month, 1)
    except ValueError:
        raise Invalid(
            "A month is written YYYY-MM", details=[{"field": field, "msg": "must be YYYY-MM"}]
        ) from None


def month_range(first: date, last: date) -> tuple[datetime, datetime]:
    """The UTC instants of the local midnights starting ``first`` and ending ``last`` (both months included)."""
    months = (last.year - first.year) * 12 + last.month - first.month + 1
    if months < 1:
        raise Invalid("'to' is before 'from'", details=[{"field": "to", "msg": "must not be before from"}])
    if months > MAX_MONTHS:
        raise Invalid(
            f"At most {MAX_MONTHS} months at a time",
            details=[{"field": "to", "msg": f"at most {MAX_MONTHS} months after from"}],
        )
    after = date(last.year + last.month // 12, last.month % 12 + 1, 1)
    start = datetime.combine(first, datetime.min.time(), tzinfo=LOCAL_TZ)
    end = datetime.combine(after, datetime.min.time(), tzinfo=LOCAL_TZ)
    return ensure_utc(start), ensure_utc(end)


def hotspot_cells(
    session: Session,
    categories: tuple[str, ...],
    start: datetime,
    end: datetime,
    resolution: int,
    areas: set[int] | None = None,
    *,
    whole_cells: bool = True,
) -> list[Cell]:
    """Every cell (at ``resolution``) with its count of the categories' cases submitted in ``[start, end)``.

    With ``areas`` (an area scope), only cells holding a case of those areas; ``whole_cells`` counts such a cell
    over all its cases (the public's answer: a scoped count of a cell could be differenced with the whole one to
    reveal fewer than k cases), else only the cases in the areas (staff)."""
    counts: dict[str, int] = defaultdict(int)
    first: dict[str, datetime] = {}
    last: dict[str, datetime] = {}
    rows = session.execute(
        select(Case.h3_cell, Case.submitted_at, Case.area_id).where(
            Case.category_code.in_(categories),
            Case.master_id.is_(None),
            Case.h3_cell.is_not(None),
            Case.submitted_at >= start,
            Case.submitted_at < end,
        )
    )
    touched: set[str] = set()
    for fine, at, area_id in rows:
        if not fine:
            continue
        if areas is not None and not whole_cells and area_id not in areas:
            continue
        cell = str(h3.cell_to_parent(fine, resolution)) if h3.get_resolution(fine) > resolution else str(fine)
        at = ensure_utc(at)
        counts[cell] += 1
        if areas is None or area_id in areas:
            touched.add(cell)
        first[cell] = min(first.get(cell, at), at)
        last[cell] = max(last.get(cell, at), at)
    return [Cell(c, n, first[c], last[c]) for c, n in sorted(counts.items()) if c in touched]


def band(count: int) -> str:
    """The map's colour class of a count."""
    if count < K:
        return "1-4"
    return "5-9" if count < 10 else "10-19" if count < 20 else "20+"


def publishable(cells: list[Cell]) -> list[Cell]:
    """The cells the public may see: those holding at least k cases."""
    return [c for c in cells if c.count >= K]


def polygon(cell: str) -> dict[str, Any]:
    """The cell's hexagon as a GeoJSON Polygon (lon, lat; closed ring)."""
    ring = [[round(lon, 6), round(lat, 6)] for lat, lon in h3.cell_to_boundary(cell)]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def feature_collection(
    cells: list[Cell], *, full: bool, first: date, last: date, resolution: int, category: str | None
) -> dict[str, Any]:
    """The map as GeoJSON; ``full`` adds each cell's first and last report time (staff)."""
    features = []
    for c in cells:
        props: dict[str, Any] = {
            "cell": c.cell,
            "count": c.count,
            "band": band(c.count),
            "from": first.strftime("%Y-%m"),
            "to": last.strftime("%Y-%m"),
        }
        if full:
            props["first_at"] = c.first_at.isoformat()
            props["last_at"] = c.last_at.isoformat()
        features.append({"type": "Feature", "id": c.cell, "geometry": polygon(c.cell), "properties": props})
    return {
        "type": "FeatureCollection",
        "features": features,
        "resolution": resolution,
        "category": category,
        "k": None if full else K,
        "full": full,
    }
