"""Traffic indicators, per commune and the province per local day, from the hourly roll-ups (never raw rows):

* ``traffic.congested_hours`` — segment-hours at level of service E or F: each counter's ``congestion_level``
  hours whose maximum is ≥ 5, summed over the counters of the area (a segment jammed for 2 hours and another for
  1 hour make 3);
* ``traffic.peak_hour_volume`` — the peak-hour volume: for each counter, the hour of the day with the highest total
  flow (motorbikes + cars + buses and trucks, hourly means in vehicles per hour), and the highest of those over
  the area's counters.

Both are kept current by the indicators capability's consumer on ``observations.created`` (the datastream-hours a
batch touched). :func:`segment_days` gives the same two figures per segment and day for the segment's page.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.clock import to_local
from cityops.indicators.calc import members
from cityops.sectors.traffic.congestion import PCU
from cityops.sensing.indicators import datastream_areas, hourly, touched
from cityops.sensing.models import Datastream
from cityops.specs import (
    AreaGroups,
    IndicatorCalculatorSpec,
    IndicatorSource,
    IndicatorSpec,
    Measure,
    Period,
)

CONGESTED_FROM = 5.0  # E
LEVEL = "congestion_level"


def _congested(
    session: Session, ds_areas: Mapping[int, int | None], start: datetime, end: datetime
) -> dict[int, int]:
    """Datastream (those with data) → its hours at E or F in ``[start, end)``."""
    out: dict[int, int] = {}
    for ds_id, _, value in hourly(session, ds_areas, start, end, "max"):
        if value is not None:  # a datastream with data counts, with its 0 hours too; one without, not at all
            out[ds_id] = out.get(ds_id, 0) + (1 if value >= CONGESTED_FROM else 0)
    return out


def congested_hours(
    session: Session, spec: IndicatorSpec, groups: AreaGroups, start: datetime, end: datetime
) -> Mapping[int, Measure]:
    ds_areas = datastream_areas(session, (LEVEL,))
    if not ds_areas:
        return {}
    hours = _congested(session, ds_areas, start, end)
    per_area: dict[int | None, list[int]] = defaultdict(list)
    for ds_id, n in hours.items():
        per_area[ds_areas.get(ds_id)].append(n)
    out: dict[int, Measure] = {}
    for target, parts in members(groups, per_area).items():
        values = [h for part in parts for h in part]
        if values:
            out[target] = Measure(float(sum(values)), len(values), float(sum(values)), None)
    return out


def _thing_peaks(
    session: Session, start: datetime, end: datetime
) -> tuple[dict[int, float], dict[int, int | None]]:
    """Counter (Thing) → its highest hourly total flow in ``[start, end)``; and each counter's area."""
    ds_areas = datastream_areas(session, tuple(PCU))
    if not ds_areas:
        return {}, {}
    thing_of = dict(
        session.execute(
            select(Datastream.id, Datastream.thing_id).where(Datastream.id.in_(sorted(ds_areas)))
        ).all()
    )
    totals: dict[tuple[int, datetime], float] = defaultdict(float)
    for ds_id, hour, value in hourly(session, ds_areas, start, end, "mean"):
        if value is not None:
            totals[(thing_of[ds_id], hour)] += value
    peaks: dict[int, float] = {}
    for (thing, _), total in totals.items():
        peaks[thing] = max(peaks.get(thing, total), total)
    areas = {thing_of[ds]: area for ds, area in ds_areas.items()}
    return peaks, areas


def peak_hour_volume(
    session: Session, spec: IndicatorSpec, groups: AreaGroups, start: datetime, end: datetime
) -> Mapping[int, Measure]:
    peaks, areas = _thing_peaks(session, start, end)
    per_area: dict[int | None, list[float]] = defaultdict(list)
    for thing, peak in peaks.items():
        per_area[areas.get(thing)].append(peak)
    out: dict[int, Measure] = {}
    for target, parts in members(groups, per_area).items():
        values = [v for part in parts for v in part]
        if values:
            out[target] = Measure(round(max(values)), len(values))
    return out


def segment_days(
    session: Session, thing_id: int, start: datetime, end: datetime
) -> dict[date, dict[str, float]]:
    """Per local day for one counter's segment: congested hours and the peak-hour volume (and its hour)."""
    streams = {
        ds.id: str((ds.properties or {}).get("property_code"))
        for ds in session.scalars(select(Datastream).where(Datastream.thing_id == thing_id))
    }
    level = {d: None for d, code in streams.items() if code == LEVEL}
    flows = {d: None for d, code in streams.items() if code in PCU}
    days: dict[date, dict[str, float]] = defaultdict(lambda: {"congested_hours": 0.0})
    for _, hour, value in hourly(session, level, start, end, "max"):
        day = days[to_local(hour).date()]
        if value is not None and value >= CONGESTED_FROM:
            day["congested_hours"] += 1
    totals: dict[datetime, float] = defaultdict(float)
    for _, hour, value in hourly(session, flows, start, end, "mean"):
        if value is not None:
            totals[hour] += value
    for hour, total in totals.items():
        day = days[to_local(hour).date()]
        if total > day.get("peak_hour_volume", -1.0):
            day["peak_hour_volume"] = round(total)
            day["peak_hour"] = to_local(hour).hour
    return dict(sorted(days.items()))


def calculators() -> list[IndicatorCalculatorSpec]:
    subjects = ("observations.created",)
    return [
        IndicatorCalculatorSpec(
            "traffic.congested_hours",
            IndicatorSource.OBSERVATIONS,
            congested_hours,
            subjects,
            touched,
            "segment-hours at level of service E or F (hourly maxima of congestion_level)",
        ),
        IndicatorCalculatorSpec(
            "traffic.peak_hour_volume",
            IndicatorSource.OBSERVATIONS,
            peak_hour_volume,
            subjects,
            touched,
            "the highest hourly total flow of the area's counters",
        ),
    ]


def indicators() -> list[IndicatorSpec]:
    return [
        IndicatorSpec(
            code="traffic.congested_hours",
            name_vi="Số giờ ùn tắc (đoạn đường × giờ)",
            name_en="Congested hours (segment-hours)",
            unit="h",
            direction="lower",
            period=Period.DAY,
            source=IndicatorSource.OBSERVATIONS,
            sector="traffic",
            method="traffic.congested_hours",
            description_vi="Tổng số giờ các đoạn đường ở mức phục vụ E hoặc F trong ngày.",
            description_en="Hours the area's road segments spent at level of service E or F that day.",
            decimals=0,
            aggregation="direct",
        ),
        IndicatorSpec(
            code="traffic.peak_hour_volume",
            name_vi="Lưu lượng giờ cao điểm",
            name_en="Peak-hour volume",
            unit="{vehicles}/h",
            direction="none",
            period=Period.DAY,
            source=IndicatorSource.OBSERVATIONS,
            sector="traffic",
            method="traffic.peak_hour_volume",
            description_vi="Lưu lượng xe lớn nhất trong một giờ tại các trạm đếm của địa bàn trong ngày.",
            description_en="The highest hourly flow at the area's counters that day.",
            decimals=0,
            aggregation="direct",
        ),
    ]
