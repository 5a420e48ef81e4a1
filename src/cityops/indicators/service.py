"""Reading values, entering them by hand, setting targets, and judging a value against its target.

Target status: the latest value of the target's year against the target, counting the direction. Higher is
better: on track at or above the target, at risk within 5 % of it (value ≥ 95 % of the target), off track
below. Lower is better: on track at or below, at risk up to 5 % above, off track beyond. Indicators with no
direction have no status.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.areas.lineage import default_successor
from cityops.areas.models import Area
from cityops.audit.service import record
from cityops.clock import utcnow
from cityops.errors import Invalid, NotFound
from cityops.identity.models import Agency
from cityops.identity.policy import Principal
from cityops.indicators import periods
from cityops.indicators.models import Indicator, IndicatorTarget, IndicatorValue
from cityops.text import nfc

AT_RISK_MARGIN = 0.05
Status = Literal["on_track", "at_risk", "off_track"]


def get_indicator(session: Session, code: str) -> Indicator:
    row = session.get(Indicator, code)
    if row is None or not row.active:
        raise NotFound(f"No indicator {code!r}", code="unknown_indicator")
    return row


def cell_area(session: Session, area_id: int) -> Area:
    """The unit whose cells hold ``area_id``'s facts: itself when current, else its lineage successor."""
    area = session.get(Area, area_id)
    if area is None:
        raise NotFound("No such area", code="unknown_area", details={"area_id": area_id})
    if area.valid_to is None:
        return area
    return default_successor(session, area_id) or area


def cell_agency(session: Session, agency_id: int) -> Agency:
    """The agency a breakdown is asked for (404 ``unknown_agency``)."""
    agency = session.get(Agency, agency_id)
    if agency is None:
        raise NotFound("No such agency", code="unknown_agency", details={"agency_id": agency_id})
    return agency


def status_of(direction: str, value: float | None, target: float) -> Status | None:
    """on_track / at_risk / off_track by the rule in this module's docstring."""
    if value is None or direction not in ("higher", "lower"):
        return None
    margin = abs(target) * AT_RISK_MARGIN
    if direction == "higher":
        return "on_track" if value >= target else "at_risk" if value >= target - margin else "off_track"
    return "on_track" if value <= target else "at_risk" if value <= target + margin else "off_track"


def latest_in_year(session: Session, code: str, area_id: int, year: int) -> IndicatorValue | None:
    return session.scalar(
        select(IndicatorValue)
        .where(
            IndicatorValue.indicator_code == code,
            IndicatorValue.area_id == area_id,
            IndicatorValue.agency_id.is_(None),
            IndicatorValue.period_start >= date(year, 1, 1),
            IndicatorValue.period_start < date(year + 1, 1, 1),
            IndicatorValue.value.is_not(None),
        )
        .order_by(IndicatorValue.period_start.desc())
        .limit(1)
    )


@dataclass(frozen=True)
class ManualEntry:
    area_id: int
    period_start: date
    value: float
    source_document: str
    note: str = ""


def enter_value(
    session: Session,
    indicator: Indicator,
    entry: ManualEntry,
    actor: Principal,
    request: Request | None = None,
) -> IndicatorValue:
    """Store a hand-entered value (replacing the cell's previous entry), audited; the caller commits."""
    if indicator.source != "manual":
        raise Invalid(
            f"Indicator {indicator.code!r} is computed from {indicator.source}; its values cannot be entered",
            code="computed_indicator",
        )
    area = session.get(Area, entry.area_id)
    if area is None:
        raise Invalid("No such area", code="unknown_area", details={"field": "area_id"})
    if area.valid_to is not None:
        raise Invalid(
            "Values are entered for today's units", code="former_area", details={"field": "area_id"}
        )
    if area.level not in indicator.levels:
        raise Invalid(
            f"{indicator.code} is kept for {', '.join(indicator.levels)}, not {area.level}",
            code="wrong_level",
            details={"field": "area_id"},
        )
    if periods.start_of(entry.period_start, indicator.period) != entry.period_start:
        raise Invalid(
            f"period_start must be the first day of a {indicator.period}",
            code="bad_period",
            details={"field": "period_start"},
        )
    document = nfc(entry.source_document).strip()
    if not document:
        raise Invalid(
            "A hand-entered value names its source document",
            code="missing_source",
            details={"field": "source_document"},
        )
    row = session.scalar(
        select(IndicatorValue).where(
            IndicatorValue.indicator_code == indicator.code,
            IndicatorValue.area_id == area.id,
            IndicatorValue.period_start == entry.period_start,
            IndicatorValue.agency_id.is_(None),
        )
    )
    before = _snapshot(row) if row is not None else None
    if row is None:
        row = IndicatorValue(indicator_code=indicator.code, area_id=area.id, period_start=entry.period_start)
        session.add(row)
    row.value, row.numerator, row.denominator, row.inputs = entry.value, None, None, 1
    row.origin, row.method, row.computed_at, row.stale = "manual", "", utcnow(), False
    row.entered_by = actor.user_id
    row.source_document, row.note = document, nfc(entry.note)
    session.flush()
    record(session, actor, "indicator.value", "indicator_value", row.id, before, _snapshot(row), request)
    return row


def set_target(
    session: Session,
    indicator: Indicator,
    area_id: int,
    year: int,
    value: float,
    note: str,
    actor: Principal | None,
    request: Request | None = None,
    *,
    demo: bool = False,
) -> IndicatorTarget:
    """Create or replace the target of (indicator, area, year), audited; the caller commits."""
    area = session.get(Area, area_id)
    if area is None:
        raise Invalid("No such area", code="unknown_area", details={"field": "area_id"})
    if area.level not in indicator.levels or area.valid_to is not None:
        raise Invalid(
            f"Targets of {indicator.code} are set for today's {', '.join(indicator.levels)} units",
            code="wrong_level",
            details={"field": "area_id"},
        )
    row = session.scalar(
        select(IndicatorTarget).where(
            IndicatorTarget.indicator_code == indicator.code,
            IndicatorTarget.area_id == area_id,
            IndicatorTarget.year == year,
        )
    )
    before = {"value": row.value, "note": row.note} if row is not None else None
    if row is None:
        row = IndicatorTarget(indicator_code=indicator.code, area_id=area_id, year=year)
        session.add(row)
    row.value, row.note, row.set_at, row.demo = value, nfc(note), utcnow(), demo
    row.set_by = actor.user_id if actor is not None else None
    session.flush()
    record(
        session, actor, "indicator.target", "indicator_target", row.id, before,
        {"indicator": indicator.code, "area_id": area_id, "year": year, "value": value, "note": row.note},
        request, label=None if actor is not None else "system",
    )  # fmt: skip
    return row


def _snapshot(row: IndicatorValue) -> dict[str, object]:
    return {
        "indicator": row.indicator_code,
        "area_id": row.area_id,
        "period_start": row.period_start.isoformat(),
        "value": row.value,
        "origin": row.origin,
        "source_document": row.source_document,
        "note": row.note,
    }
