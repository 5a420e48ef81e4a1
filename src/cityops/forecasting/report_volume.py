"""Report volume per ward and category, as daily-count Datastreams the forecasting capability keeps itself.

Each (ward, category) pair followed gets a Thing ``volume_code = "reports:<area id>:<category>"`` (not a
``station_code``: it is no monitoring station) with one
``report_count`` Datastream: one Observation per local day (at its 00:00 Asia/Ho_Chi_Minh) counting the
visible, unmerged cases submitted that day (:func:`record_days`, complete days only). Its forecast target
(:func:`volume_targets`) uses the ``weekly`` method (weekly seasonality with the working calendar), leads of 1
and 7 days, and a one-week seasonal-naive baseline. The demo adds synthetic history (:func:`demo_history`).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.areas.models import Area
from cityops.reports.models import Case, Category
from cityops.sensing.ingest import ObservationIn, ingest_observations
from cityops.sensing.models import Datastream, ObservedProperty, Sensor, Thing
from cityops.sensing.stations import OM_MEASUREMENT
from cityops.specs import ForecastTargetSpec

CODE = "report_count"
KIND = "report_volume"
LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
LEADS = (24, 168)
UNIT = {"name": "reports per day", "symbol": "{reports}/d", "definition": "http://unitsofmeasure.org"}


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=LOCAL)


def _property(session: Session) -> ObservedProperty:
    for row in session.scalars(select(ObservedProperty)).all():
        if (row.properties or {}).get("code") == CODE:
            return row
    row = ObservedProperty(
        name="Reports per day",
        definition="cityops:reports/daily-count",
        description="Số phản ánh mỗi ngày",
        ucum="{reports}/d",
        properties={"code": CODE},
    )
    session.add(row)
    session.flush()
    return row


def volume_datastream(
    session: Session, area_id: int, category: str, *, synthetic: bool = False
) -> Datastream:
    """The daily-count Datastream of (ward, category), created on first use."""
    station = f"reports:{area_id}:{category}"
    for thing in session.scalars(select(Thing)).all():
        if (thing.properties or {}).get("volume_code") == station:
            found = session.scalars(
                select(Datastream).where(Datastream.thing_id == thing.id).order_by(Datastream.id)
            )
            for row in found:
                if (row.properties or {}).get("property_code") == CODE:
                    return row
    area = session.get(Area, area_id)
    cat = session.get(Category, category)
    area_name = area.name if area else str(area_id)
    cat_name = cat.name_vi if cat else category
    thing = Thing(
        name=f"Phản ánh {cat_name} – {area_name}",
        description=f"Reports of category {category} in area {area_id}",
        properties={
            "volume_code": station,
            "kind": KIND,
            "area_ids": [area_id],
            "area_name": area_name,
            "category": category,
            "synthetic": synthetic,
        },
    )
    sensor = Sensor(
        name="Đếm phản ánh hiện trường",
        description="Daily count of citizen reports",
        encoding_type="text/html",
        sensor_metadata="",
    )
    session.add_all([thing, sensor])
    session.flush()
    ds = Datastream(
        name=f"Số phản ánh {cat_name} mỗi ngày – {area_name}",
        description=f"Daily reports, category {category}, area {area_id}",
        unit_of_measurement=UNIT,
        observation_type=OM_MEASUREMENT,
        properties={"property_code": CODE, "expected_interval_s": 86400},
        thing_id=thing.id,
        sensor_id=sensor.id,
        observed_property_id=_property(session).id,
    )
    session.add(ds)
    session.flush()
    return ds


def volume_targets(session: Session) -> list[ForecastTargetSpec]:
    """One ``weekly`` target per followed (ward, category) pair."""
    out = []
    for thing in session.scalars(select(Thing).order_by(Thing.id)).all():
        props = thing.properties or {}
        if props.get("kind") == KIND and props.get("volume_code"):
            out.append(
                ForecastTargetSpec(
                    code=str(props["volume_code"]),
                    station=str(props["volume_code"]),
                    property_code=CODE,
                    method="weekly",
                    leads_hours=LEADS,
                    season_hours=168.0,
                    history_days=180,
                )
            )
    return out


def record_days(session: Session, ds: Datastream, area_id: int, category: str, *, until: date) -> int:
    """Store the daily counts of complete local days after the last stored one, up to ``until`` (excluded)."""
    last = ds.last_phenomenon_time
    start = (last.astimezone(LOCAL).date() + timedelta(days=1)) if last else until - timedelta(days=180)
    if start >= until:
        return 0
    lo, hi = _local_midnight(start), _local_midnight(until)
    times = session.scalars(
        select(Case.submitted_at).where(
            Case.area_id == area_id,
            Case.category_code == category,
            Case.hidden.is_(False),
            Case.master_id.is_(None),
            Case.submitted_at >= lo,
            Case.submitted_at < hi,
        )
    ).all()
    counts: dict[date, int] = {}
    for moment in times:
        d = moment.astimezone(LOCAL).date()
        counts[d] = counts.get(d, 0) + 1
    rows = []
    d = start
    while d < until:
        rows.append(ObservationIn(ds.id, _local_midnight(d), float(counts.get(d, 0))))
        d += timedelta(days=1)
    return ingest_observations(session, rows, emit_event=False).inserted


def demo_history(session: Session, ds: Datastream, *, until: date, days: int = 180, seed: int = 0) -> int:
    """Synthetic daily counts (Poisson around a weekday pattern; Tết and public holidays low): demo only."""
    from cityops.workcalendar.calendar import WorkingCalendar

    working = WorkingCalendar().is_working_day
    rng = np.random.default_rng(seed + ds.id)
    weekday = np.array([9.0, 8.0, 8.0, 7.5, 8.5, 3.0, 2.0])
    rows = []
    for k in range(days, 0, -1):
        d = until - timedelta(days=k)
        rate = weekday[d.weekday()] * (0.35 if d.weekday() < 5 and not working(d) else 1.0)
        rows.append(ObservationIn(ds.id, _local_midnight(d), float(rng.poisson(rate))))
    return ingest_observations(session, rows, emit_event=False).inserted


def refresh_counts(session: Session, *, until: date) -> int:
    """Bring every followed (ward, category) series up to ``until`` (excluded) from the stored cases."""
    stored = 0
    for thing in session.scalars(select(Thing).order_by(Thing.id)).all():
        props = thing.properties or {}
        if props.get("kind") != KIND or props.get("synthetic"):
            continue  # a demo series is synthetic: real counts would not continue it honestly
        area_ids = props.get("area_ids") or []
        if not area_ids:
            continue
        ds = volume_datastream(session, int(area_ids[0]), str(props.get("category")))
        stored += record_days(session, ds, int(area_ids[0]), str(props.get("category")), until=until)
    return stored


def demo_pairs(session: Session, limit: int = 3) -> list[tuple[int, str]]:
    """The (ward, category) pairs with the most cases (the demo follows these)."""
    rows = session.execute(
        select(Case.area_id, Case.category_code)
        .where(Case.area_id.is_not(None))
        .group_by(Case.area_id, Case.category_code)
        .order_by(func.count().desc(), Case.area_id, Case.category_code)
        .limit(limit)
    ).all()
    return [(int(a), str(c)) for a, c in rows if a is not None]


def find_source(session: Session, volume_code: str) -> Datastream | None:
    """The daily-count Datastream of a followed pair, by its ``volume_code``."""
    for thing in session.scalars(select(Thing).order_by(Thing.id)).all():
        if (thing.properties or {}).get("volume_code") == volume_code:
            rows = session.scalars(select(Datastream).where(Datastream.thing_id == thing.id))
            return next((ds for ds in rows if (ds.properties or {}).get("property_code") == CODE), None)
    return None
