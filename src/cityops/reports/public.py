"""What the public sees of a case: no reporter data, no internal notes, only reviewed photos.

Every public payload (native list/detail, Open311) is built from :func:`public_case` and
:func:`public_timeline` (the map's :func:`points_geojson` gives the same fields from plain rows; a test holds
them equal), so the privacy rule lives here once: the reporter's name, phone, e-mail, user id,
device and account ids are never read by this module, and timeline entries carry no actor.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, and_, func, select, type_coerce
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import (
    BinaryExpression,
    BindParameter,
    BooleanClauseList,
    ExpressionClauseList,
    False_,
    Null,
)

from cityops.privacy.masking import mask_contacts
from cityops.reports import map_cells
from cityops.reports.models import Case, CaseEvent, CaseMedia, Category
from cityops.reports.workflow import State, open311_status

PUBLIC_MEDIA_STATES = ("approved", "redacted")
COORD_DECIMALS = 5  # ~1 m
_OPEN311_STATUS = {str(s): open311_status(s) for s in State}


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def agency_names(session: Session, ids: set[int]) -> dict[int, str]:
    from cityops.identity.models import Agency

    if not ids:
        return {}
    return {
        int(i): str(n) for i, n in session.execute(select(Agency.id, Agency.name).where(Agency.id.in_(ids)))
    }


def area_names(session: Session, ids: set[int]) -> dict[int, str]:
    from cityops.areas.models import Area

    if not ids:
        return {}
    return {int(i): str(n) for i, n in session.execute(select(Area.id, Area.name).where(Area.id.in_(ids)))}


def category_names(session: Session) -> dict[str, Category]:
    return {c.code: c for c in session.scalars(select(Category))}


def public_media(
    session: Session, case_ids: Sequence[int], base_url: str = ""
) -> dict[int, list[dict[str, Any]]]:
    """Reviewed photos/videos per case: the media routes serve the public variant (redacted when redacted)."""
    from cityops.media.models import MediaItem

    out: dict[int, list[dict[str, Any]]] = {cid: [] for cid in case_ids}
    if not case_ids:
        return out
    rows = session.execute(
        select(CaseMedia.case_id, CaseMedia.role, MediaItem.id, MediaItem.kind)
        .join(MediaItem, MediaItem.id == CaseMedia.media_id)
        .where(CaseMedia.case_id.in_(case_ids), MediaItem.review_state.in_(PUBLIC_MEDIA_STATES))
        .order_by(CaseMedia.id)
    ).all()
    for case_id, role, media_id, kind in rows:
        out[case_id].append(
            {
                "kind": kind,
                "role": role,
                "url": f"{base_url}/api/v1/media/{media_id}",
                "thumbnail_url": f"{base_url}/api/v1/media/{media_id}/thumbnail" if kind == "photo" else None,
            }
        )
    return out


class PublicContext:
    """Names looked up once for a page of cases (no N+1)."""

    def __init__(
        self, session: Session, cases: Sequence[Case], base_url: str = "", *, with_media: bool = True
    ) -> None:
        self.categories = category_names(session)
        self.agencies = agency_names(session, {c.agency_id for c in cases if c.agency_id is not None})
        self.areas = area_names(session, {c.area_id for c in cases if c.area_id is not None})
        # GeoJSON features carry no media: skip the query there
        self.media = public_media(session, [c.id for c in cases], base_url) if with_media else {}


def public_case(case: Case, ctx: PublicContext) -> dict[str, Any]:
    category = ctx.categories.get(case.category_code)
    return {
        "ref": case.ref,
        "category": case.category_code,
        "category_name": category.name_vi if category else case.category_code,
        "category_name_en": category.name_en if category else case.category_code,
        "state": case.state,
        "status": open311_status_of(case),
        "reject_reason": mask_contacts(case.reject_reason),
        "duplicate_of": None,
        "description": mask_contacts(case.description),
        "lat": round(case.lat, COORD_DECIMALS) if case.lat is not None else None,
        "lon": round(case.lon, COORD_DECIMALS) if case.lon is not None else None,
        "address": mask_contacts(case.address),
        "area_id": case.area_id,
        "area_name": ctx.areas.get(case.area_id) if case.area_id is not None else None,
        "agency_name": ctx.agencies.get(case.agency_id) if case.agency_id is not None else None,
        "urgent": case.urgent,
        "submitted_at": iso(case.submitted_at),
        "updated_at": iso(case.updated_at),
        "expected_at": iso(case.resolve_due_at),
        "overdue": case.overdue,
        "status_note": mask_contacts(case.public_note),
        "media": ctx.media.get(case.id, []),
    }


def open311_status_of(case: Case) -> str:
    from cityops.reports.workflow import State

    return open311_status(State(case.state))


def public_timeline(session: Session, case: Case) -> list[dict[str, Any]]:
    """Public entries only, without who did it."""
    events = session.scalars(
        select(CaseEvent)
        .where(CaseEvent.case_id == case.id, CaseEvent.public.is_(True))
        .order_by(CaseEvent.id)
    )
    return [
        {
            "at": iso(e.at),
            "kind": e.kind,
            "action": e.action,
            "from_state": e.from_state,
            "to_state": e.to_state,
            "comment": mask_contacts(e.comment) if e.kind == "transition" else None,
        }
        for e in events
    ]


def public_detail(session: Session, case: Case, base_url: str = "") -> dict[str, Any]:
    ctx = PublicContext(session, [case], base_url)
    body = public_case(case, ctx)
    if case.master_id is not None:
        body["duplicate_of"] = session.scalar(select(Case.ref).where(Case.id == case.master_id))
    body["timeline"] = public_timeline(session, case)
    return body


def _iso_text_column(session: Session, column: Any) -> tuple[Any, Callable[[Any], str | None]]:
    """A UTC timestamp column to select and the function giving the same text as :func:`iso` from it.

    SQLite holds the time as text (``YYYY-MM-DD HH:MM:SS.ffffff``): slicing it is a fraction of parsing it into
    an aware datetime and formatting it again, which was the largest per-point cost of a map page.
    """
    if session.get_bind().dialect.name == "sqlite":
        return type_coerce(column, String), _iso_of_sqlite_text
    return column, iso


def _iso_of_sqlite_text(value: str | None) -> str | None:
    if value is None:
        return None
    fraction = value[20:26]
    if fraction.strip("0"):  # as datetime.isoformat(): microseconds when there is a fraction, else seconds
        return f"{value[:10]}T{value[11:19]}.{fraction.ljust(6, '0')}Z"
    return f"{value[:10]}T{value[11:19]}Z"


def points_geojson(
    session: Session, where: ColumnElement[bool] | None, limit: int, base_url: str = ""
) -> dict[str, Any]:
    """The newest ``limit`` located cases matching ``where`` as GeoJSON points, each with the properties of
    :func:`public_case` but ``media`` (a map page shows no photos).

    Two steps, so the viewport's index does the filtering and ordering: the ids come from an index range
    (``ix_cases_hidden_lat_lon_state`` for a bbox), then only those ``limit`` rows are read, as plain tuples
    of the public columns (ORM objects and datetime round trips were most of the time of a 2,000-point page).
    """
    ids = select(Case.id).where(Case.lat.is_not(None), Case.lon.is_not(None))
    if where is not None:
        ids = ids.where(where)
    ids = ids.order_by(Case.id.desc()).limit(limit)
    t = Case.__table__.c
    submitted, submitted_iso = _iso_text_column(session, t.submitted_at)
    updated, updated_iso = _iso_text_column(session, t.updated_at)
    due, due_iso = _iso_text_column(session, t.resolve_due_at)
    rows = (
        session.connection()
        .execute(
            select(
                t.ref,
                t.category_code,
                t.state,
                t.reject_reason,
                t.description,
                t.lat,
                t.lon,
                t.address,
                t.area_id,
                t.agency_id,
                t.urgent,
                submitted,
                updated,
                due,
                t.overdue,
                t.public_note,
            )
            .where(t.id.in_(ids.scalar_subquery()))
            .order_by(t.id.desc())
        )
        .all()
    )
    categories = category_names(session)
    agencies = agency_names(session, {r[9] for r in rows if r[9] is not None})
    areas = area_names(session, {r[8] for r in rows if r[8] is not None})
    names: dict[str, tuple[str, str]] = {code: (c.name_vi, c.name_en) for code, c in categories.items()}
    status = _OPEN311_STATUS
    mask = mask_contacts
    features = []
    for (
        ref,
        code,
        state,
        reject_reason,
        description,
        lat,
        lon,
        address,
        area_id,
        agency_id,
        urgent,
        submitted_at,
        updated_at,
        due_at,
        overdue,
        note,
    ) in rows:
        name_vi, name_en = names.get(code, (code, code))
        lat, lon = round(lat, COORD_DECIMALS), round(lon, COORD_DECIMALS)
        # the same fields, masking and order as public_case (test_points_match_public_case holds them equal)
        props = {
            "ref": ref,
            "category": code,
            "category_name": name_vi,
            "category_name_en": name_en,
            "state": state,
            "status": status.get(state) or open311_status(State(state)),
            # masking only what holds text (mostly None here: no rejection, no public note yet)
            "reject_reason": mask(reject_reason) if reject_reason else reject_reason,
            "duplicate_of": None,
            "description": mask(description) if description else description,
            "lat": lat,
            "lon": lon,
            "address": mask(address) if address else address,
            "area_id": area_id,
            "area_name": areas.get(area_id),  # int keys only: None gives None
            "agency_name": agencies.get(agency_id),
            "urgent": bool(urgent),
            "submitted_at": submitted_iso(submitted_at),
            "updated_at": updated_iso(updated_at),
            "expected_at": due_iso(due_at),
            "overdue": bool(overdue),
            "status_note": mask(note) if note else note,
        }
        features.append(
            {
                "type": "Feature",
                "id": ref,
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": props,
            }
        )
    return {"type": "FeatureCollection", "features": features}


def grid_size_deg(zoom: int) -> float:
    """Cluster cell size at a web-map zoom: ~64 px cells (360° / 2^zoom / 4), the aggregate's cell at
    level ``zoom`` (one formula, so live clusters and ``case_map_cells`` agree)."""
    return map_cells.cell_size(zoom)


# Cluster accumulators: (cell y, cell x) at the request's zoom -> [count, lat sum, lon sum, {state: count}]
_Cells = dict[tuple[int, int], list[Any]]


def _add(cells: _Cells, y: int, x: int, state: str, n: int, lat_sum: float, lon_sum: float) -> None:
    cell = cells.get((y, x))
    if cell is None:
        cell = cells[(y, x)] = [0, 0.0, 0.0, {}]
    cell[0] += n
    cell[1] += lat_sum
    cell[2] += lon_sum
    cell[3][state] = cell[3].get(state, 0) + n


def clustered_geojson(session: Session, where: ColumnElement[bool] | None, zoom: int) -> dict[str, Any]:
    """Grid clusters for low zooms: one point per occupied cell with its count, mean position and state mix.

    Cells are ``floor(lat / grid_size_deg(zoom))``, ``floor(lon / ...)``. When ``where`` holds only what the
    aggregate knows (public, located, states, a bbox; see :func:`_map_filter`) and ``case_map_cells`` exists,
    the counts come from it (:func:`_clusters_from_cells`); otherwise (a category, a zoom finer than its
    levels) the grid is computed in SQL over the matching cases. Both give the same clusters.
    """
    cells: _Cells = {}
    wanted = _map_filter(where) if _has_map_cells(session) else None
    if wanted is None or not _clusters_from_cells(session, where, zoom, wanted, cells):
        cells.clear()
        _clusters_live(session, where, zoom, None, cells)
    features = [
        {
            "type": "Feature",
            "geometry": {
                "type": "Point",
                "coordinates": [round(c[2] / c[0], COORD_DECIMALS), round(c[1] / c[0], COORD_DECIMALS)],
            },
            "properties": {"cluster": True, "count": c[0], "states": c[3]},
        }
        for _, c in sorted(cells.items())
        if c[0] > 0
    ]
    return {"type": "FeatureCollection", "features": features}


def _clusters_live(
    session: Session,
    where: ColumnElement[bool] | None,
    zoom: int,
    extra: ColumnElement[bool] | None,
    cells: _Cells,
) -> None:
    """Add the grid of the cases matching ``where`` (and ``extra``), grouped in SQL."""
    size = grid_size_deg(zoom)
    cy = func.floor(Case.lat / size)
    cx = func.floor(Case.lon / size)
    stmt = (
        select(cy, cx, Case.state, func.count(), func.sum(Case.lat), func.sum(Case.lon))
        .where(Case.lat.is_not(None), Case.lon.is_not(None))
        .group_by(cy, cx, Case.state)
    )
    if where is not None:
        stmt = stmt.where(where)
    if extra is not None:
        stmt = stmt.where(extra)
    for y, x, state, n, lat_sum, lon_sum in session.connection().execute(stmt):
        _add(cells, int(y), int(x), state, n, lat_sum, lon_sum)


class _MapFilter:
    """What the aggregate can answer: public located cases, optionally some states and a bbox."""

    def __init__(self) -> None:
        self.states: set[str] | None = None
        self.lat: tuple[float, float] | None = None
        self.lon: tuple[float, float] | None = None


def _map_filter(where: ColumnElement[bool] | None) -> _MapFilter | None:
    """The route's conditions read back from ``where``, or None when it holds anything else (then the live
    query answers: unknown conditions are never dropped)."""
    if where is None:
        return None
    clauses = (
        list(where.clauses)
        if isinstance(where, BooleanClauseList) and where.operator is operators.and_
        else [where]
    )
    out = _MapFilter()
    public_only = False
    for c in clauses:
        if not isinstance(c, BinaryExpression):
            return None
        column = c.left
        if getattr(column, "table", None) is not Case.__table__:
            return None
        key, op, right = column.key, c.operator, c.right
        if key == "hidden" and op is operators.is_ and isinstance(right, False_):
            public_only = True
        elif key in ("lat", "lon") and op is operators.is_not and isinstance(right, Null):
            pass  # the aggregate counts located cases only
        elif key == "state" and op in (operators.in_op, operators.eq) and isinstance(right, BindParameter):
            values = right.value if op is operators.in_op else [right.value]
            if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
                return None
            out.states = set(values) if out.states is None else out.states & set(values)
        elif key in ("lat", "lon") and op is operators.between_op and isinstance(right, ExpressionClauseList):
            bounds = [getattr(b, "value", None) for b in right.clauses]
            if len(bounds) != 2 or not all(isinstance(b, float | int) and math.isfinite(b) for b in bounds):
                return None
            low, high = float(bounds[0] or 0.0), float(bounds[1] or 0.0)
            old = getattr(out, key)
            setattr(out, key, (low, high) if old is None else (max(old[0], low), min(old[1], high)))
        else:
            return None
    return out if public_only else None


_map_cells_present: dict[str, bool] = {}


def _has_map_cells(session: Session) -> bool:
    """Whether this database has ``case_map_cells`` (migration 0003); looked up once per database."""
    bind = session.get_bind()
    url = str(bind.engine.url)
    present = _map_cells_present.get(url)
    if present is None:
        present = _map_cells_present[url] = sa_inspect(bind.engine).has_table(map_cells.TABLE)
    return present


def _cell_range(low: float, high: float, size: float) -> tuple[int, int]:
    """The cells wholly inside [low, high] at this size: those strictly between the end points' cells."""
    return math.floor(low / size) + 1, math.floor(high / size) - 1


def _clusters_from_cells(
    session: Session, where: ColumnElement[bool] | None, zoom: int, wanted: _MapFilter, cells: _Cells
) -> bool:
    """Clusters from ``case_map_cells``; False when its levels cannot answer (zoom finer than them).

    Without a bbox: the level of the zoom (or the coarsest level, its cells grouped up). With a bbox, each
    case must count only when inside it, so the box is covered from the zoom's level down to the finest:
    at each level the cells wholly inside the box whose parent cell was not, and the cases in the finest
    level's edge cells (the box's rim, one fine cell wide) are grouped from ``cases`` by index ranges.
    Cells nest exactly: sizes are 90° / 2^level, so ``floor(lat / size(z))`` is the level cell's index shifted.
    """
    levels = [z for z in map_cells.LEVELS if z >= zoom]
    if not levels:
        return False
    m = map_cells.CaseMapCell.__table__.c  # Core columns: plain rows, no ORM loading for thousands of cells
    base = select(m.cy, m.cx, m.state, m.n, m.lat_sum, m.lon_sum).where(m.n > 0)
    if wanted.states is not None:
        base = base.where(m.state.in_(sorted(wanted.states)))
    if wanted.lat is None and wanted.lon is None:
        level = levels[0]
        shift = level - zoom
        for y, x, state, n, lat_sum, lon_sum in session.connection().execute(base.where(m.z == level)):
            _add(cells, y >> shift, x >> shift, state, n, lat_sum, lon_sum)
        return True
    lat = wanted.lat or (-90.0, 90.0)
    lon = wanted.lon or (-180.0, 180.0)
    if lat[0] > lat[1] or lon[0] > lon[1]:
        return True  # an empty box
    parent: tuple[int, int, int, int, int] | None = None  # level, inside y range, inside x range
    for level in levels:
        size = map_cells.cell_size(level)
        y0, y1 = _cell_range(*lat, size)
        x0, x1 = _cell_range(*lon, size)
        if y0 <= y1 and x0 <= x1:
            stmt = base.where(m.z == level, m.cy.between(y0, y1), m.cx.between(x0, x1))
            if parent is not None:
                plevel, py0, py1, px0, px1 = parent
                d = level - plevel
                stmt = stmt.where(
                    ~(
                        m.cy.between(py0 << d, ((py1 + 1) << d) - 1)
                        & m.cx.between(px0 << d, ((px1 + 1) << d) - 1)
                    )
                )
            shift = level - zoom
            for y, x, state, n, lat_sum, lon_sum in session.connection().execute(stmt):
                _add(cells, y >> shift, x >> shift, state, n, lat_sum, lon_sum)
            parent = (level, y0, y1, x0, x1)
    # the rim: cases in the finest level's cells that straddle the box edge (all of them if none is inside)
    if parent is None:
        _clusters_live(session, where, zoom, None, cells)
        return True
    size = map_cells.cell_size(levels[-1])
    fy = func.floor(Case.lat / size)
    fx = func.floor(Case.lon / size)
    _, y0, y1, x0, x1 = parent

    def rim(
        lat_range: tuple[float, float], lon_range: tuple[float, float], by_lat: bool, *cells_of: Any
    ) -> None:
        # built from the parsed filter (which is all of ``where``) so each strip is one narrow index range:
        # the box's bounds intersected with the strip's (half a cell of slack: the exact test is the floor).
        # The long side is written ``col + 0`` so no index serves it: SQLite's planner cannot tell the narrow
        # range from the long one without statistics and picked the long one (a scan of the whole box).
        lat_col = Case.lat if by_lat else Case.lat + 0
        lon_col = Case.lon + 0 if by_lat else Case.lon
        cond = [
            Case.hidden.is_(False),
            lat_col.between(max(lat[0], lat_range[0]), min(lat[1], lat_range[1])),
            lon_col.between(max(lon[0], lon_range[0]), min(lon[1], lon_range[1])),
            *cells_of,
        ]
        if wanted.states is not None:
            cond.append(Case.state.in_(sorted(wanted.states)))
        _clusters_live(session, and_(*cond), zoom, None, cells)

    whole_lon = (-180.0, 180.0)
    rim((-90.0, (y0 + 0.5) * size), whole_lon, True, fy < y0)  # bottom row
    rim(((y1 + 0.5) * size, 90.0), whole_lon, True, fy > y1)  # top row
    middle = ((y0 - 0.5) * size, (y1 + 1.5) * size)  # then the left and right columns between them
    rim(middle, (-180.0, (x0 + 0.5) * size), False, fy >= y0, fy <= y1, fx < x0)
    rim(middle, ((x1 + 0.5) * size, 180.0), False, fy >= y0, fy <= y1, fx > x1)
    return True
