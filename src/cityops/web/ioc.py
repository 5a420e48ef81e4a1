"""Read models of the IOC dashboard, from indicator values and the sectors' dashboard panels.

``GET /api/v1/ioc/summary?area_id=`` — KPI tiles and reports per local day (last 14 days) for the province
or one area, read from indicator cells (``cases.received_daily``, this month's ``cases.on_time_rate`` and
``cases.satisfied_share``); open and overdue are the live backlog (state, not a period's series).
``GET /api/v1/ioc/stations`` — located stations with their datastreams' latest values, levelled by the
thresholds the sectors' panels declare and by open alerts. ``GET /api/v1/dashboard/panels`` — every
declared panel the caller may see (``audience="staff"`` ones only for staff) with its current data, a
``map_layer`` with its ``layer`` (GeoJSON path, style property, legend). Aggregate data only: no case text,
no personal data.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import ScalarSelect, and_, false, func, select, true
from sqlalchemy.orm import Session

from cityops import plugins
from cityops.alerts.models import Alert, AlertState, Severity
from cityops.areas.lookup import area_index
from cityops.areas.models import Area
from cityops.clock import to_local, utcnow
from cityops.deps import ReadSessionDep
from cityops.errors import NotFound
from cityops.identity.deps import CurrentPrincipal
from cityops.identity.policy import Action, can
from cityops.indicators import periods
from cityops.indicators.models import Indicator, IndicatorTarget, IndicatorValue
from cityops.indicators.service import cell_area, status_of
from cityops.places.models import Place, PlaceType
from cityops.reports.models import Case
from cityops.reports.workflow import OPEN_STATES
from cityops.sensing import properties as props
from cityops.sensing.health import thing_health
from cityops.sensing.indicators import property_code
from cityops.sensing.models import Datastream, Location, ObservedProperty, Thing, thing_locations
from cityops.specs import DashboardPanelSpec, Period
from cityops.web.ioc_schemas import PanelOut, StationOut, SummaryOut

router = APIRouter(prefix="/api/v1", tags=["ioc"])

DAYS = 14
DAILY = "cases.received_daily"
ON_TIME = "cases.on_time_rate"
SATISFIED = "cases.satisfied_share"
LEVEL_RANK = {"nodata": 0, "good": 1, "warn": 2, "bad": 3}
SEVERITY_LEVEL = {
    Severity.INFO: "good",
    Severity.WATCH: "warn",
    Severity.WARNING: "warn",
    Severity.CRITICAL: "bad",
}
PLACE_LIMIT = 2000  # places a place_layer panel carries at most
SERIES_PERIODS = 12
_OPEN = [s.value for s in OPEN_STATES]


def _province(session: Session) -> Area | None:
    return session.scalar(
        select(Area).where(Area.level == "province", Area.valid_to.is_(None)).order_by(Area.id).limit(1)
    )


def _target_area(session: Session, area_id: int | None) -> Area | None:
    """The unit whose cells the IOC shows: the area asked (an old unit's successor), else the province."""
    return cell_area(session, area_id) if area_id is not None else _province(session)


def summary(session: Session, area_id: int | None = None, now: datetime | None = None) -> dict[str, Any]:
    """KPI tiles and the reports-per-day series (local days, oldest first), from indicator cells.

    Three statements: the area, the cells (one query for the daily series and this month's rates), the
    live backlog (open and overdue cases).
    """
    now = now or utcnow()
    area = _target_area(session, area_id)
    today = to_local(now).date()
    days = [today - timedelta(days=DAYS - 1 - i) for i in range(DAYS)]
    month = periods.start_of(today, Period.MONTH)
    cells: dict[tuple[str, date], float | None] = {}
    if area is not None:
        rows = session.execute(
            select(IndicatorValue.indicator_code, IndicatorValue.period_start, IndicatorValue.value).where(
                IndicatorValue.area_id == area.id,
                IndicatorValue.agency_id.is_(None),  # all agencies, not a breakdown cell
                (
                    (IndicatorValue.indicator_code == DAILY)
                    & (IndicatorValue.period_start >= days[0])
                    & (IndicatorValue.period_start <= today)
                )
                | (
                    IndicatorValue.indicator_code.in_((ON_TIME, SATISFIED))
                    & (IndicatorValue.period_start == month)
                ),
            )
        )
        cells = {(code, start): value for code, start, value in rows}
    open_count, overdue = _backlog(
        session, area_id if area is None or area.level != "province" else None, area
    )
    per_day = [int(cells.get((DAILY, d)) or 0) for d in days]

    def rate(code: str) -> float | None:
        value = cells.get((code, month))
        return round(value, 1) if value is not None else None

    return {
        "area_id": area_id,
        "generated_at": now.isoformat(),
        "month": month.isoformat()[:7],
        "reports_today": per_day[-1],
        "open": open_count,
        "overdue": overdue,
        "on_time_pct": rate(ON_TIME),
        "satisfaction_pct": rate(SATISFIED),
        "daily": [{"day": d.isoformat(), "count": n} for d, n in zip(days, per_day, strict=True)],
    }


def _backlog(session: Session, area_id: int | None, area: Area | None) -> tuple[int, int]:
    """(open, overdue) visible cases now, in the area (its own id) or everywhere."""
    where: list[Any] = [Case.hidden == false(), Case.state.in_(_OPEN)]
    if area_id is not None and area is not None:
        where.append(Case.area_id == area.id)

    def count(*cond: Any) -> ScalarSelect[int]:
        return select(func.count()).select_from(Case).where(*where, *cond).scalar_subquery()

    row = session.execute(select(count(), count(Case.overdue == true()))).one()
    return int(row[0]), int(row[1])


# --- stations and the sectors' thresholds ------------------------------------------------------------


def declared_panels() -> list[DashboardPanelSpec]:
    """Every panel the plugins declare, in display order."""
    found = [spec for _p, spec in plugins.declarations("dashboard_panels", DashboardPanelSpec)]
    return sorted(found, key=lambda p: (p.order, p.code))


def thresholds() -> dict[str, tuple[float, float]]:
    """Property code → (warn at, bad at), from the panels' declarations."""
    return {code: (warn, bad) for p in declared_panels() for code, warn, bad in p.thresholds}


def _level_of(scale: dict[str, tuple[float, float]], code: str, value: float | None) -> str:
    if value is None:
        return "nodata"
    if code not in scale:
        return "good"
    warn, bad = scale[code]
    return "bad" if value >= bad else "warn" if value >= warn else "good"


def _rank(severity: Severity) -> int:
    return list(Severity).index(severity)


def _open_alerts(session: Session) -> dict[int, Severity]:
    alerts: dict[int, Severity] = {}
    for ds_id, severity in session.execute(
        select(Alert.datastream_id, Alert.severity).where(
            Alert.state != AlertState.CLOSED, Alert.datastream_id.is_not(None)
        )
    ):
        if ds_id is not None and (ds_id not in alerts or _rank(severity) > _rank(alerts[ds_id])):
            alerts[ds_id] = severity
    return alerts


def _stream(ds: Datastream, code: str, level: str, alert: Severity | None) -> dict[str, Any]:
    spec = props.get(code)
    return {
        "id": ds.id,
        "name": ds.name,
        "property": code,
        "property_vi": spec.name_vi if spec else ds.name,
        "property_en": spec.name_en if spec else ds.name,
        "unit": (ds.unit_of_measurement or {}).get("symbol"),
        "value": ds.last_value,
        "time": ds.last_phenomenon_time.isoformat() if ds.last_phenomenon_time else None,
        "level": level,
        "colour": None,
        "alert": alert.value if alert is not None else None,
    }


def _stream_rows(
    session: Session, codes: tuple[str, ...] | None = None
) -> tuple[dict[int, list[dict[str, Any]]], dict[int, list[Datastream]]]:
    """Per Thing: its datastreams (of ``codes``, or all) as IOC rows with their latest value and level, and
    the Datastreams themselves (for the health rule). Two statements: datastreams, open alerts."""
    scale = thresholds()
    alerts = _open_alerts(session)
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    held: dict[int, list[Datastream]] = defaultdict(list)
    rows = session.execute(
        select(Datastream, ObservedProperty).join(ObservedProperty).order_by(Datastream.id)
    ).all()  # one statement: datastreams are few (hundreds), their properties fewer
    for ds, op in rows:
        code = property_code(op)
        if codes is not None and code not in codes:
            continue
        level = _level_of(scale, code, ds.last_value)
        alert = alerts.get(ds.id)
        if alert is not None and LEVEL_RANK[SEVERITY_LEVEL[alert]] > LEVEL_RANK[level]:
            level = SEVERITY_LEVEL[alert]
        row = _stream(ds, code, level, alert)
        if code in scale:
            row["warn_at"], row["bad_at"] = scale[code]
        out[ds.thing_id].append(row)
        held[ds.thing_id].append(ds)
    return out, held


def _streams(session: Session, codes: tuple[str, ...] | None = None) -> dict[int, list[dict[str, Any]]]:
    """Per Thing: its datastreams (of ``codes``, or all) with their latest value and level."""
    return _stream_rows(session, codes)[0]


def _in_scope(session: Session, area: Area | None) -> Callable[[float, float], bool]:
    """Whether a point lies in ``area`` (the drill-down scope, already its lineage successor); all when None."""
    if area is None or area.level == "province":
        return lambda _lat, _lon: True
    index = area_index(session)
    today = to_local(utcnow()).date()
    return lambda lat, lon: any(hit.id == area.id for hit in index.find(lon, lat, at=today, level=None))


def stations(
    session: Session, area_id: int | None = None, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Located Things with their datastreams' latest values, each with a level (the station's is the worst)
    and a health (``sensing.health``'s one rule: online, late, offline); with ``area_id``, only the stations
    inside that area (an old unit: its lineage successor)."""
    now = now or utcnow()
    inside = _in_scope(session, cell_area(session, area_id) if area_id is not None else None)
    located = session.execute(
        select(Thing, Location)
        .join(thing_locations, thing_locations.c.thing_id == Thing.id)
        .join(Location, and_(Location.id == thing_locations.c.location_id, Location.lat.is_not(None)))
        .order_by(Thing.id)
    ).all()
    streams, held = _stream_rows(session)
    out: list[dict[str, Any]] = []
    seen: set[int] = set()
    things: list[tuple[Thing, Location]] = []
    for thing, loc in located:
        if thing.id in seen or loc.lat is None or loc.lon is None or not inside(loc.lat, loc.lon):
            continue
        seen.add(thing.id)
        things.append((thing, loc))
    health = thing_health(session, [t for t, _l in things], now, datastreams=held)
    for thing, loc in things:
        ds_list = streams.get(thing.id, [])
        known = health[thing.id]
        for d in ds_list:
            d["health"] = known.datastreams[d["id"]].value
        level = max((d["level"] for d in ds_list), key=LEVEL_RANK.__getitem__, default="nodata")
        out.append(
            {
                "id": thing.id,
                "name": thing.name,
                "kind": (thing.properties or {}).get("kind") or (thing.properties or {}).get("type"),
                "lat": loc.lat,
                "lon": loc.lon,
                "level": level,
                "health": known.health.value,
                "last_time": known.last_time.isoformat() if known.last_time else None,
                "datastreams": ds_list,
            }
        )
    return out


# --- panels --------------------------------------------------------------------------------------------


def _indicator_data(
    session: Session, panel: DashboardPanelSpec, area: Area | None, today: date
) -> list[dict[str, Any]]:
    """Per indicator of the panel: its latest value (tiles) or its last periods (chart), with the target."""
    if area is None or not panel.indicators:
        return []
    defs = {i.code: i for i in session.scalars(select(Indicator).where(Indicator.code.in_(panel.indicators)))}
    since = date(today.year - 1, 1, 1)
    series: dict[str, list[IndicatorValue]] = defaultdict(list)
    for row in session.scalars(
        select(IndicatorValue)
        .where(
            IndicatorValue.indicator_code.in_(panel.indicators),
            IndicatorValue.area_id == area.id,
            IndicatorValue.agency_id.is_(None),
            IndicatorValue.period_start >= since,
            IndicatorValue.value.is_not(None),
        )
        .order_by(IndicatorValue.period_start)
    ):
        series[row.indicator_code].append(row)
    targets = {
        t.indicator_code: t.value
        for t in session.scalars(
            select(IndicatorTarget).where(
                IndicatorTarget.indicator_code.in_(panel.indicators),
                IndicatorTarget.area_id == area.id,
                IndicatorTarget.year == today.year,
            )
        )
    }
    out = []
    for code in panel.indicators:
        ind = defs.get(code)
        if ind is None:
            continue
        rows = series.get(code, [])
        latest = rows[-1] if rows else None
        target = targets.get(code)
        current = latest if latest is not None and latest.period_start.year == today.year else None
        item: dict[str, Any] = {
            "code": code, "name_vi": ind.name_vi, "name_en": ind.name_en, "unit": ind.unit,
            "direction": ind.direction, "period_start": latest.period_start.isoformat() if latest else None,
            "value": latest.value if latest else None, "target": target,
            "status": status_of(ind.direction, current.value if current else None, target) if target is not None else None,
        }  # fmt: skip
        if panel.kind == "indicator_chart":
            item["series"] = [
                {"period_start": r.period_start.isoformat(), "value": r.value} for r in rows[-SERIES_PERIODS:]
            ]
        out.append(item)
    return out


def _place_data(session: Session, panel: DashboardPanelSpec) -> list[dict[str, Any]]:
    """Public places of the panel's types (staff-only types never reach this public endpoint)."""
    public = [
        t.code
        for t in session.scalars(select(PlaceType).where(PlaceType.code.in_(panel.place_types)))
        if t.visibility == "public"
    ]
    if not public:
        return []
    rows = session.execute(
        select(Place.id, Place.type_code, Place.name, Place.lat, Place.lon, Place.status, Place.area_id)
        .where(Place.type_code.in_(public), Place.valid_to.is_(None))
        .order_by(Place.id)
        .limit(PLACE_LIMIT)
    )
    return [
        {"id": i, "type": t, "name": n, "lat": lat, "lon": lon, "status": s, "area_id": a}
        for i, t, n, lat, lon, s, a in rows
    ]


def _things_in(session: Session, area: Area | None) -> set[int] | None:
    """The located Things inside ``area``; None (all of them) at province scope."""
    inside = _in_scope(session, area)
    if area is None or area.level == "province":
        return None
    rows = session.execute(
        select(thing_locations.c.thing_id, Location.lat, Location.lon).join(
            Location, and_(Location.id == thing_locations.c.location_id, Location.lat.is_not(None))
        )
    )
    return {tid for tid, lat, lon in rows if lat is not None and lon is not None and inside(lat, lon)}


def _layer(panel: DashboardPanelSpec) -> dict[str, Any]:
    """How the IOC draws a ``map_layer``: the sector's GeoJSON path, the style property and the legend."""
    return {
        "url": panel.layer_url,
        "style_property": panel.style_property or None,
        "legend": [
            {"value": e.value, "colour": e.colour, "label_vi": e.label_vi, "label_en": e.label_en}
            for e in panel.legend
        ],
        "default_on": panel.default_on,
        "refresh_seconds": panel.refresh_seconds,
    }


def panels(
    session: Session, area_id: int | None = None, now: datetime | None = None, *, staff: bool = False
) -> list[dict[str, Any]]:
    """Every declared panel the caller may see with its current data, drawn by kind (no panel kind knows
    a sector); ``audience="staff"`` panels only when ``staff``."""
    area = _target_area(session, area_id)
    today = to_local(now or utcnow()).date()
    out = []
    local: set[int] | None = (
        None  # the Things inside the scope (None: all), looked up once if a panel needs them
    )
    looked = False
    for panel in declared_panels():
        if panel.audience == "staff" and not staff:
            continue
        data: list[dict[str, Any]]
        extra: dict[str, Any] = {}
        if panel.kind == "map_layer":
            data, extra = [], {"layer": _layer(panel)}
        elif panel.kind in ("indicator_tiles", "indicator_chart"):
            data = _indicator_data(session, panel, area, today)
        elif panel.kind == "place_layer":
            data = _place_data(session, panel)
        else:
            if not looked:
                local, looked = _things_in(session, area), True
            data = [
                s
                for thing_id, streams in _streams(session, panel.property_codes).items()
                if local is None or thing_id in local
                for s in streams
            ]
        out.append(
            {
                "code": panel.code, "title_vi": panel.title_vi, "title_en": panel.title_en,
                "sector": panel.sector, "kind": panel.kind, "order": panel.order, "audience": panel.audience,
                "data": data, **extra,
            }
        )  # fmt: skip
    return out


@router.get(
    "/ioc/summary",
    summary="IOC KPI tiles and reports per day (province or one area)",
    response_model=SummaryOut,
)
def summary_route(
    session: ReadSessionDep,
    area_id: Annotated[int | None, Query(description="Drill down to one area (ward)")] = None,
) -> dict[str, Any]:
    return summary(session, area_id)


@router.get(
    "/ioc/stations",
    summary="Stations with their latest values, level and health, for the IOC map and station list",
    response_model=list[StationOut],
    responses={404: {"description": "No such area"}},
)
def stations_route(
    session: ReadSessionDep,
    area_id: Annotated[int | None, Query(description="Only the stations inside this area (ward)")] = None,
) -> list[dict[str, Any]]:
    return stations(session, area_id)


@router.get(
    "/dashboard/panels",
    summary="The sectors' IOC panels with their current data",
    response_model=list[PanelOut],
    response_model_exclude_unset=True,
    responses={404: {"description": "No such area"}},
)
def panels_route(
    session: ReadSessionDep,
    principal: CurrentPrincipal,
    area_id: Annotated[
        int | None, Query(description="Indicator tiles of this area (default: the province)")
    ] = None,
) -> list[dict[str, Any]]:
    if area_id is not None and session.get(Area, area_id) is None:
        raise NotFound("No such area", code="unknown_area")
    return panels(session, area_id, staff=can(principal, Action.IOC_VIEW_STAFF))
