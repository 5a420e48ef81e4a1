"""Agriculture's indicators: sluice gate operations per period.

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


def calculators() -> list[IndicatorCalculatorSpec]:
    return [
        IndicatorCalculatorSpec(
            METHOD, IndicatorSource.PLACES, gate_operations, ("places.status_changed",), touched,
            "sluice gate status changes (operations) of the period per area",
        )
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
    ]
