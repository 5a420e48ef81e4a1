"""Indicators computed from observations: station availability and data freshness (generic), and the
daily values a sector's day-count indicators are built on (salinity exceedance days, days with good AQI).

A datastream counts for the commune its Thing is located in (today's unit, by point lookup). Everything is
read from the hourly roll-ups (``observation_rollups``), never from raw observations, so a month costs
hours × datastreams rows. Days are local (Asia/Ho_Chi_Minh) days.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.areas.lookup import AreaIndex, area_index
from cityops.areas.service import today
from cityops.clock import to_local, utcnow
from cityops.events.bus import Event
from cityops.indicators.calc import Partial, fold, members
from cityops.sensing import properties as props
from cityops.sensing.models import Datastream, Location, ObservationRollup, ObservedProperty, thing_locations
from cityops.specs import AreaGroups, IndicatorCalculatorSpec, IndicatorSource, IndicatorSpec, Measure, Period

SUBJECT = "observations.created"
FRESH_WINDOW = timedelta(hours=24)  # a datastream is fresh when it reported in the period's last 24 hours


def property_code(op: ObservedProperty) -> str:
    """The cityops code of an observed property: its ``code`` property, else the declared property with its
    definition, else its name lowercased."""
    extra = op.properties or {}
    code = extra.get("code") if isinstance(extra, dict) else None
    if isinstance(code, str) and code:
        return code
    for spec in props.declared().values():
        if spec.definition and spec.definition == op.definition:
            return spec.code
    return op.name.strip().lower()


# Per area index (a new one is built whenever stored geometries change): (lon, lat, day) → commune id.
# Stations do not move between events, so an event's lookups are dictionary hits, not STRtree queries.
_communes: weakref.WeakKeyDictionary[AreaIndex, dict[tuple[float, float, date], int | None]] = (
    weakref.WeakKeyDictionary()
)
_communes_lock = threading.Lock()
_COMMUNES_MAX = 100_000


def commune_at(session: Session, lat: float, lon: float) -> int | None:
    """The id of the commune containing (lat, lon) today, remembered per area index."""
    index = area_index(session)
    day = today()
    key = (lon, lat, day)
    with _communes_lock:
        memo = _communes.setdefault(index, {})
        if key in memo:
            return memo[key]
    if not (math.isfinite(lat) and math.isfinite(lon)) or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    hits = index.find(lon, lat, at=day, level="commune")
    found = hits[0].id if hits else None
    with _communes_lock:
        if len(memo) >= _COMMUNES_MAX:
            memo.clear()
        memo[key] = found
    return found


def datastream_areas(
    session: Session, codes: tuple[str, ...] | None = None, ids: Collection[int] | None = None
) -> dict[int, int | None]:
    """Datastream id → the commune its Thing is located in (None when unlocated), for ``codes`` (or all),
    only the datastreams ``ids`` when given (an event's batch: one query over its datastreams)."""
    stmt = (
        select(Datastream.id, Location.lat, Location.lon)
        .outerjoin(thing_locations, thing_locations.c.thing_id == Datastream.thing_id)
        .outerjoin(Location, Location.id == thing_locations.c.location_id)
        .order_by(Datastream.id)
    )
    if codes is not None:
        ops = list(session.scalars(select(ObservedProperty)))
        wanted = [op.id for op in ops if property_code(op) in codes]
        if not wanted:
            return {}
        stmt = stmt.where(Datastream.observed_property_id.in_(wanted))
    if ids is not None:
        if not ids:
            return {}
        stmt = stmt.where(Datastream.id.in_(sorted(ids)))
    found: dict[int, int | None] = {}
    for ds_id, lat, lon in session.execute(stmt):
        if found.get(ds_id) is not None:
            continue
        found[ds_id] = commune_at(session, lat, lon) if lat is not None and lon is not None else None
    return found


def hourly(
    session: Session, ds_areas: Mapping[int, int | None], start: datetime, end: datetime, stat: str = "mean"
) -> list[tuple[int, datetime, float | None]]:
    """``(datastream, hour start, value)`` of the hourly roll-ups in ``[start, end)`` (``mean``/``max``)."""
    if not ds_areas:
        return []
    r = ObservationRollup
    value: Any = r.max if stat == "max" else r.sum / func.nullif(r.count, 0)
    rows = session.execute(
        select(r.datastream_id, r.bucket_start, value)
        .where(
            r.datastream_id.in_(sorted(ds_areas)),
            r.interval == "hour",
            r.bucket_start >= start,
            r.bucket_start < end,
        )
        .order_by(r.datastream_id, r.bucket_start)
    )
    return [(int(d), b, None if v is None else float(v)) for d, b, v in rows]


def daily_worst(
    session: Session,
    code: str,
    start: datetime,
    end: datetime,
    day_value: Callable[[list[float]], float | None],
    stat: str = "max",
) -> dict[int | None, dict[date, float]]:
    """Per area and local day, the worst (highest) station value, each station's day made by ``day_value``
    from its hourly ``stat`` values."""
    ds_areas = datastream_areas(session, (code,))
    per_station: dict[tuple[int, date], list[float]] = defaultdict(list)
    for ds_id, hour, value in hourly(session, ds_areas, start, end, stat):
        if value is not None:
            per_station[(ds_id, to_local(hour).date())].append(value)
    out: dict[int | None, dict[date, float]] = defaultdict(dict)
    for (ds_id, day), values in per_station.items():
        v = day_value(values)
        if v is None:
            continue
        days = out[ds_areas.get(ds_id)]
        days[day] = max(days.get(day, v), v)
    return out


def count_days(
    groups: AreaGroups, per_area: Mapping[int | None, dict[date, float]], test: Callable[[float], bool]
) -> dict[int, Measure]:
    """Per target: the days whose worst value over its areas passes ``test`` (inputs: days with data)."""
    out: dict[int, Measure] = {}
    for target, parts in members(groups, per_area).items():
        worst: dict[date, float] = {}
        for days in parts:
            for day, v in days.items():
                worst[day] = max(worst.get(day, v), v)
        if not worst:
            out[target] = Measure(None, 0)
            continue
        hits = sum(1 for v in worst.values() if test(v))
        out[target] = Measure(float(hits), len(worst), float(hits), float(len(worst)))
    return out


def days_vs_threshold(
    session: Session, spec: IndicatorSpec, groups: AreaGroups, start: datetime, end: datetime
) -> Mapping[int, Measure]:
    """Days whose daily ``params["stat"]`` (max by default) of ``params["property"]`` is ``>=`` (``op``
    ``ge``) or ``<=`` (``le``) ``params["threshold"]``, at the worst station of the area."""
    p = spec.params
    threshold = float(p["threshold"])
    stat = str(p.get("stat", "max"))
    per_area = daily_worst(session, str(p["property"]), start, end, max if stat == "max" else _mean, stat)
    ge = p.get("op", "ge") == "ge"
    return count_days(groups, per_area, (lambda v: v >= threshold) if ge else (lambda v: v <= threshold))


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _expected_hours(start: datetime, end: datetime) -> int:
    stop = min(end, utcnow())
    return max(0, int((stop - start).total_seconds() // 3600))


def availability(
    session: Session, spec: IndicatorSpec, groups: AreaGroups, start: datetime, end: datetime
) -> Mapping[int, Measure]:
    """% of the period's elapsed hours with at least one observation, over the area's datastreams."""
    ds_areas = datastream_areas(
        session, tuple(spec.params["properties"]) if "properties" in spec.params else None
    )
    hours = _expected_hours(start, end)
    seen: dict[int, int] = defaultdict(int)
    for ds_id, _hour, _v in hourly(session, ds_areas, start, end):
        seen[ds_id] += 1
    per_area: dict[int | None, Partial] = defaultdict(Partial)
    for ds_id, area in ds_areas.items():
        part = per_area[area]
        part.numerator += min(seen.get(ds_id, 0), hours)
        part.denominator += hours
        part.inputs += 1
    return fold(session, spec, groups, per_area, to_local(start).year)


def freshness(
    session: Session, spec: IndicatorSpec, groups: AreaGroups, start: datetime, end: datetime
) -> Mapping[int, Measure]:
    """% of the area's datastreams that reported in the last 24 hours of the period (up to now)."""
    ds_areas = datastream_areas(session)
    stop = min(end, utcnow())
    if stop <= start:
        return {}
    fresh = {d for d, _h, _v in hourly(session, ds_areas, max(start, stop - FRESH_WINDOW), stop)}
    per_area: dict[int | None, Partial] = defaultdict(Partial)
    for ds_id, area in ds_areas.items():
        part = per_area[area]
        part.numerator += 1 if ds_id in fresh else 0
        part.denominator += 1
        part.inputs += 1
    return fold(session, spec, groups, per_area, to_local(start).year)


def touched(session: Session, event: Event) -> list[tuple[int | None, datetime]]:
    """The (area, local day) of each datastream's observations in an ``observations.created`` batch."""
    payload = event.payload
    ids = payload.get("datastreams") or [o.get("datastream_id") for o in payload.get("observations", [])]
    times = payload.get("phenomenon_times") or [
        o.get("phenomenon_time") for o in payload.get("observations", [])
    ]
    if not ids:
        return []
    areas = datastream_areas(session, ids={int(d) for d in ids if d is not None})
    facts: set[tuple[int | None, datetime]] = set()
    for ds_id, text in zip(ids, times, strict=False):
        if ds_id is None or not text or int(ds_id) not in areas:
            continue
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
        # one fact per datastream-hour is enough: the cell is a (area, period) and periods are days or longer
        facts.add((areas[int(ds_id)], moment.replace(minute=0, second=0, microsecond=0)))
    return sorted(facts, key=lambda f: (f[0] or 0, f[1]))


def calculator(method: str, fn: Any, description: str) -> IndicatorCalculatorSpec:
    """A calculator over observations, made stale by ``observations.created``."""
    return IndicatorCalculatorSpec(method, IndicatorSource.OBSERVATIONS, fn, (SUBJECT,), touched, description)


def calculators() -> list[IndicatorCalculatorSpec]:
    return [
        calculator(
            "observations.days_vs_threshold", days_vs_threshold, "days a daily value crosses a threshold"
        ),
        calculator("observations.availability", availability, "% of hours with observations"),
        calculator("observations.freshness", freshness, "% of datastreams reporting in the last 24 h"),
    ]


def indicators() -> list[IndicatorSpec]:
    """Generic sensing indicators (any station, any sector)."""
    common: dict[str, Any] = {
        "source": IndicatorSource.OBSERVATIONS,
        "sector": "core",
        "aggregation": "ratio",
    }
    return [
        IndicatorSpec(
            "observations.availability", "Tỷ lệ hoạt động của trạm quan trắc", "Station availability", "%",
            "higher", Period.MONTH, method="observations.availability", params={"scale": 100},
            sets=(("iso_37122", "19.1"), ("vn_smart_city_2026", "HT.2")), **common,
        ),
        IndicatorSpec(
            "observations.freshness", "Tỷ lệ chuỗi dữ liệu cập nhật trong 24 giờ", "Data freshness (24 h)",
            "%", "higher", Period.DAY, method="observations.freshness", params={"scale": 100},
            sets=(("vn_smart_city_2026", "HT.3"),), **common,
        ),
    ]  # fmt: skip
