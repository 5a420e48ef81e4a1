"""Agriculture's indicators: sluice gate operations per period, and how far salinity intruded.

The intrusion indicators are the farthest reach (km from the mouth) of the 1 g/L and 4 g/L lines over the
period on any river, from each station's daily maximum (UTC days of the sensing roll-ups) and the
interpolation of :mod:`.intrusion`. A day the line is beyond the farthest station counts that station's km
(a floor, so the figure is "at least"); a day it is below the nearest station counts 0. Province level only:
rivers cross communes.

An operation is a status change of a sluice gate to a different status (open, closed, partly open; a
confirmation of the same status is recorded in the history but is not an operation), counted in the commune
of the gate. Monthly and quarterly, so the dry season's operations (Đông Xuân, Dec–Apr) can be read whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.indicators.calc import members
from cityops.places.models import Place, PlaceStatusHistory
from cityops.specs import AreaGroups, IndicatorCalculatorSpec, IndicatorSource, IndicatorSpec, Measure, Period

METHOD = "agriculture.gate_operations"
OPERATIONS = ("open", "closed", "partly_open")


def gate_operations(
    session: Session, spec: IndicatorSpec, groups: AreaGroups, start: datetime, end: datetime
) -> Mapping[int, Measure]:
    """Gate status changes in [start, end) per target area."""
    rows = session.execute(
        select(Place.area_id, func.count())
        .join(PlaceStatusHistory, PlaceStatusHistory.place_id == Place.id)
        .where(
            Place.type_code == "sluice_gate",
            PlaceStatusHistory.at >= start,
            PlaceStatusHistory.at < end,
            PlaceStatusHistory.status.in_(OPERATIONS),
            PlaceStatusHistory.previous.is_not(None),
            PlaceStatusHistory.previous != PlaceStatusHistory.status,
        )
        .group_by(Place.area_id)
    ).all()
    per_area: dict[int | None, int] = {area: int(n) for area, n in rows}
    out = {}
    for target, parts in members(groups, per_area).items():
        n = sum(parts)
        out[target] = Measure(float(n), n, float(n), None)
    return out


def touched(session: Session, event: Any) -> list[tuple[int | None, datetime]]:
    payload = getattr(event, "payload", {}) or {}
    if payload.get("type") != "sluice_gate":
        return []
    place = session.get(Place, int(payload.get("place_id", 0)))
    return [(place.area_id, place.status_at)] if place is not None and place.status_at is not None else []


INTRUSION = "agriculture.intrusion_max_km"


def intrusion_max_km(
    session: Session, spec: IndicatorSpec, groups: AreaGroups, start: datetime, end: datetime
) -> Mapping[int, Measure]:
    """The farthest daily reach of ``params["threshold"]`` g/L over [start, end), any river (km)."""
    from cityops.sectors.agriculture.intrusion import RIVERS, reach, river_stations
    from cityops.sectors.agriculture.salinity import salinity_outlook
    from cityops.sensing.models import ObservationRollup

    threshold = float(spec.params["threshold"])
    stations = salinity_outlook(session, end)
    by_ds = {s.datastream_id: s for s in stations.values() if s.datastream_id is not None}
    daily: dict[datetime, dict[str, float]] = {}
    if by_ds:
        for r in session.scalars(
            select(ObservationRollup).where(
                ObservationRollup.datastream_id.in_(by_ds),
                ObservationRollup.interval == "day",
                ObservationRollup.bucket_start >= start,
                ObservationRollup.bucket_start < end,
            )
        ):
            if r.max is not None:
                daily.setdefault(r.bucket_start, {})[by_ds[r.datastream_id].code] = r.max
    best: float | None = None
    for values in daily.values():
        for river in RIVERS:
            on = river_stations(stations, river)
            rc = reach([(s.km or 0.0, values[s.code]) for s in on if s.code in values], threshold)
            km = rc.km if rc.bound == "between" else rc.bound_km if rc.bound == "beyond" else 0.0
            if km is not None and (best is None or km > best):
                best = km
    return {target: Measure(best, len(daily)) for target in groups}


def calculators() -> list[IndicatorCalculatorSpec]:
    return [
        IndicatorCalculatorSpec(
            METHOD, IndicatorSource.PLACES, gate_operations, ("places.status_changed",), touched,
            "sluice gate status changes (operations) of the period per area",
        ),
        IndicatorCalculatorSpec(
            INTRUSION, IndicatorSource.OBSERVATIONS, intrusion_max_km, (), None,
            "the farthest daily reach of a salinity line up the rivers over the period (km from the mouth)",
        ),
    ]  # fmt: skip


def indicators() -> list[IndicatorSpec]:
    return [
        IndicatorSpec(
            code=f"agriculture.gate_operations_{period.value}",
            name_vi="Số lần vận hành cống thủy lợi",
            name_en="Sluice gate operations",
            unit="{operations}",
            direction="none",
            period=period,
            source=IndicatorSource.PLACES,
            sector="agriculture",
            method=METHOD,
            description_vi="Số lần đổi trạng thái đóng/mở của các cống thủy lợi trong kỳ, theo xã, phường.",
            description_en="Open/close status changes of the sluice gates in the period, per commune.",
            decimals=0,
            aggregation="sum",
        )
        for period in (Period.MONTH, Period.QUARTER)
    ] + [
        IndicatorSpec(
            code=f"agriculture.intrusion_{label}_km_{period.value}",
            name_vi=f"Khoảng cách xâm nhập mặn {label} g/L xa nhất (km từ cửa sông, ước tính)",
            name_en=f"Farthest intrusion of {label} g/L salinity (km from the mouth, approximate)",
            unit="km", direction="lower", period=period, source=IndicatorSource.OBSERVATIONS,
            sector="agriculture", method=INTRUSION, params={"threshold": threshold}, levels=("province",),
            description_vi="Ranh mặn xa nhất trong kỳ trên sông Vàm Cỏ Đông và Vàm Cỏ Tây, nội suy giữa các trạm.",
            description_en="The farthest salinity line of the period on the Vàm Cỏ Đông and Vàm Cỏ Tây, interpolated between stations.",
            decimals=0, aggregation="direct",
        )
        for label, threshold in (("1", 1.0), ("4", 4.0))
        for period in (Period.MONTH, Period.QUARTER)
    ]  # fmt: skip
