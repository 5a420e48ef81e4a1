"""Read models of the IOC dashboard: KPI tiles, reports per day and stations with their latest state.

``GET /api/v1/ioc/summary?area_id=`` — KPI tiles and reports per local day (last 14 days), for the province
or one area (drill-down). ``GET /api/v1/ioc/stations`` — every located station (STA Thing) with its
datastreams' latest values and a level (``good``/``warn``/``bad``/``nodata``) from the AQI band, the
salinity thresholds and open alerts. Public aggregate data only: no case text, no personal data.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import ScalarSelect, and_, case, false, func, select, true
from sqlalchemy.orm import Session

from cityops.alerts.models import Alert, AlertState, Severity
from cityops.areas.models import Area
from cityops.clock import LOCAL_TZ, to_local, utcnow
from cityops.deps import SessionDep
from cityops.errors import NotFound
from cityops.reports.models import Case, CaseRating
from cityops.reports.workflow import OPEN_STATES
from cityops.sensing import aqi
from cityops.sensing import properties as props
from cityops.sensing.api import BodyCache
from cityops.sensing.models import Datastream, Location, ObservedProperty, Thing, thing_locations

router = APIRouter(prefix="/api/v1/ioc", tags=["ioc"])

DAYS = 14
SATISFIED_SCORE = 4
SALINITY_WARN = 1.0  # g/L: harms sensitive crops
SALINITY_BAD = 4.0  # g/L: harms rice
LEVEL_RANK = {"nodata": 0, "good": 1, "warn": 2, "bad": 3}
SEVERITY_LEVEL = {
    Severity.INFO: "good",
    Severity.WATCH: "warn",
    Severity.WARNING: "warn",
    Severity.CRITICAL: "bad",
}
_OPEN = [s.value for s in OPEN_STATES]


def property_code(op: ObservedProperty) -> str:
    """The cityops code of an observed property (``pm25``, ``salinity``...), or its name lowercased."""
    extra = op.properties or {}
    code = extra.get("code") if isinstance(extra, dict) else None
    if isinstance(code, str) and code:
        return code
    by_definition = {p.definition: p.code for p in props.declared().values()}
    return by_definition.get(op.definition, op.name.strip().lower())


def _local_midnight_utc(day: datetime) -> datetime:
    local = to_local(day)
    return datetime.combine(local.date(), time(0), tzinfo=LOCAL_TZ).astimezone(day.tzinfo)


def _area_filter(session: Session, area_id: int | None) -> list[Any]:
    if area_id is None:
        return []
    area = session.get(Area, area_id)
    if area is None:
        raise NotFound("No such area")
    if area.level == "province":
        return []
    return [Case.area_id == area_id]


def summary(session: Session, area_id: int | None = None, now: datetime | None = None) -> dict[str, Any]:
    """KPI tiles and the reports-per-day series (local days, oldest first).

    Only SQL counts come back: one statement for all case counts, one for the ratings and two for the few
    PM/salinity datastreams, whatever the number of cases. Each case count is a range of an index: the days by
    ``ix_cases_hidden_submitted``, open/overdue by ``ix_cases_hidden_state``, the on-time rate by
    ``ix_cases_hidden_resolved`` (all resolved cases: the one count that grows with the table). The counts
    are reused while nothing commits (the database change marker of the latest values).
    """
    now = now or utcnow()
    area = _area_filter(session, area_id)
    where = [Case.hidden == false(), *area]  # "= false": indexable on PostgreSQL
    today = _local_midnight_utc(now)
    start = today - timedelta(days=DAYS - 1)
    # Local midnights as UTC instants, so the series is bucketed in SQL by plain comparisons (any backend).
    bounds = [_local_midnight_utc(start + timedelta(days=i, hours=12)) for i in range(DAYS + 1)]
    days = [to_local(b).date().isoformat() for b in bounds[:DAYS]]

    # The counts are kept per process under the database change marker (nothing committed since: the same
    # counts), keyed by the local days they cover; the tiles are made fresh from them.
    key = (str(session.get_bind().engine.url), area_id, bounds[0], bounds[DAYS])
    found = _cache.lookup(session, key, None)  # the marker, read before the counts
    counts = found.body
    if counts is None:
        counts = _counts(session, where, area, bounds)
        _cache.store(session, key, found, counts, {})
    per_day, later, open_count, overdue, resolved_count, on_time, ratings, worst_aqi, max_salinity = counts
    return {
        "area_id": area_id,
        "generated_at": now.isoformat(),
        "reports_today": per_day[-1] + later,
        "open": open_count,
        "overdue": overdue,
        "on_time_pct": round(100.0 * on_time / resolved_count, 1) if resolved_count else None,
        "satisfaction_pct": round(100.0 * ratings[1] / ratings[0], 1) if ratings[0] else None,
        "worst_aqi": worst_aqi,
        "max_salinity": max_salinity,
        "daily": [{"day": d, "count": n} for d, n in zip(days, per_day, strict=True)],
    }


_Counts = tuple[list[int], int, int, int, int, int, tuple[int, int], Any, Any]
_cache: BodyCache[_Counts] = BodyCache(32)


def _counts(session: Session, where: list[Any], area: list[Any], bounds: list[datetime]) -> _Counts:
    """Every count of the summary: one statement of case counts, one of ratings, the environment tiles."""

    def count(*cond: Any) -> ScalarSelect[int]:
        return select(func.count()).select_from(Case).where(*where, *cond).scalar_subquery()

    # One statement of index-only range counts: a count per local day is an index seek, where grouping
    # 150,000 rows of the last 14 days by day in SQL costs a temporary B-tree. The resolved cases (most of
    # them, for all time) are counted in one pass with the on-time ones among them.
    resolved = (
        select(
            func.count().label("resolved"),
            func.coalesce(func.sum(case((Case.resolved_at <= Case.resolve_due_at, 1), else_=0)), 0).label(
                "on_time"
            ),
        )
        .select_from(Case)
        .where(*where, Case.resolved_at.is_not(None), Case.resolve_due_at.is_not(None))
        .subquery()
    )
    row = session.execute(
        select(
            *(count(Case.submitted_at >= bounds[i], Case.submitted_at < bounds[i + 1]) for i in range(DAYS)),
            count(Case.submitted_at >= bounds[DAYS]),  # after today (a clock ahead): "today", not the series
            count(Case.state.in_(_OPEN)),
            count(Case.state.in_(_OPEN), Case.overdue == true()),
            resolved.c.resolved,
            resolved.c.on_time,
        )
    ).one()
    per_day = [int(n) for n in row[:DAYS]]
    later, open_count, overdue, resolved_count, on_time = (int(n) for n in row[DAYS:])
    ratings = _ratings(session, where, province=not area)
    worst_aqi, max_salinity = _environment(session)
    return per_day, later, open_count, overdue, resolved_count, on_time, ratings, worst_aqi, max_salinity


def _ratings(session: Session, where: list[Any], *, province: bool) -> tuple[int, int]:
    """(ratings, satisfied ratings) of the cases ``where`` selects.

    Province-wide, all ratings less those of hidden cases: hidden cases are few (an index range), where
    joining every rating to its visible case walks a million cases when the planner starts from them.
    """

    def counts(*cond: Any) -> tuple[ScalarSelect[int], ScalarSelect[int]]:
        base = select(func.count(CaseRating.id)).select_from(CaseRating)
        if cond:
            base = base.join(Case, Case.id == CaseRating.case_id).where(*cond)
        return (
            base.scalar_subquery(),
            base.where(CaseRating.score >= SATISFIED_SCORE).scalar_subquery(),
        )

    if province:
        (total, satisfied), (hidden, hidden_satisfied) = counts(), counts(Case.hidden == true())
        row = session.execute(select(total - hidden, satisfied - hidden_satisfied)).one()
    else:
        row = session.execute(select(*counts(*where))).one()
    return int(row[0]), int(row[1])


def _latest_rows(session: Session) -> list[tuple[Datastream, str]]:
    rows = session.execute(select(Datastream, ObservedProperty).join(ObservedProperty)).all()
    return [(ds, property_code(op)) for ds, op in rows]


_ENVIRONMENT_CODES = ("pm25", "pm10", "salinity")


def _environment(session: Session) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The worst AQI sub-index and the highest salinity among the datastreams' latest values.

    Only datastreams of PM2.5, PM10 and salinity are read (the property codes are resolved first over the
    few observed properties), so thousands of other stations cost nothing here.
    """
    codes = {
        op.id: code
        for op in session.scalars(select(ObservedProperty))
        if (code := property_code(op)) in _ENVIRONMENT_CODES
    }
    worst: dict[str, Any] | None = None
    salt: dict[str, Any] | None = None
    if not codes:
        return worst, salt
    ds = Datastream.__table__.c
    rows = session.execute(
        select(ds.id, ds.observed_property_id, ds.last_value)
        .where(ds.observed_property_id.in_(codes), ds.last_value.is_not(None))
        .order_by(ds.id)
    )
    for ds_id, op_id, value in rows:
        code = codes[op_id]
        if code in ("pm25", "pm10"):
            index = aqi.sub_index(aqi.Pollutant(code), value)
            if index is not None and (worst is None or index > worst["value"]):
                band = aqi.band_for(index)
                worst = {
                    "value": index,
                    "datastream_id": ds_id,
                    "band_vi": band.label_vi,
                    "band_en": band.label_en,
                    "colour": band.hex,
                }
        if code == "salinity" and (salt is None or value > salt["value"]):
            salt = {"value": round(value, 2), "unit": "g/L", "datastream_id": ds_id}
    return worst, salt


def _level_of(code: str, value: float | None) -> tuple[str, str | None]:
    """(level, colour) of a latest value by the property's own scale; colour only for AQI."""
    if value is None:
        return "nodata", None
    if code in ("pm25", "pm10"):
        index = aqi.sub_index(aqi.Pollutant(code), value)
        if index is None:
            return "nodata", None
        band = aqi.band_for(index)
        return ("good" if index <= 100 else "warn" if index <= 150 else "bad"), band.hex
    if code == "salinity":
        return ("bad" if value >= SALINITY_BAD else "warn" if value >= SALINITY_WARN else "good"), None
    return "good", None


def stations(session: Session) -> list[dict[str, Any]]:
    """Located Things with their datastreams' latest values, each with a level; the station's is the worst."""
    located = session.execute(
        select(Thing, Location)
        .join(thing_locations, thing_locations.c.thing_id == Thing.id)
        .join(Location, and_(Location.id == thing_locations.c.location_id, Location.lat.is_not(None)))
        .order_by(Thing.id)
    ).all()
    alerts: dict[int, Severity] = {}
    for ds_id, severity in session.execute(
        select(Alert.datastream_id, Alert.severity).where(
            Alert.state != AlertState.CLOSED, Alert.datastream_id.is_not(None)
        )
    ):
        if ds_id is not None and (ds_id not in alerts or _rank(severity) > _rank(alerts[ds_id])):
            alerts[ds_id] = severity
    streams: dict[int, list[dict[str, Any]]] = {}
    for ds, code in _latest_rows(session):
        level, colour = _level_of(code, ds.last_value)
        alert = alerts.get(ds.id)
        if alert is not None and LEVEL_RANK[SEVERITY_LEVEL[alert]] > LEVEL_RANK[level]:
            level = SEVERITY_LEVEL[alert]
        spec = props.get(code)
        streams.setdefault(ds.thing_id, []).append(
            {
                "id": ds.id,
                "name": ds.name,
                "property": code,
                "property_vi": spec.name_vi if spec else ds.name,
                "property_en": spec.name_en if spec else ds.name,
                "unit": (ds.unit_of_measurement or {}).get("symbol"),
                "value": ds.last_value,
                "time": ds.last_phenomenon_time.isoformat() if ds.last_phenomenon_time else None,
                "level": level,
                "colour": colour,
                "alert": alert.value if alert is not None else None,
            }
        )
    out: list[dict[str, Any]] = []
    seen: set[int] = set()
    for thing, loc in located:
        if thing.id in seen:
            continue
        seen.add(thing.id)
        ds_list = streams.get(thing.id, [])
        level = max((d["level"] for d in ds_list), key=LEVEL_RANK.__getitem__, default="nodata")
        out.append(
            {
                "id": thing.id,
                "name": thing.name,
                "kind": (thing.properties or {}).get("kind") or (thing.properties or {}).get("type"),
                "lat": loc.lat,
                "lon": loc.lon,
                "level": level,
                "datastreams": ds_list,
            }
        )
    return out


def _rank(severity: Severity) -> int:
    return list(Severity).index(severity)


@router.get("/summary", summary="IOC KPI tiles and reports per day (province or one area)")
def summary_route(
    session: SessionDep,
    area_id: Annotated[int | None, Query(description="Drill down to one area (ward)")] = None,
) -> dict[str, Any]:
    return summary(session, area_id)


@router.get("/stations", summary="Stations with their latest values and level, for the IOC map")
def stations_route(session: SessionDep) -> list[dict[str, Any]]:
    return stations(session)
